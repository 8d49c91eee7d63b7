// Redis key names, revocation messages and the cred / org hashes.
#include <algorithm>
#include <catch2/catch.hpp>
#include <string>

#include "shortcred/schema.hpp"

using namespace shortcred;
using namespace std::string_literals;

namespace {

const std::string kP(kDefaultKeyPrefix);
const std::string kToken = "0123456789abcdef";
const std::string kSha = std::string(32, 'a') + std::string(32, '0');

CredentialRecord full_record() {
  CredentialRecord c;
  c.user = "alice@example.com";
  c.secret_sha256 = kSha;
  c.issued_at_ms = 1'795'800'000'000;
  c.expires_at_ms = 1'795'803'600'123;
  c.scope = {"read %o/shared/#", "write %o/users/%u/out max_qos=1"};
  c.client_id = "org_x/alice/phone";
  c.apikey = "fedcba9876543210";
  return c;
}

Fields required_fields() {
  return {
      {"user", "alice"}, {"secret_sha256", kSha}, {"issued_at", "1000"}, {"expires_at", "2000"}};
}

Fields without(Fields f, const std::string& name) {
  std::erase_if(f, [&](const auto& kv) { return kv.first == name; });
  return f;
}

Fields with(Fields f, const std::string& name, const std::string& value) {
  for (auto& kv : f) {
    if (kv.first == name) kv.second = value;
  }
  return f;
}

}  // namespace

TEST_CASE("key names carry the prefix and the org hash tag", "[schema]") {
  CHECK(cred_key(kP, "org_x", kToken) == "shortcred:{org_x}:cred:0123456789abcdef");
  CHECK(user_index_key(kP, "org_x", "a@b.c") == "shortcred:{org_x}:user:a@b.c");
  CHECK(org_key(kP, "org_x") == "shortcred:{org_x}:org");
  CHECK(org_apikeys_key(kP, "org_x") == "shortcred:{org_x}:apikeys");
  CHECK(apikey_key(kP, "fedcba9876543210") == "shortcred:apikey:fedcba9876543210");
  CHECK(audit_key(kP, "org_x") == "shortcred:{org_x}:audit");
  CHECK(revoked_channel(kP) == "shortcred:revoked");
}

TEST_CASE("key names honour a custom or empty prefix", "[schema]") {
  CHECK(cred_key("t1:", "o", kToken) == "t1:{o}:cred:0123456789abcdef");
  CHECK(org_key("", "o") == "{o}:org");
  CHECK(revoked_channel("") == "revoked");
  CHECK(apikey_key("x:", "k") == "x:apikey:k");
}

TEST_CASE("revocation messages round-trip", "[schema]") {
  const Revocation cases[] = {
      {Revocation::Kind::token, "org_x", kToken},
      {Revocation::Kind::user, "org_x", "alice@example.com"},
      {Revocation::Kind::org, "org_x", ""},
  };
  const char* const texts[] = {"token org_x 0123456789abcdef", "user org_x alice@example.com",
                               "org org_x"};
  for (std::size_t i = 0; i < std::size(cases); ++i) {
    CAPTURE(texts[i]);
    CHECK(format_revocation(cases[i]) == texts[i]);
    const auto back = parse_revocation(texts[i]);
    REQUIRE(back.has_value());
    CHECK(back->kind == cases[i].kind);
    CHECK(back->org == cases[i].org);
    CHECK(back->subject == cases[i].subject);
  }
}

TEST_CASE("malformed revocation messages are ignored", "[schema]") {
  const std::string rejects[] = {
      "",
      "org",
      "org ",
      "org org_x ",
      "org org_x extra",
      "org  org_x",
      "token org_x",
      "token org_x ",
      "token org_x 0123456789ABCDEF",
      "token org_x 0123456789abcde",
      "token org_x 0123456789abcdef extra",
      "token  org_x 0123456789abcdef",
      "token org/x 0123456789abcdef",
      "user org_x",
      "user org_x al/ice",
      "user org_x al+ice",
      "user org_x " + std::string(129, 'u'),
      "user " + std::string(65, 'o') + " alice",
      "TOKEN org_x 0123456789abcdef",
      "tokens org_x 0123456789abcdef",
      "user\torg_x\talice",
      "user org_x alice\n",
      "org org_x\0"s,
  };
  for (const auto& msg : rejects) {
    CAPTURE(msg);
    CHECK_FALSE(parse_revocation(msg).has_value());
  }
}

