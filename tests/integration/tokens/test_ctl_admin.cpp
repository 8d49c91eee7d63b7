// shortcredctl day-2 commands (org list / enable / delete, token show, audit,
// apikey revoke --revoke-credentials) and what they write to the audit
// stream, against a real Redis (and a real shortcred-tokend where a key must
// issue).
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <sstream>

#include "support/process.hpp"
#include "support/redis_server.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"
#include "tokend_env.hpp"

using namespace tokens_test;
using namespace std::chrono_literals;

namespace {

using Entry = std::map<std::string, std::string>;

struct Ctl {
  support::RedisServer redis;
  support::RunResult operator()(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), {SHORTCREDCTL_PATH, "--redis", redis.url()});
    return support::run(args, env);
  }
  Json::Value json(std::vector<std::string> args, int expect_exit = 0) {
    args.insert(args.begin(), "--json");
    auto r = (*this)(std::move(args));
    INFO(r.err);
    CHECK(r.exit_code == expect_exit);
    return parse_json(r.out);
  }
  // The org's audit stream, oldest first.
  std::vector<Entry> audit(const std::string& org) {
    auto c = redis.connect();
    auto r = c.command({"XRANGE", "shortcred:{" + org + "}:audit", "-", "+"});
    std::vector<Entry> out;
    for (std::size_t i = 0; r && i < r->elements; ++i) {
      Entry e;
      for (const auto& [k, v] : shortcred::redis::to_pairs(r->element[i]->element[1])) e[k] = v;
      out.push_back(std::move(e));
    }
    return out;
  }
};

std::vector<Json::Value> json_lines(const std::string& text) {
  std::vector<Json::Value> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(parse_json(line));
  return out;
}

}  // namespace

TEST_CASE("shortcredctl org list shows every org and org enable undoes org disable", "[ctl]") {
  Ctl ctl;
  CHECK(ctl({"org", "list"}).out == "(no organisations)\n");
  REQUIRE(ctl({"org", "create", "--id", "org_b", "--name", "Beta"}).exit_code == 0);
  REQUIRE(ctl({"org", "create", "--id", "org_a", "--name", "Acme"}).exit_code == 0);
  // A user index whose user id ends in `:org` is not an org.
  ctl.redis.connect().command({"ZADD", "shortcred:{org_a}:user:x:org", "1", "y"});
  REQUIRE(ctl({"org", "disable", "org_b"}).exit_code == 0);
  auto v = ctl.json({"org", "list"});
  REQUIRE(v["orgs"].size() == 2);
  CHECK(v["orgs"][0]["org"].asString() == "org_a");
  CHECK(v["orgs"][0]["name"].asString() == "Acme");
  CHECK(v["orgs"][1]["disabled"].asString() == "1");
  const auto table = ctl({"org", "list"}).out;
  CHECK(table.find("org_b  disabled") != std::string::npos);

  CHECK(ctl.json({"org", "enable", "org_b"})["disabled"].asString() == "0");
  CHECK(ctl.audit("org_b").back().at("event") == "org_enable");
  CHECK(ctl({"token", "mint", "--org", "org_b", "--user", "u"}).exit_code == 0);
  CHECK(ctl({"org", "enable", "org_missing"}).exit_code == 1);
}

