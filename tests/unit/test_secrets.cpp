// Passwords, API keys, minting, hashing and constant-time comparison.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "shortcred/ids.hpp"
#include "shortcred/secrets.hpp"

using namespace shortcred;
using namespace std::string_literals;

namespace {

const std::string kId = "0123456789abcdef";
const std::string kSecret = "ABCDEFGHIJabcdefghij0123456789KLMNOPQRST";
const std::string kPassword = "tkn_" + kId + "_" + kSecret;
const std::string kApiKey = "sk_" + kId + "_" + kSecret;

// Yields 0, 1, 2, … 255, 0, … across calls: deterministic, and every byte
// value equally often.
RandomSource counting_source(unsigned char start = 0) {
  return [next = start](std::span<unsigned char> out) mutable {
    for (auto& b : out) b = next++;
  };
}

bool is_lower_alnum(const std::string& s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'); });
}

bool is_base62(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  });
}

}  // namespace

TEST_CASE("a well-formed password parses into its token id and secret", "[secrets]") {
  REQUIRE(kPassword.size() == kPasswordLen);
  SecretParts parts;
  REQUIRE(parse_password(kPassword, parts) == Errc::ok);
  CHECK(parts.id == kId);
  CHECK(parts.secret == kSecret);
}

TEST_CASE("a well-formed API key parses into its key id and secret", "[secrets]") {
  REQUIRE(kApiKey.size() == kApiKeyLen);
  SecretParts parts;
  REQUIRE(parse_api_key(kApiKey, parts) == Errc::ok);
  CHECK(parts.id == kId);
  CHECK(parts.secret == kSecret);
}

TEST_CASE("malformed passwords are refused with the reason", "[secrets]") {
  struct Case {
    const char* what;
    std::string password;
    Errc expected;
  };
  const Case cases[] = {
      {"empty", "", Errc::empty},
      {"API key prefix", "sk_" + kId + "_" + kSecret, Errc::bad_prefix},
      {"upper-case prefix", "TKN_" + kId + "_" + kSecret, Errc::bad_prefix},
      {"prefix without underscore", "tkn" + kId + "_" + kSecret, Errc::bad_prefix},
      {"no separator", "tkn_" + kId + kSecret, Errc::bad_format},
      {"prefix only", "tkn_", Errc::bad_format},
      {"id one short", "tkn_" + kId.substr(1) + "_" + kSecret, Errc::bad_length},
      {"id one long", "tkn_" + kId + "0_" + kSecret, Errc::bad_length},
      {"secret one short", "tkn_" + kId + "_" + kSecret.substr(1), Errc::bad_length},
      {"secret one long", "tkn_" + kId + "_" + kSecret + "A", Errc::bad_length},
      {"underscore shifted left", "tkn_" + kId.substr(0, 15) + "_" + kId.substr(15) + kSecret,
       Errc::bad_length},
      {"double underscore", "tkn__" + kId + kSecret, Errc::bad_length},
      {"extra underscore in secret",
       "tkn_" + kId + "_" + kSecret.substr(0, 20) + "_" + kSecret.substr(21), Errc::bad_char},
      {"upper case in id", "tkn_" + kId.substr(0, 15) + "F_" + kSecret, Errc::bad_char},
      {"dash in id", "tkn_" + kId.substr(0, 15) + "-_" + kSecret, Errc::bad_char},
      {"plus in secret", "tkn_" + kId + "_" + kSecret.substr(0, 39) + "+", Errc::bad_char},
      {"slash in secret", "tkn_" + kId + "_/" + kSecret.substr(1), Errc::bad_char},
      {"space in secret", "tkn_" + kId + "_" + kSecret.substr(0, 39) + " ", Errc::bad_char},
      {"NUL in secret", "tkn_" + kId + "_" + kSecret.substr(0, 39) + '\0', Errc::bad_char},
      {"non-ASCII in secret", "tkn_" + kId + "_" + kSecret.substr(0, 39) + "\xe9", Errc::bad_char},
      {"trailing newline", kPassword + "\n", Errc::bad_length},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    SecretParts parts{"untouched", "untouched"};
    CHECK(parse_password(c.password, parts) == c.expected);
    CHECK(parts.id == "untouched");
  }
}

TEST_CASE("malformed API keys are refused with the reason", "[secrets]") {
  struct Case {
    const char* what;
    std::string key;
    Errc expected;
  };
  const Case cases[] = {
      {"empty", "", Errc::empty},
      {"password prefix", "tkn_" + kId + "_" + kSecret, Errc::bad_prefix},
      {"id one short", "sk_" + kId.substr(1) + "_" + kSecret, Errc::bad_length},
      {"secret one long", "sk_" + kId + "_" + kSecret + "x", Errc::bad_length},
      {"no separator", "sk_" + kId + kSecret, Errc::bad_format},
      {"upper case in id", "sk_A" + kId.substr(1) + "_" + kSecret, Errc::bad_char},
      {"non-base62 in secret", "sk_" + kId + "_" + kSecret.substr(0, 39) + "=", Errc::bad_char},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    SecretParts parts;
    CHECK(parse_api_key(c.key, parts) == c.expected);
  }
}

TEST_CASE("token ids are exactly 16 chars of [0-9a-z]", "[secrets]") {
  CHECK(validate_token_id(kId) == Errc::ok);
  CHECK(validate_token_id("") == Errc::empty);
  CHECK(validate_token_id(kId.substr(1)) == Errc::bad_length);
  CHECK(validate_token_id(kId + "0") == Errc::bad_length);
  CHECK(validate_token_id("0123456789abcdeF") == Errc::bad_char);
  CHECK(validate_token_id("0123456789abcde_") == Errc::bad_char);
}

