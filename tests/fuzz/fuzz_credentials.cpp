// Feeds arbitrary bytes to every parser that sees untrusted input before a
// credential is checked (CONNECT username/password, API keys, revocation
// messages, timestamps, the redis_url option) and checks that whatever
// parses is exactly what the input said.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "shortcred/ids.hpp"
#include "shortcred/redis_url.hpp"
#include "shortcred/schema.hpp"
#include "shortcred/secrets.hpp"
#include "shortcred/time.hpp"

using namespace shortcred;

namespace {

// Not assert(): the fuzz build is RelWithDebInfo, where NDEBUG removes it.
void check(bool ok) {
  if (!ok) std::abort();
}

void secret_reassembles(std::string_view in, std::string_view prefix, Errc e,
                        const SecretParts& p) {
  if (e != Errc::ok) return;
  check(in.size() == prefix.size() + kIdLen + 1 + kSecretLen);
  check(p.id.size() == kIdLen && p.secret.size() == kSecretLen);
  check(validate_token_id(p.id) == Errc::ok);
  check(std::string(prefix) + std::string(p.id) + "_" + std::string(p.secret) == in);
  check(p.id.data() == in.data() + prefix.size());  // views into the input, no copies
}

void fuzz_username(std::string_view in) {
  Username u;
  if (parse_username(in, u) != Errc::ok) return;
  check(validate_user_id(u.user) == Errc::ok && validate_org_id(u.org) == Errc::ok);
  check(u.org.find('@') == std::string_view::npos);  // split on the last `@`
  check(std::string(u.user) + "@" + std::string(u.org) == in);
}

void fuzz_revocation(std::string_view in) {
  const auto r = parse_revocation(in);
  if (!r) return;
  check(validate_org_id(r->org) == Errc::ok);
  check(format_revocation(*r) == in);  // strict parse: only canonical text passes
}

void fuzz_time(std::string_view in) {
  std::int64_t t = 0;
  if (parse_rfc3339(in, t) != Errc::ok) return;
  std::int64_t back = 0;
  check(parse_rfc3339(format_rfc3339(t), back) == Errc::ok && back == t);
}

void fuzz_redis_url(std::string_view in) {
  RedisEndpoint ep;
  if (parse_redis_url(in, ep) != Errc::ok) return;
  if (ep.kind != RedisEndpoint::Kind::single) {
    check(!ep.nodes.empty());
    for (const auto& n : ep.nodes) check(!n.host.empty() && n.port >= 1 && n.port <= 65535);
  } else if (ep.unix_path.empty()) {
    check(!ep.host.empty() && ep.port >= 1 && ep.port <= 65535);
  } else {
    check(ep.unix_path.front() == '/');
  }
  check(ep.db >= 0);
  // A redacted URL parses again: the same form, without the passwords.
  RedisEndpoint again;
  check(parse_redis_url(ep.redacted(), again) == Errc::ok && again.kind == ep.kind);
}

void fuzz_u64(std::string_view in) {
  std::uint64_t v = 0;
  if (!parse_u64(in, v)) return;
  const auto first = in.find_first_not_of('0');
  check(std::to_string(v) == (first == std::string_view::npos ? "0" : in.substr(first)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  SecretParts p;
  secret_reassembles(in, kTokenPrefix, parse_password(in, p), p);
  secret_reassembles(in, kApiKeyPrefix, parse_api_key(in, p), p);
  (void)validate_org_id(in);
  (void)validate_user_id(in);
  fuzz_username(in);
  fuzz_revocation(in);
  fuzz_time(in);
  fuzz_redis_url(in);
  fuzz_u64(in);
  return 0;
}