TEST_CASE("a credential record round-trips through its hash fields", "[schema]") {
  const CredentialRecord c = full_record();
  const Fields f = to_fields(c);
  const Fields expected = {{"user", "alice@example.com"},
                           {"secret_sha256", kSha},
                           {"issued_at", "1795800000000"},
                           {"expires_at", "1795803600123"},
                           {"scope", "read %o/shared/#\nwrite %o/users/%u/out max_qos=1"},
                           {"client_id", "org_x/alice/phone"},
                           {"apikey", "fedcba9876543210"}};
  CHECK(f == expected);
  const auto back = credential_from_fields(f);
  REQUIRE(back.has_value());
  CHECK(back->user == c.user);
  CHECK(back->secret_sha256 == c.secret_sha256);
  CHECK(back->issued_at_ms == c.issued_at_ms);
  CHECK(back->expires_at_ms == c.expires_at_ms);
  CHECK(back->scope == c.scope);
  CHECK(back->client_id == c.client_id);
  CHECK(back->apikey == c.apikey);
}

TEST_CASE("empty optional credential fields are omitted and read back empty", "[schema]") {
  CredentialRecord c = full_record();
  c.scope.clear();
  c.client_id.clear();
  c.apikey.clear();
  const Fields f = to_fields(c);
  CHECK(f.size() == 4);
  const auto back = credential_from_fields(f);
  REQUIRE(back.has_value());
  CHECK(back->scope.empty());
  CHECK(back->client_id.empty());
  CHECK(back->apikey.empty());
}

TEST_CASE("a one-rule scope is stored without a newline", "[schema]") {
  CredentialRecord c = full_record();
  c.scope = {"read a/#"};
  const auto back = credential_from_fields(to_fields(c));
  REQUIRE(back.has_value());
  CHECK(back->scope == std::vector<std::string>{"read a/#"});
}

TEST_CASE("field order and unknown fields do not matter when reading", "[schema]") {
  Fields f = required_fields();
  std::reverse(f.begin(), f.end());
  f.emplace_back("future_field", "whatever");
  const auto c = credential_from_fields(f);
  REQUIRE(c.has_value());
  CHECK(c->user == "alice");
  CHECK(c->issued_at_ms == 1000);
  CHECK(c->expires_at_ms == 2000);
}

TEST_CASE("a credential missing or with a malformed required field is refused", "[schema]") {
  REQUIRE(credential_from_fields(required_fields()).has_value());
  for (const char* name : {"user", "secret_sha256", "issued_at", "expires_at"}) {
    CAPTURE(name);
    CHECK_FALSE(credential_from_fields(without(required_fields(), name)).has_value());
  }
  struct Case {
    const char* name;
    std::string value;
  };
  const Case bad[] = {
      {"user", ""},
      {"user", "al/ice"},
      {"user", std::string(129, 'u')},
      {"secret_sha256", ""},
      {"secret_sha256", kSha.substr(1)},
      {"secret_sha256", kSha + "0"},
      {"secret_sha256", std::string(64, 'A')},  // stored digests are lower case
      {"secret_sha256", std::string(64, 'g')},
      {"issued_at", ""},
      {"issued_at", "-1"},
      {"issued_at", "1.5"},
      {"expires_at", " 2000"},
      {"expires_at", "2000ms"},
      {"expires_at", "9223372036854775808"},  // INT64_MAX + 1
      {"expires_at", "18446744073709551616"},
  };
  for (const auto& c : bad) {
    CAPTURE(c.name, c.value);
    CHECK_FALSE(credential_from_fields(with(required_fields(), c.name, c.value)).has_value());
  }
  CHECK(credential_from_fields(with(required_fields(), "expires_at", "9223372036854775807"))
            ->expires_at_ms == 9'223'372'036'854'775'807);
}

TEST_CASE("an org hash reads into its record and absent fields stay unset", "[schema]") {
  const OrgRecord empty = org_from_fields({});
  CHECK(empty.name.empty());
  CHECK_FALSE(empty.disabled);
  CHECK_FALSE(empty.default_ttl.has_value());
  CHECK_FALSE(empty.user_max_connections.has_value());

  const Fields f = {{"name", "Acme"},        {"created_at", "2026-11-27T18:41:07Z"},
                    {"disabled", "1"},       {"default_ttl", "600"},
                    {"max_ttl", "7200"},     {"pub_rate", "500"},
                    {"pub_burst", "1000"},   {"max_connections", "50"},
                    {"user_pub_rate", "5"},  {"user_max_connections", "0"},
                    {"max_tokens_per_user", "20"}, {"unrelated", "ignored"}};
  const OrgRecord o = org_from_fields(f);
  CHECK(o.name == "Acme");
  CHECK(o.created_at == "2026-11-27T18:41:07Z");
  CHECK(o.disabled);
  CHECK(o.default_ttl == 600);
  CHECK(o.max_ttl == 7200);
  CHECK(o.pub_rate == 500);
  CHECK(o.pub_burst == 1000);
  CHECK(o.max_connections == 50);
  CHECK(o.user_pub_rate == 5);
  CHECK(o.user_max_connections == 0);
  CHECK(o.max_tokens_per_user == 20);
}