TEST_CASE("shortcredctl org delete refuses while credentials or keys exist unless --force",
          "[ctl]") {
  Ctl ctl;
  REQUIRE(ctl({"org", "create", "--id", "org_d"}).exit_code == 0);
  const auto key = ctl.json({"apikey", "create", "--org", "org_d"});
  const auto tok = ctl.json({"token", "mint", "--org", "org_d", "--user", "alice"});
  auto v = ctl.json({"org", "delete", "org_d"}, 1);
  CHECK(v["error"]["code"].asString() == "forbidden");
  CHECK(v["error"]["message"].asString().find("1 credential(s) and 1 API key(s)") !=
        std::string::npos);
  CHECK(ctl.json({"org", "show", "org_d"})["created_at"].isString());  // still there

  auto sub = ctl.redis.connect();
  sub.command({"SUBSCRIBE", "shortcred:revoked"});
  v = ctl.json({"--actor", "ops-jane", "org", "delete", "org_d", "--force"});
  CHECK(v["revoked_credentials"].asInt() == 1);
  CHECK(v["revoked_apikeys"].asInt() == 1);
  auto c = ctl.redis.connect();
  CHECK(c.command({"EXISTS", "shortcred:{org_d}:org", "shortcred:{org_d}:apikeys",
                   "shortcred:{org_d}:cred:" + tok["token_id"].asString(),
                   "shortcred:apikey:" + key["key_id"].asString()})
            ->integer == 0);
  std::vector<std::string> published;
  for (int i = 0; i < 2; ++i) {
    auto m = sub.read_reply();
    REQUIRE(m);
    published.push_back(shortcred::redis::to_string(m->element[2]));
  }
  CHECK(published ==
        std::vector<std::string>{"token org_d " + tok["token_id"].asString(), "org org_d"});
  // The trail survives the org: the revocations and the deletion, by the operator.
  const auto trail = ctl.audit("org_d");
  REQUIRE(trail.size() >= 3);
  const auto& last = trail.back();
  CHECK(last.at("event") == "org_delete");
  CHECK(last.at("actor") == "ops-jane");
  CHECK(last.at("revoked_credentials") == "1");
  CHECK(trail[trail.size() - 2].at("event") == "revoke");
  CHECK(trail[trail.size() - 3].at("event") == "apikey_revoke");
  CHECK(ctl({"audit", "org_d"}).out.find("org_delete  ops-jane") != std::string::npos);
  CHECK(ctl({"org", "delete", "org_d"}).exit_code == 1);  // gone

  REQUIRE(ctl({"org", "create", "--id", "org_e"}).exit_code == 0);  // nothing in it
  CHECK(ctl({"org", "delete", "org_e"}).exit_code == 0);

  // Its identity providers go with it: the same id created again trusts
  // none of the old issuers.
  REQUIRE(ctl({"org", "create", "--id", "org_i"}).exit_code == 0);
  REQUIRE(ctl({"idp", "set", "--org", "org_i", "corp", "--issuer", "https://idp.example.com",
               "--jwks-url", "https://idp.example.com/jwks", "--audience", "a"})
              .exit_code == 0);
  v = ctl.json({"org", "delete", "org_i"});
  CHECK(v["removed_idps"].size() == 1);
  CHECK(v["removed_idps"][0].asString() == "corp");
  CHECK(ctl.audit("org_i").back().at("removed_idps") == "corp");
  REQUIRE(ctl({"org", "create", "--id", "org_i"}).exit_code == 0);
  CHECK(ctl.json({"idp", "list", "--org", "org_i"})["providers"].size() == 0);
  CHECK(c.command({"EXISTS", "shortcred:{org_i}:idps", "shortcred:{org_i}:idp:corp"})->integer ==
        0);
}

