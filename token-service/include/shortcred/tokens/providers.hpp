// An org's identity providers in Redis (jose/provider.hpp has the schema),
// for shortcredctl idp. Every change is one MULTI/EXEC with its audit entry
// (`idp_set` with the changed fields, `idp_remove`), under WATCH of the
// org's provider set so two operators cannot give two providers one issuer.
#pragma once

#include <string>
#include <vector>

#include "shortcred/jose/provider.hpp"
#include "shortcred/redis/client.hpp"
#include "shortcred/tokens/status.hpp"
#include "shortcred/tokens/store.hpp"

namespace shortcred::tokens {

// The most providers one org may have (the exchange reads them all).
inline constexpr std::size_t kMaxProvidersPerOrg = 32;

// Code::not_found when the org or the provider does not exist. A stored
// hash that no longer validates is still returned (`why` says what is wrong)
// so an operator can see and fix it.
Status get_provider(redis::Client& c, const std::string& prefix, const std::string& org,
                    const std::string& name, Fields& fields);
Status list_providers(redis::Client& c, const std::string& prefix, const std::string& org,
                      std::vector<std::pair<std::string, Fields>>& out);
// Writes a validated provider whole (fields it no longer has are removed).
// Refused (Code::invalid) when another provider of the org has the same
// issuer, or the org already has kMaxProvidersPerOrg others.
Status put_provider(redis::Client& c, const std::string& prefix, const std::string& org,
                    const jose::Provider& p, const AuditInfo& who);
Status remove_provider(redis::Client& c, const std::string& prefix, const std::string& org,
                       const std::string& name, const AuditInfo& who);

}  // namespace shortcred::tokens
