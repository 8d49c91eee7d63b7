// The org hash: create, list, show, set numeric limits, disable, delete.
// Every change is audited in the org's stream, with the operator.
#pragma once

#include <string>
#include <vector>

#include "shortcred/redis/client.hpp"
#include "shortcred/schema.hpp"
#include "shortcred/tokens/status.hpp"
#include "shortcred/tokens/store.hpp"

namespace shortcred::tokens {

// Refuses (Code::forbidden) an id that already exists. Audited (org_create).
Status create_org(redis::Client& c, const std::string& prefix, const std::string& org,
                  const std::string& name, const AuditInfo& who, std::string& created_at);

// The raw hash fields; Code::not_found when absent.
Status show_org(redis::Client& c, const std::string& prefix, const std::string& org,
                Fields& out);

struct OrgSummary {
  std::string org;
  Fields fields;  // the org hash
};
// Every org of the prefix (SCAN for `<prefix>{*}:org`), sorted by id.
Status list_orgs(redis::Client& c, const std::string& prefix, std::vector<OrgSummary>& out);

// `fields` were validated by the caller (numeric fields, `name`, `disabled`
// 0|1). Audited with each field's old and new value (`changes`: `pub_rate
// 100 → 500, max_ttl (unset) → 7200`): `disabled` as org_disable /
// org_enable, the other fields as org_set. disabled=1 also publishes `org
// <org>` so brokers disconnect its clients, and then waits for `durability`
// (WAIT), as a revocation does: Code::not_replicated when fewer replicas
// confirm in time (the disable stands on the master), so an acknowledged
// disable is not undone by a failover, whichever command set it.
Status set_org(redis::Client& c, const std::string& prefix, const std::string& org,
               const Fields& fields, const AuditInfo& who, const Durability& durability);

// Deletes the org hash, its API key set and its identity providers (named
// in the audit entry's `removed_idps`). While the org still has
// credentials or API keys it is refused (Code::forbidden, the counts named)
// unless `force`: then every API key is revoked and every credential too
// (each audited as usual) first. The org_delete entry and `PUBLISH org <org>`
// go with the deletion; the audit stream stays (MAXLEN-capped) so the trail
// of a deleted org can still be read.
struct OrgDeleted {
  std::int64_t credentials = 0;  // revoked (force)
  std::int64_t api_keys = 0;     // revoked (force)
  std::vector<std::string> idps;  // identity providers removed
};
Status delete_org(redis::Client& c, const std::string& prefix, const std::string& org,
                  bool force, const AuditInfo& who, OrgDeleted& out);

}  // namespace shortcred::tokens
