// The org hash: create, show, set numeric limits, disable.
#pragma once

#include <string>

#include "shortcred/redis/connection.hpp"
#include "shortcred/schema.hpp"
#include "shortcred/tokens/status.hpp"
#include "shortcred/tokens/store.hpp"

namespace shortcred::tokens {

// Refuses (Code::forbidden) an id that already exists.
Status create_org(redis::Connection& c, const std::string& prefix, const std::string& org,
                  const std::string& name, std::string& created_at);
// The raw hash fields; Code::not_found when absent.
Status show_org(redis::Connection& c, const std::string& prefix, const std::string& org,
                Fields& out);
// `fields` were validated by the caller (numeric fields, `name`, `disabled`
// 0|1). `disabled` is audited (org_disable / org_enable); disabled=1 also
// publishes `org <org>` so brokers disconnect its clients.
Status set_org(redis::Connection& c, const std::string& prefix, const std::string& org,
               const Fields& fields, const AuditInfo& who);
// set_org with disabled=1.
Status disable_org(redis::Connection& c, const std::string& prefix, const std::string& org,
                   const AuditInfo& who);

}  // namespace shortcred::tokens
