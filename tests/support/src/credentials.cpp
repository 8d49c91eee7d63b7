#include "support/credentials.hpp"

#include "shortcred/schema.hpp"
#include "shortcred/secrets.hpp"

namespace support {

std::vector<Account> write_credentials(shortcred::redis::Connection& c, const std::string& org,
                                       int n, const std::string& user_prefix,
                                       std::chrono::milliseconds ttl) {
  constexpr int kPerTrip = 500;
  std::vector<Account> out;
  out.reserve(static_cast<std::size_t>(n));
  c.command({"HSETNX", shortcred::org_key(shortcred::kDefaultKeyPrefix, org), "name", org});
  const auto rnd = shortcred::openssl_random();
  const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  for (int i = 0; i < n; ++i) {
    const auto m = shortcred::mint_password(rnd);
    shortcred::CredentialRecord r;
    r.user = user_prefix + std::to_string(i);
    r.secret_sha256 = m.sha256_hex;
    r.issued_at_ms = now;
    r.expires_at_ms = now + ttl.count();
    std::vector<std::string> argv{"HSET",
                                  shortcred::cred_key(shortcred::kDefaultKeyPrefix, org, m.id)};
    for (auto& [k, v] : shortcred::to_fields(r)) {
      argv.push_back(k);
      argv.push_back(v);
    }
    c.append(argv);
    out.push_back({r.user + "@" + org, m.full});
    if (i % kPerTrip == kPerTrip - 1 || i == n - 1) {
      for (int j = i - (i % kPerTrip); j <= i; ++j) c.read_reply();
    }
  }
  return out;
}

}  // namespace support