TEST_CASE("minted passwords have the wire format and parse back", "[secrets]") {
  const Minted m = mint_password(counting_source());
  CHECK(m.full.size() == kPasswordLen);
  CHECK(m.full.starts_with("tkn_"));
  CHECK(m.id.size() == kIdLen);
  CHECK(is_lower_alnum(m.id));

  SecretParts parts;
  REQUIRE(parse_password(m.full, parts) == Errc::ok);
  CHECK(parts.id == m.id);
  CHECK(is_base62(std::string(parts.secret)));
  CHECK(m.sha256_hex == sha256_hex(parts.secret));
  CHECK(verify_secret(parts.secret, m.sha256_hex));
}

TEST_CASE("minted API keys have the wire format and parse back", "[secrets]") {
  const Minted m = mint_api_key(counting_source(7));
  CHECK(m.full.size() == kApiKeyLen);
  SecretParts parts;
  REQUIRE(parse_api_key(m.full, parts) == Errc::ok);
  CHECK(parts.id == m.id);
  CHECK(verify_secret(parts.secret, m.sha256_hex));
}

TEST_CASE("verify_secret refuses another secret, an upper-case or truncated digest", "[secrets]") {
  const Minted m = mint_password(counting_source());
  SecretParts parts;
  REQUIRE(parse_password(m.full, parts) == Errc::ok);
  std::string other(parts.secret);
  other[0] = other[0] == 'A' ? 'B' : 'A';
  CHECK_FALSE(verify_secret(other, m.sha256_hex));
  std::string upper = m.sha256_hex;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  CHECK_FALSE(verify_secret(parts.secret, upper));
  CHECK_FALSE(verify_secret(parts.secret, m.sha256_hex.substr(0, 63)));
  CHECK_FALSE(verify_secret(parts.secret, ""));
}

TEST_CASE("minting with the same deterministic source is reproducible", "[secrets]") {
  CHECK(mint_password(counting_source(3)).full == mint_password(counting_source(3)).full);
  CHECK(mint_password(counting_source(3)).full != mint_password(counting_source(4)).full);
}

TEST_CASE("OpenSSL-backed minting yields distinct valid credentials", "[secrets]") {
  const RandomSource rnd = openssl_random();
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const Minted m = mint_password(rnd);
    SecretParts parts;
    REQUIRE(parse_password(m.full, parts) == Errc::ok);
    seen.insert(m.full);
  }
  CHECK(seen.size() == 100);
}

TEST_CASE("random strings draw each symbol equally often from evenly spread bytes", "[secrets]") {
  // 248 = 4 * 62 accepted byte values and 252 = 7 * 36: feeding every byte
  // once must yield every symbol exactly 4 (resp. 7) times. Modulo bias
  // without rejection would make the first symbols more frequent.
  SECTION("base62") {
    const std::string s = random_base62(counting_source(), 248);
    std::map<char, int> counts;
    for (char c : s) ++counts[c];
    CHECK(counts.size() == 62);
    CHECK(std::all_of(counts.begin(), counts.end(), [](auto& kv) { return kv.second == 4; }));
  }
  SECTION("lower alnum") {
    const std::string s = random_lower_alnum(counting_source(), 252);
    std::map<char, int> counts;
    for (char c : s) ++counts[c];
    CHECK(counts.size() == 36);
    CHECK(std::all_of(counts.begin(), counts.end(), [](auto& kv) { return kv.second == 7; }));
  }
}

TEST_CASE("bytes above the last full multiple of the alphabet are rejected", "[secrets]") {
  // Starting at 248, the first eight bytes (248..255) must be skipped.
  CHECK(random_base62(counting_source(248), 3) == "012");
  CHECK(random_lower_alnum(counting_source(252), 3) == "012");
}

TEST_CASE("a random source that never yields a usable byte throws instead of spinning",
          "[secrets]") {
  const RandomSource stuck = [](std::span<unsigned char> out) {
    std::fill(out.begin(), out.end(), 0xff);
  };
  CHECK_THROWS_AS(random_base62(stuck, 1), std::runtime_error);
}

TEST_CASE("random strings can be empty or longer than one batch", "[secrets]") {
  CHECK(random_base62(counting_source(), 0).empty());
  const std::string s = random_base62(openssl_random(), 1000);
  CHECK(s.size() == 1000);
  CHECK(is_base62(s));
}

TEST_CASE("generated org ids are org_ plus 12 lower-case alphanumerics", "[secrets]") {
  const std::string org = generate_org_id(openssl_random());
  CHECK(org.size() == 16);
  CHECK(org.starts_with("org_"));
  CHECK(is_lower_alnum(org.substr(4)));
  CHECK(validate_org_id(org) == Errc::ok);
}

TEST_CASE("sha256_hex matches the FIPS 180 test vectors in lower case", "[secrets]") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(sha256_hex("a\0b"s) != sha256_hex("a"));  // embedded NULs are hashed too
}

TEST_CASE("constant_time_equal compares length and every byte", "[secrets]") {
  CHECK(constant_time_equal("", ""));
  CHECK(constant_time_equal("abc", "abc"));
  CHECK_FALSE(constant_time_equal("abc", "abd"));
  CHECK_FALSE(constant_time_equal("abc", "xbc"));
  CHECK_FALSE(constant_time_equal("abc", "abcd"));
  CHECK_FALSE(constant_time_equal("abcd", "abc"));
  CHECK_FALSE(constant_time_equal("", "a"));
  CHECK(constant_time_equal("a\0b"s, "a\0b"s));
  CHECK_FALSE(constant_time_equal("a\0b"s, "a\0c"s));
}