TEST_CASE("the org field disabled reads the usual on/off spellings", "[schema]") {
  for (const char* v : {"1", "true", "TRUE", "yes", "Yes", "on", "ON", " 1", "1 ", "\ttrue "}) {
    CAPTURE(v);
    const OrgRecord o = org_from_fields({{"disabled", v}});
    CHECK(o.disabled);
    CHECK_FALSE(o.disabled_unrecognised);
  }
  for (const char* v : {"0", "", "false", "False", "no", "NO", "off", "Off", " 0 ", "   "}) {
    CAPTURE(v);
    const OrgRecord o = org_from_fields({{"disabled", v}});
    CHECK_FALSE(o.disabled);
    CHECK_FALSE(o.disabled_unrecognised);
  }
}

TEST_CASE("an unrecognised disabled value fails closed and is flagged", "[schema]") {
  for (const char* v : {"01", "00", "2", "11", "y", "n", "enabled", "disabled", "true1", "-1",
                        "1\n", "tru e"}) {
    CAPTURE(v);
    const OrgRecord o = org_from_fields({{"disabled", v}});
    CHECK(o.disabled);
    CHECK(o.disabled_unrecognised);
  }
  CHECK_FALSE(org_from_fields({}).disabled_unrecognised);
}

TEST_CASE("parse_flag_word: words, trimming, case, and refusals", "[schema]") {
  CHECK(parse_flag_word("yes") == std::optional<bool>(true));
  CHECK(parse_flag_word(" OFF\t") == std::optional<bool>(false));
  CHECK(parse_flag_word("") == std::optional<bool>(false));
  CHECK_FALSE(parse_flag_word("01").has_value());
  CHECK_FALSE(parse_flag_word("truee").has_value());
  CHECK_FALSE(parse_flag_word(std::string_view("1\0", 2)).has_value());
}

TEST_CASE("a malformed numeric org field is treated as absent", "[schema]") {
  for (const char* v : {"", "fast", "-5", "+5", "1e3", "5 ", "9223372036854775808"}) {
    CAPTURE(v);
    CHECK_FALSE(org_from_fields({{"pub_rate", v}}).pub_rate.has_value());
  }
}

TEST_CASE("org_numeric_fields lists exactly the numeric org fields", "[schema]") {
  const std::vector<std::string_view> expected = {
      "default_ttl",         "max_ttl", "pub_rate", "pub_burst", "max_connections", "user_pub_rate",
      "user_max_connections", "max_tokens_per_user", "exchange_rate", "exchange_user_rate"};
  CHECK(org_numeric_fields() == expected);
  for (auto name : org_numeric_fields()) {
    CAPTURE(name);
    const OrgRecord o = org_from_fields({{std::string(name), "7"}});
    const int set = o.default_ttl.has_value() + o.max_ttl.has_value() + o.pub_rate.has_value() +
                    o.pub_burst.has_value() + o.max_connections.has_value() +
                    o.user_pub_rate.has_value() + o.user_max_connections.has_value() +
                    o.max_tokens_per_user.has_value() + o.exchange_rate.has_value() +
                    o.exchange_user_rate.has_value();
    CHECK(set == 1);
  }
}

TEST_CASE("parse_u64 accepts plain decimals up to 2^64-1 only", "[schema]") {
  struct Case {
    const char* text;
    bool ok;
    std::uint64_t value;
  };
  const Case cases[] = {
      {"0", true, 0},
      {"42", true, 42},
      {"007", true, 7},
      {"18446744073709551615", true, 18'446'744'073'709'551'615u},
      {"18446744073709551616", false, 0},
      {"99999999999999999999", false, 0},
      {"", false, 0},
      {"-1", false, 0},
      {"+1", false, 0},
      {" 1", false, 0},
      {"1 ", false, 0},
      {"0x10", false, 0},
      {"1_000", false, 0},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    std::uint64_t v = 123;
    CHECK(parse_u64(c.text, v) == c.ok);
    CHECK(v == (c.ok ? c.value : 123));
  }
}

// An empty `scope` field must not read as "no scope" (= the full templates):
// `HSET … scope ""` in redis-cli, or a writer bug, fails closed.
TEST_CASE("a present but empty scope field makes the credential unusable", "[schema]") {
  for (const char* stored : {"", "\n", "read a/#\n", "read a/#\n\nwrite b"}) {
    CAPTURE(stored);
    Fields f = required_fields();
    f.emplace_back("scope", stored);
    CHECK_FALSE(credential_from_fields(f).has_value());
  }
  Fields ok = required_fields();
  ok.emplace_back("scope", "read a/#\nwrite b");
  REQUIRE(credential_from_fields(ok).has_value());
}

TEST_CASE("glob_escape escapes what SCAN MATCH treats specially", "[schema]") {
  CHECK(shortcred::glob_escape("shortcred:") == "shortcred:");
  CHECK(shortcred::glob_escape("a*b?c[d]e\\f") == "a\\*b\\?c\\[d\\]e\\\\f");
}