TEST_CASE(
    "shortcredctl org set takes --pub-rate, refuses a max_ttl above the cap, and audits "
    "old and new values with the operator",
    "[ctl]") {
  Ctl ctl;
  // The operator defaults to $SUDO_USER, else $USER.
  REQUIRE(ctl({"org", "create", "--id", "org_s", "--name", "S"}, {"SUDO_USER=", "USER=ops-ann"})
              .exit_code == 0);
  auto e = ctl.audit("org_s").back();
  CHECK(e.at("event") == "org_create");
  CHECK(e.at("actor") == "ops-ann");
  CHECK(e.at("name") == "S");

  REQUIRE(ctl({"org", "set", "org_s", "--pub-rate", "100"}, {"SUDO_USER=root-ann"}).exit_code == 0);
  CHECK(ctl.audit("org_s").back().at("actor") == "root-ann");
  REQUIRE(ctl({"org", "set", "org_s", "--pub-burst", "7"}, {"SUDO_USER=", "USER="}).exit_code == 0);
  CHECK(ctl.audit("org_s").back().at("actor") == "unknown");
  auto v = ctl.json({"--actor", "ops-bob", "org", "set", "org_s", "--pub_rate", "500",
                     "--user-max-connections", "3"});
  CHECK(v["pub_rate"].asString() == "500");
  CHECK(v["user_max_connections"].asString() == "3");
  e = ctl.audit("org_s").back();
  CHECK(e.at("event") == "org_set");
  CHECK(e.at("actor") == "ops-bob");
  CHECK(e.at("changes") == "pub_rate 100 \u2192 500, user_max_connections (unset) \u2192 3");
  CHECK(ctl({"org", "set", "org_s", "--pub-rate", "1", "--pub_rate", "2"}).exit_code == 2);

  const auto r = ctl({"org", "set", "org_s", "--max_ttl", "31536001"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("above the cap of 31536000 seconds") != std::string::npos);
  CHECK(ctl({"org", "set", "org_s", "--max-ttl", "31536000"}).exit_code == 0);
  CHECK(ctl.json({"org", "show", "org_s"})["max_ttl"].asString() == "31536000");
}

TEST_CASE("shortcredctl takes every option with - or _, and one given both ways is given twice",
          "[ctl]") {
  Ctl ctl;
  REQUIRE(ctl({"--key_prefix", "shortcred:", "org", "create", "--id", "org_u"}).exit_code == 0);
  const auto t = ctl.json({"token", "mint", "--org", "org_u", "--user", "u", "--client_id", "c1"});
  CHECK(ctl.json({"token", "show", "org_u", t["token_id"].asString()})["client_id"].asString() ==
        "c1");
  CHECK(ctl({"session", "list", "--org", "org_u", "--presence_interval", "5"}).exit_code == 0);
  auto r = ctl({"org", "set", "org_u", "--max-ttl", "31536001"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--max-ttl 31536001 is above the cap of 31536000 seconds") != std::string::npos);
  r = ctl({"idp", "set", "--org", "org_u", "corp", "--issuer", "https://idp.example.com",
           "--jwks_url", "https://idp.example.com/jwks", "--audience", "a", "--max-ttl", "60",
           "--max_ttl", "120"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--max-ttl given more than once") != std::string::npos);
  // A flag spelled with _ is still a flag, not an option wanting a value.
  r = ctl({"apikey", "revoke", "0000000000000000", "--revoke_credentials"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("no API key 0000000000000000") != std::string::npos);
}

TEST_CASE("shortcredctl apikey list and token list of an org that does not exist say so", "[ctl]") {
  Ctl ctl;
  REQUIRE(ctl({"org", "create", "--id", "org_n"}).exit_code == 0);
  CHECK(ctl({"apikey", "list", "--org", "org_n"}).out == "(no API keys)\n");
  CHECK(ctl({"token", "list", "--org", "org_n"}).out == "(no active credentials)\n");
  for (const std::string group : {"apikey", "token"}) {
    INFO(group);
    const auto r = ctl({group, "list", "--org", "org_typo"});
    CHECK(r.exit_code == 1);
    CHECK(r.err == "shortcredctl: no organisation org_typo\n");
    const auto v = ctl.json({group, "list", "--org", "org_typo"}, 1);
    CHECK(v["error"]["code"].asString() == "org_not_found");
  }
}

TEST_CASE("shortcredctl refuses a control character in an org or key name, writing nothing",
          "[ctl]") {
  Ctl ctl;
  // A newline would forge a line of `org list` or `apikey list`, ESC drive
  // the operator's terminal.
  auto r = ctl({"org", "create", "--id", "org_c", "--name", "a\nfake  enabled"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--name: expected 1-256 bytes without control characters") !=
        std::string::npos);
  CHECK(ctl({"org", "list"}).out == "(no organisations)\n");
  REQUIRE(ctl({"org", "create", "--id", "org_c", "--name", "C"}).exit_code == 0);
  const auto trail = ctl.audit("org_c").size();
  CHECK(ctl({"org", "set", "org_c", "--name", "x\x1b[31m"}).exit_code == 2);
  CHECK(ctl({"org", "set", "org_c", "--name", ""}).exit_code == 2);
  CHECK(ctl({"org", "set", "org_c", "--name", std::string(257, 'n')}).exit_code == 2);
  CHECK(ctl.json({"org", "show", "org_c"})["name"].asString() == "C");
  r = ctl({"apikey", "create", "--org", "org_c", "--name", "k\nfake"});
  CHECK(r.exit_code == 2);
  CHECK(ctl({"apikey", "list", "--org", "org_c"}).out == "(no API keys)\n");
  CHECK(ctl.audit("org_c").size() == trail);
  CHECK(ctl({"org", "set", "org_c", "--name", "C\xc3\xa9 \xe2\x86\x92 ok"}).exit_code == 0);
}

TEST_CASE("shortcredctl token show prints one credential and never its secret", "[ctl]") {
  Ctl ctl;
  REQUIRE(ctl({"org", "create", "--id", "org_t"}).exit_code == 0);
  const auto t = ctl.json({"token", "mint", "--org", "org_t", "--user", "alice", "--ttl", "300",
                           "--scope", "read %o/a/#", "--client-id", "c1"});
  const std::string id = t["token_id"].asString();
  auto v = ctl.json({"token", "show", "org_t", id});
  CHECK(v["token_id"].asString() == id);
  CHECK(v["user_id"].asString() == "alice");
  CHECK(v["expires_at"].asString() == t["expires_at"].asString());
  CHECK(v["scope"][0].asString() == "read %o/a/#");
  CHECK(v["client_id"].asString() == "c1");
  const auto text = ctl({"token", "show", "org_t", id});
  CHECK(text.out.find("username   alice@org_t") != std::string::npos);
  CHECK(find_secret(text.out + v.toStyledString()).empty());
  CHECK(text.out.find("secret") == std::string::npos);
  CHECK(ctl.json({"token", "show", "org_t", "0000000000000000"}, 1)["error"]["code"].asString() ==
        "not_found");
  CHECK(ctl({"token", "show", "org_t", "nope"}).exit_code == 2);
}

TEST_CASE(
    "shortcredctl revoke-user audits the revoked token ids and writes nothing when it "
    "revoked nothing",
    "[ctl]") {
  Ctl ctl;
  REQUIRE(ctl({"org", "create", "--id", "org_r"}).exit_code == 0);
  const auto a = ctl.json({"token", "mint", "--org", "org_r", "--user", "alice"});
  const auto b = ctl.json({"token", "mint", "--org", "org_r", "--user", "alice"});
  const auto before = ctl.audit("org_r").size();
  CHECK(ctl.json({"token", "revoke-user", "org_r", "bob"})["revoked"].asInt() == 0);
  CHECK(ctl.audit("org_r").size() == before);

  CHECK(
      ctl.json({"--actor", "ops-c", "token", "revoke-user", "org_r", "alice"})["revoked"].asInt() ==
      2);
  const auto trail = ctl.audit("org_r");
  REQUIRE(trail.size() == before + 1);
  const auto& e = trail.back();
  CHECK(e.at("event") == "revoke_user");
  CHECK(e.at("actor") == "ops-c");
  const std::string ids = e.at("token");
  CHECK(ids.size() == 33);  // two ids and a space
  CHECK(ids.find(a["token_id"].asString()) != std::string::npos);
  CHECK(ids.find(b["token_id"].asString()) != std::string::npos);
  CHECK(ctl.json({"token", "revoke-user", "org_r", "alice"})["revoked"].asInt() == 0);
  CHECK(ctl.audit("org_r").size() == before + 1);

  // A credential deleted by hand (the redis-cli recipe) leaves its index
  // entry: it is not audited as revoked, and alone it writes no entry.
  const auto gone = ctl.json({"token", "mint", "--org", "org_r", "--user", "dan"});
  const auto kept = ctl.json({"token", "mint", "--org", "org_r", "--user", "dan"});
  auto c = ctl.redis.connect();
  REQUIRE(c.command({"DEL", "shortcred:{org_r}:cred:" + gone["token_id"].asString()})->integer ==
          1);
  const auto n = ctl.audit("org_r").size();
  CHECK(ctl.json({"token", "revoke-user", "org_r", "dan"})["revoked"].asInt() == 1);
  REQUIRE(ctl.audit("org_r").size() == n + 1);
  CHECK(ctl.audit("org_r").back().at("token") == kept["token_id"].asString());

  const auto lone = ctl.json({"token", "mint", "--org", "org_r", "--user", "dan"});
  REQUIRE(c.command({"DEL", "shortcred:{org_r}:cred:" + lone["token_id"].asString()})->integer ==
          1);
  CHECK(c.command({"ZCARD", "shortcred:{org_r}:user:dan"})->integer == 1);  // the stale entry
  CHECK(ctl.json({"token", "revoke-user", "org_r", "dan"})["revoked"].asInt() == 0);
  CHECK(ctl.audit("org_r").size() == n + 2);  // the mint only
  CHECK(c.command({"EXISTS", "shortcred:{org_r}:user:dan"})->integer == 0);  // cleaned up
}

TEST_CASE("shortcredctl tables print control bytes of stored values escaped, JSON exactly",
          "[ctl]") {
  Ctl ctl;
  REQUIRE(ctl({"org", "create", "--id", "org_esc"}).exit_code == 0);
  // Anyone with Redis access can write an audit field; a client id in a
  // session_kick entry is whatever the client sent.
  const std::string nasty = "app\x1b[2J\nforged  row";
  ctl.redis.connect().command(
      {"XADD", "shortcred:{org_esc}:audit", "*", "event", "session_kick", "client_id", nasty});
  const auto r = ctl({"audit", "org_esc"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find('\x1b') == std::string::npos);
  CHECK(r.out.find("client_id=app\\x1b[2J\\x0aforged  row") != std::string::npos);
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 2);  // org_create and the kick
  const auto lines = json_lines(ctl({"--json", "audit", "org_esc"}).out);
  REQUIRE(lines.size() == 2);
  CHECK(lines[1]["client_id"].asString() == nasty);
}

TEST_CASE(
    "shortcredctl audit prints a table or JSON lines, honours --since and --limit, and "
    "--follow prints new entries",
    "[ctl]") {
  Ctl ctl;
  REQUIRE(ctl({"--actor", "ops-a", "org", "create", "--id", "org_l"}).exit_code == 0);
  for (int i = 0; i < 3; ++i) {
    REQUIRE(ctl({"token", "mint", "--org", "org_l", "--user", "u" + std::to_string(i)}).exit_code ==
            0);
  }
  auto r = ctl({"audit", "org_l"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("org_create  ops-a (shortcredctl)") != std::string::npos);
  CHECK(r.out.find("issue") != std::string::npos);
  CHECK(r.out.find("user u2") != std::string::npos);

  r = ctl({"--json", "audit", "org_l", "--limit", "2"});  // the newest two, oldest first
  auto lines = json_lines(r.out);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]["user"].asString() == "u1");
  CHECK(lines[1]["user"].asString() == "u2");
  CHECK(lines[1]["event"].asString() == "issue");
  CHECK(lines[1]["ttl"].asString() == "3600");
  CHECK(!lines[1]["time"].asString().empty());

  lines = json_lines(ctl({"--json", "audit", "org_l", "--since", "0", "--limit", "1"}).out);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["event"].asString() == "org_create");
  CHECK(
      json_lines(ctl({"--json", "audit", "org_l", "--since", "2999-01-01T00:00:00Z"}).out).empty());
  CHECK(ctl({"audit", "org_l", "--since", "yesterday"}).exit_code == 2);
  CHECK(ctl({"audit", "org_nothing"}).exit_code == 1);

  support::TempDir dir{"shortcredctl-follow"};
  const auto log = dir.path() / "follow.log";
  support::Process follow({SHORTCREDCTL_PATH, "--redis", ctl.redis.url(), "--json", "audit",
                           "org_l", "--limit", "1", "--follow"},
                          log);
  const auto read_log = [&] {
    std::ifstream in(log);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  REQUIRE(support::wait_until([&] { return json_lines(read_log()).size() == 1; }, 5000ms));
  REQUIRE(ctl({"token", "mint", "--org", "org_l", "--user", "late"}).exit_code == 0);
  REQUIRE(support::wait_until([&] { return json_lines(read_log()).size() == 2; }, 5000ms));
  CHECK(json_lines(read_log())[1]["user"].asString() == "late");
  CHECK(follow.running());
}

TEST_CASE(
    "shortcredctl apikey revoke --revoke-credentials revokes every credential the key "
    "issued",
    "[ctl]") {
  TokendEnv env;
  const std::string a = parse_json(env.issue(R"({"user_id":"alice"})").body)["token_id"].asString();
  const std::string b = parse_json(env.issue(R"({"user_id":"bob"})").body)["token_id"].asString();
  const auto other =
      parse_json(
          env.ctl({"--json", "token", "mint", "--org", env.org, "--user", "carol"}).out)["token_id"]
          .asString();
  // One in no index at all (issued before the indexes existed, or written
  // by hand): the walk is a SCAN of the org's cred keys, so it is found too.
  const std::string legacy = "shortcred:{org_test}:cred:legacy0000000001";
  auto c = env.redis.connect();
  REQUIRE(c.command({"HSET", legacy, "user", "old", "secret_sha256", std::string(64, '0'),
                     "issued_at", "1", "expires_at", "99999999999999", "apikey", env.key_id}));
  REQUIRE(c.command({"PEXPIRE", legacy, "600000"}));
  // Another org named with a live key: refused, nothing revoked.
  REQUIRE(env.ctl({"org", "create", "--id", "org_other"}).exit_code == 0);
  auto r = env.ctl({"apikey", "revoke", env.key_id, "--revoke-credentials", "--org", "org_other"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("is of organisation org_test, not org_other") != std::string::npos);
  CHECK(env.pttl("shortcred:{org_test}:cred:" + a) > 0);
  CHECK(env.ctl({"apikey", "revoke", env.key_id, "--org", env.org}).exit_code == 2);

  r = env.ctl(
      {"--json", "--actor", "ops-k", "apikey", "revoke", env.key_id, "--revoke-credentials"});
  REQUIRE(r.exit_code == 0);
  CHECK(parse_json(r.out)["revoked_credentials"].asInt() == 3);
  CHECK(parse_json(r.out)["org"].asString() == env.org);
  CHECK(env.pttl("shortcred:{org_test}:cred:" + a) == -2);
  CHECK(env.pttl("shortcred:{org_test}:cred:" + b) == -2);
  CHECK(env.pttl(legacy) == -2);
  CHECK(env.pttl("shortcred:{org_test}:cred:" + other) > 0);  // not this key's
  const auto last = env.last_audit(env.org);
  CHECK(last.at("event") == "revoke");
  CHECK(last.at("actor") == "ops-k");
  CHECK(env.issue(R"({"user_id":"alice"})").status == 401);
}

TEST_CASE(
    "shortcredctl apikey revoke --revoke-credentials --org revokes what a key revoked before "
    "issued",
    "[ctl]") {
  TokendEnv env;
  const std::string a = parse_json(env.issue(R"({"user_id":"alice"})").body)["token_id"].asString();
  REQUIRE(env.ctl({"apikey", "revoke", env.key_id}).exit_code == 0);  // the credentials stay
  CHECK(env.pttl("shortcred:{org_test}:cred:" + a) > 0);

  auto r = env.ctl({"apikey", "revoke", env.key_id, "--revoke-credentials"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("--org ORG still revokes the credentials it issued") != std::string::npos);
  r = env.ctl({"apikey", "revoke", env.key_id, "--revoke-credentials", "--org", "org_nope"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("no organisation org_nope") != std::string::npos);
  CHECK(env.pttl("shortcred:{org_test}:cred:" + a) > 0);

  const auto before = env.last_audit(env.org);
  r = env.ctl({"--json", "--actor", "ops-l", "apikey", "revoke", env.key_id,
               "--revoke-credentials", "--org", env.org});
  REQUIRE(r.exit_code == 0);
  const auto v = parse_json(r.out);
  CHECK(v["revoked_credentials"].asInt() == 1);
  CHECK(v["key_already_revoked"].asBool());
  CHECK(env.pttl("shortcred:{org_test}:cred:" + a) == -2);
  const auto last = env.last_audit(env.org);
  CHECK(last.at("event") == "revoke");
  CHECK(last.at("token") == a);
  CHECK(last.at("actor") == "ops-l");
  r = env.ctl({"apikey", "revoke", env.key_id, "--revoke-credentials", "--org", env.org});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "API key " + env.key_id + " was revoked already; revoked the 0 credential(s) it "
                                           "issued in org_test\n");
}
