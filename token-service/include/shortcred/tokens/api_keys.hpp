// Organisation API keys (`sk_<key id>_<secret>`): creation, listing,
// revocation, the per-request check of the service, and its `last_used_at`
// field. No cache: a revoked key is refused on the very next request.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "shortcred/redis/client.hpp"
#include "shortcred/secrets.hpp"
#include "shortcred/tokens/status.hpp"
#include "shortcred/tokens/store.hpp"

namespace shortcred::tokens {

struct ApiKeyInfo {
  std::string key_id;
  std::string org;
  std::string name;
  std::string created_at;  // RFC 3339
  // RFC 3339, the service's last authenticated request with this key, to
  // within a minute (touch_api_key); empty: never used since it was created.
  std::string last_used_at;
};

// Creates a key for an existing org (Code::not_found otherwise). `api_key`
// is the full `sk_…` text, to be shown once.
Status create_api_key(redis::Client& c, const std::string& prefix, const std::string& org,
                      const std::string& name, const RandomSource& rnd, const AuditInfo& who,
                      ApiKeyInfo& info, std::string& api_key);
Status list_api_keys(redis::Client& c, const std::string& prefix, const std::string& org,
                     std::vector<ApiKeyInfo>& out);
Status revoke_api_key(redis::Client& c, const std::string& prefix, const std::string& key_id,
                      const AuditInfo& who);
// revoke_api_key, then every live credential of the key's org that this key
// issued (its `apikey` field; found by SCAN of the org's cred keys, so also
// one in no index), each revoked and audited like `token revoke`. A key
// revoked before (`key_was_live` false) has no org left to read: then
// `org_hint` names it (Code::not_found without one, or when that org does
// not exist), and only the credentials are revoked. A live key of another
// org than a non-empty `org_hint` is Code::forbidden, nothing revoked.
// `org` is the org walked; `revoked` counts the credentials.
Status revoke_api_key_and_credentials(redis::Client& c, const std::string& prefix,
                                      const std::string& key_id, const AuditInfo& who,
                                      const std::string& org_hint, std::string& org,
                                      std::int64_t& revoked, bool& key_was_live);

// unavailable: the connection failed; busy: Redis answered "cannot serve
// now" (LOADING, BUSY, OOM…, see transient_error); backend_error: any other
// error reply (WRONGTYPE…) or an unexpected reply type. None of them ever
// means "unknown key".
enum class AuthResult { ok, malformed, unknown, unavailable, busy, backend_error };
// Parses `sk_…` (garbage never reaches Redis), HGETALL the key hash, compares
// the secret's SHA-256 in constant time. `out.last_used_at` is the stored one.
AuthResult authenticate(redis::Client& c, const std::string& prefix, std::string_view api_key,
                        ApiKeyInfo& out);

// last_used_at is written at most once per key per minute: due when the
// stored value (`last_used_at`, RFC 3339 or empty) is 60 s or more before
// `now_s`, or is missing or unreadable.
inline constexpr std::int64_t kLastUsedResolutionS = 60;
bool last_used_due(const std::string& last_used_at, std::int64_t now_s);
// Sets last_used_at to `now_s` if it still holds `seen` (what authenticate
// read, empty if none; another process may have written since) and the key
// still exists (a key revoked since it was checked is not recreated): one
// EVAL, atomic. `written` says whether it wrote.
Status touch_api_key(redis::Client& c, const std::string& prefix, const std::string& key_id,
                     const std::string& seen, std::int64_t now_s, bool& written);

}  // namespace shortcred::tokens
