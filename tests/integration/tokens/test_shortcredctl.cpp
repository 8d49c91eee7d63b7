// shortcredctl end to end against a real Redis.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

#include "support/redis_server.hpp"
#include "support/temp_dir.hpp"
#include "tokend_env.hpp"

using namespace tokens_test;

namespace {

struct Ctl {
  support::RedisServer redis;
  support::RunResult operator()(std::vector<std::string> args) {
    return ctl(redis.url(), std::move(args));
  }
  Json::Value json(std::vector<std::string> args, int expect_exit = 0) {
    args.insert(args.begin(), "--json");
    auto r = (*this)(std::move(args));
    CHECK(r.exit_code == expect_exit);
    INFO(r.err);
    return parse_json(r.out);
  }
};

}  // namespace

TEST_CASE("shortcredctl org commands create show set and disable an org", "[ctl]") {
  Ctl ctl;
  auto v = ctl.json({"org", "create", "--name", "Acme"});
  const std::string org = v["org"].asString();
  CHECK(org.rfind("org_", 0) == 0);
  CHECK(org.size() == 16);
  CHECK(v["name"].asString() == "Acme");
  CHECK(!v["created_at"].asString().empty());
  CHECK(ctl({"org", "create", "--id", org}).exit_code == 1);  // exists

  v = ctl.json({"org", "set", org, "--pub_rate", "500", "--max_ttl", "7200"});
  CHECK(v["pub_rate"].asString() == "500");
  CHECK(ctl.json({"org", "show", org})["max_ttl"].asString() == "7200");
  CHECK(ctl({"org", "set", org, "--pub_rate", "fast"}).exit_code == 2);
  CHECK(ctl({"org", "set", org, "--colour", "red"}).exit_code == 2);
  CHECK(ctl({"org", "show", "org_missing"}).exit_code == 1);

  auto sub = ctl.redis.connect();
  sub.command({"SUBSCRIBE", "shortcred:revoked"});
  v = ctl.json({"org", "disable", org});
  CHECK(v["disabled"].asString() == "1");
  auto msg = sub.read_reply();
  REQUIRE(msg);
  CHECK(shortcred::redis::to_string(msg->element[2]) == "org " + org);
}

TEST_CASE("shortcredctl org set --disabled 1 disables like org disable and --disabled 0 enables",
          "[ctl]") {
  Ctl ctl;
  REQUIRE(ctl({"org", "create", "--id", "org_s"}).exit_code == 0);
  auto sub = ctl.redis.connect();
  sub.command({"SUBSCRIBE", "shortcred:revoked"});
  CHECK(ctl.json({"org", "set", "org_s", "--disabled", "1"})["disabled"].asString() == "1");
  auto msg = sub.read_reply();
  REQUIRE(msg);
  REQUIRE(msg->elements == 3);
  CHECK(shortcred::redis::to_string(msg->element[2]) == "org org_s");
  auto c = ctl.redis.connect();
  const auto last_event = [&] {
    auto r = c.command({"XREVRANGE", "shortcred:{org_s}:audit", "+", "-", "COUNT", "1"});
    if (!r || r->elements == 0) return std::string("<none>");
    for (const auto& [k, v] : shortcred::redis::to_pairs(r->element[0]->element[1])) {
      if (k == "event") return v;
    }
    return std::string("<no event>");
  };
  CHECK(last_event() == "org_disable");
  CHECK(ctl({"token", "mint", "--org", "org_s", "--user", "alice"}).exit_code == 1);

  CHECK(ctl.json({"org", "set", "org_s", "--disabled", "0"})["disabled"].asString() == "0");
  CHECK(last_event() == "org_enable");
  CHECK(ctl({"token", "mint", "--org", "org_s", "--user", "alice"}).exit_code == 0);
}

TEST_CASE("shortcredctl apikey create prints the key once and list never does", "[ctl]") {
  Ctl ctl;
  ctl({"org", "create", "--id", "org_k"});
  auto v = ctl.json({"apikey", "create", "--org", "org_k", "--name", "backend"});
  const std::string id = v["key_id"].asString();
  CHECK(v["api_key"].asString().rfind("sk_" + id + "_", 0) == 0);
  CHECK(v["org"].asString() == "org_k");
  const auto list = ctl({"--json", "apikey", "list", "--org", "org_k"});
  CHECK(list.out.find("sk_") == std::string::npos);
  CHECK(parse_json(list.out)["keys"][0]["key_id"].asString() == id);
  CHECK(ctl.json({"apikey", "revoke", id})["revoked"].asBool());
  CHECK(ctl({"apikey", "revoke", id}).exit_code == 1);
  CHECK(ctl.json({"apikey", "list", "--org", "org_k"})["keys"].size() == 0);
  CHECK(ctl({"apikey", "create", "--org", "org_nope"}).exit_code == 1);
}

TEST_CASE("shortcredctl refuses a key prefix with a brace, naming the option", "[ctl]") {
  Ctl ctl;
  const auto r = ctl({"--key-prefix", "p{x}:", "org", "create", "--id", "org_b"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--key-prefix") != std::string::npos);
  CHECK(ctl.redis.connect().command({"KEYS", "*"})->elements == 0);
}

TEST_CASE("shortcredctl token mint refuses an org that does not exist", "[ctl]") {
  Ctl ctl;
  const auto r = ctl({"token", "mint", "--org", "org_nonexistent", "--user", "alice"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("no organisation org_nonexistent") != std::string::npos);
  auto c = ctl.redis.connect();
  CHECK(c.command({"KEYS", "*"})->elements == 0);
}

TEST_CASE("shortcredctl token commands mint and list and revoke like the HTTP routes", "[ctl]") {
  Ctl ctl;
  REQUIRE(ctl({"org", "create", "--id", "org_t"}).exit_code == 0);
  auto v = ctl.json({"token", "mint", "--org", "org_t", "--user", "alice", "--ttl", "300",
                     "--scope", "read %o/a/#", "--scope", "write %o/b", "--client-id", "c1"});
  const std::string id = v["token_id"].asString();
  CHECK(v["username"].asString() == "alice@org_t");
  CHECK(v["password"].asString().rfind("tkn_" + id + "_", 0) == 0);
  CHECK(v["expires_in"].asInt() == 300);
  CHECK(v["scope"].size() == 2);
  CHECK(v["client_id"].asString() == "c1");
  auto c = ctl.redis.connect();
  const std::string key = "shortcred:{org_t}:cred:" + id;
  CHECK(std::abs(c.command({"PTTL", key})->integer - 300'000) <= 1000);
  CHECK(shortcred::redis::to_string(c.command({"HGET", key, "scope"}).get()) ==
        "read %o/a/#\nwrite %o/b");
  // The audit entry names no API key; `remote` says who wrote it.
  auto audit = c.command({"XREVRANGE", "shortcred:{org_t}:audit", "+", "-", "COUNT", "1"});
  REQUIRE(audit->elements == 1);
  std::map<std::string, std::string> entry;
  for (const auto& [k, val] : shortcred::redis::to_pairs(audit->element[0]->element[1])) {
    entry[k] = val;
  }
  CHECK(entry["event"] == "issue");
  CHECK(entry["apikey"].empty());
  CHECK(entry["remote"] == "shortcredctl");

  ctl.json({"token", "mint", "--org", "org_t", "--user", "bob"});
  CHECK(ctl.json({"token", "list", "--org", "org_t"})["tokens"].size() == 2);
  CHECK(ctl.json({"token", "list", "--org", "org_t", "--user", "alice"})["tokens"].size() == 1);

  auto sub = ctl.redis.connect();
  sub.command({"SUBSCRIBE", "shortcred:revoked"});
  CHECK(ctl.json({"token", "revoke", "org_t", id})["revoked"].asBool());
  CHECK(shortcred::redis::to_string(sub.read_reply()->element[2]) == "token org_t " + id);
  CHECK(ctl({"token", "revoke", "org_t", id}).exit_code == 1);
  CHECK(ctl.json({"token", "revoke-user", "org_t", "bob"})["revoked"].asInt() == 1);
  CHECK(shortcred::redis::to_string(sub.read_reply()->element[2]) == "user org_t bob");

  CHECK(ctl({"token", "mint", "--org", "org_t", "--user", "a/b"}).exit_code == 2);
  CHECK(ctl({"token", "mint", "--org", "org_t", "--user", "a", "--ttl", "10"}).exit_code == 2);
  CHECK(ctl({"token", "mint", "--org", "org_t", "--user", "a", "--scope", "deny #"}).exit_code ==
        2);
  CHECK(ctl({"token", "mint", "--org", "org_t"}).exit_code == 2);
  CHECK(ctl({"token", "frobnicate"}).exit_code == 2);
  CHECK(ctl({}).exit_code == 2);
  CHECK(ctl({"--help"}).exit_code == 0);
}

TEST_CASE("shortcredctl and shortcred-tokend --version print the version set in CMake", "[ctl]") {
  const auto ctl_version = support::run({SHORTCREDCTL_PATH, "--version"});
  CHECK(ctl_version.exit_code == 0);
  CHECK(ctl_version.out == "shortcredctl " SHORTCRED_VERSION "\n");
  const auto tokend_version = support::run({SHORTCRED_TOKEND_PATH, "--version"});
  CHECK(tokend_version.exit_code == 0);
  CHECK(tokend_version.out == "shortcred-tokend " SHORTCRED_VERSION "\n");
}

TEST_CASE("shortcredctl reports an unreachable Redis with exit code 1", "[ctl]") {
  const auto r = ctl("redis://127.0.0.1:1/0", {"token", "list", "--org", "org_x"});
  CHECK(r.exit_code == 1);
  CHECK(!r.err.empty());
  // A usage error is found before Redis is asked, so it stays exit 2.
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"audit", "org_x", "--limit", "0"},
        {"audit", "org_x", "--since", "yesterday"},
        {"org", "set", "org_x", "--max-ttl", "31536001"},
        {"apikey", "revoke", "nope", "--revoke-credentials"}}) {
    const auto u = ctl("redis://127.0.0.1:1/0", bad);
    INFO(bad[0] << " " << bad[2] << ": " << u.err);
    CHECK(u.exit_code == 2);
  }
}

TEST_CASE("shortcredctl --json prints every failure as one JSON error object on stdout", "[ctl]") {
  const auto one_error = [](const support::RunResult& r, int exit_code, const std::string& code) {
    INFO("stdout: " << r.out << "stderr: " << r.err);
    CHECK(r.exit_code == exit_code);
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);  // one object, one line
    const auto v = parse_json(r.out);
    REQUIRE(v.isObject());
    CHECK(v.getMemberNames() == std::vector<std::string>{"error"});
    CHECK(v["error"]["code"].asString() == code);
    CHECK(!v["error"]["message"].asString().empty());
  };
  Ctl ctl;
  // Usage errors, including one found while parsing the command line.
  one_error(ctl({"--json", "token", "mint", "--org", "org_x"}), 2, "usage_error");
  one_error(ctl({"--json", "org", "frobnicate"}), 2, "usage_error");
  one_error(ctl({"--json", "token", "list", "--org"}), 2, "usage_error");
  one_error(ctl({"--json"}), 2, "usage_error");
  // Refusals and runtime errors.
  one_error(ctl({"--json", "org", "show", "org_missing"}), 1, "not_found");
  one_error(ctl({"--json", "token", "mint", "--org", "org_missing", "--user", "a"}), 1,
            "org_not_found");
  one_error(tokens_test::ctl("redis://127.0.0.1:1/0", {"--json", "token", "list", "--org", "o"}),
            1, "redis_unavailable");

  // Without --json the message is for people, on stderr only.
  for (const auto& r : {ctl({"org", "show", "org_missing"}), ctl({"org", "frobnicate"})}) {
    CHECK(r.out.empty());
    CHECK(!r.err.empty());
  }
}

TEST_CASE("shortcredctl acl check gives the broker's decision and the deciding rule", "[ctl]") {
  Ctl ctl;
  support::TempDir dir("shortcred-acl");
  support::write_file(dir / "acl.conf",
                      "# templates\ndeny %o/users/%u/secret/#\nreadwrite %o/users/%u/#\n"
                      "read %o/shared/# max_qos=1\nwrite %o/clients/%c/# retain=false\n");
  const std::string file = (dir / "acl.conf").string();
  const auto check = [&](std::vector<std::string> args, bool allowed, const std::string& rule,
                         const std::string& source) {
    std::vector<std::string> full{"--json", "acl", "check", "--org", "o1", "--user", "u1"};
    full.insert(full.end(), args.begin(), args.end());
    const auto r = ctl(full);
    INFO(r.out << r.err);
    CHECK(r.exit_code == (allowed ? 0 : 1));
    const auto v = parse_json(r.out);
    CHECK(v["allowed"].asBool() == allowed);
    CHECK(v["rule"].asString() == rule);
    CHECK(v["source"].asString() == source);
  };
  // Default templates.
  check({"--publish", "o1/users/u1/x"}, true, "readwrite %o/users/%u/#", "template");
  check({"--subscribe", "o1/shared/#"}, true, "readwrite %o/shared/#", "template");
  check({"--publish", "o1/users/u2/x"}, false, "", "default");
  check({"--subscribe", "#"}, false, "", "default");
  // A rule file: first match decides, deny wins over a later allow.
  check({"--acl-file", file, "--publish", "o1/users/u1/secret/k"}, false,
        "deny %o/users/%u/secret/#", "template");
  check({"--acl-file", file, "--deliver", "o1/shared/news"}, true, "read %o/shared/# max_qos=1",
        "template");
  check({"--acl-file", file, "--publish", "o1/shared/news"}, false, "", "default");
  check({"--acl-file", file, "--client-id", "c7", "--publish", "o1/clients/c7/x", "--retain"},
        false, "write %o/clients/%c/# retain=false", "template");
  check({"--acl-file", file, "--client-id", "c7", "--publish", "o1/clients/c7/x"}, true,
        "write %o/clients/%c/# retain=false", "template");
  // A scope narrows the templates: both must allow.
  check({"--scope", "read %o/users/%u/in/#", "--subscribe", "o1/users/u1/in/+"}, true,
        "read %o/users/%u/in/#", "scope");
  check({"--scope", "read %o/users/%u/in/#", "--publish", "o1/users/u1/in/x"}, false, "",
        "default");
  // Human output names the decision and the rule.
  const auto human = ctl({"acl", "check", "--org", "o1", "--user", "u1", "--publish",
                          "o1/users/u1/x"});
  CHECK(human.out.find("allow") == 0);
  CHECK(human.out.find("readwrite %o/users/%u/#") != std::string::npos);
  CHECK(ctl({"acl", "check", "--org", "o1", "--user", "u1"}).exit_code == 2);
}

TEST_CASE("shortcredctl acl lint reports every error with its line", "[ctl]") {
  Ctl ctl;
  support::TempDir dir("shortcred-lint");
  support::write_file(dir / "good.conf", "readwrite %o/users/%u/#\n# c\n\nread %o/shared/#\n");
  support::write_file(dir / "bad.conf", "readwrite %o/#\nfly a/b\nread a/#/b\nread %x/y\n");
  auto v = ctl.json({"acl", "lint", (dir / "good.conf").string()});
  CHECK(v["ok"].asBool());
  v = ctl.json({"acl", "lint", (dir / "bad.conf").string()}, 1);
  CHECK_FALSE(v["ok"].asBool());
  REQUIRE(v["errors"].size() == 3);
  CHECK(v["errors"][0]["line"].asInt() == 2);
  CHECK(v["errors"][1]["line"].asInt() == 3);
  CHECK(v["errors"][2]["line"].asInt() == 4);
}

TEST_CASE("shortcredctl org set --disabled takes the usual on/off words and stores 1 or 0",
          "[ctl]") {
  Ctl ctl;
  REQUIRE(ctl({"org", "create", "--id", "org_w"}).exit_code == 0);
  auto c = ctl.redis.connect();
  const auto stored = [&] {
    return shortcred::redis::to_string(c.command({"HGET", "shortcred:{org_w}:org", "disabled"}).get());
  };
  for (const char* on : {"true", "yes", "ON", " 1", "True "}) {
    CAPTURE(on);
    CHECK(ctl.json({"org", "set", "org_w", "--disabled", on})["disabled"].asString() == "1");
    CHECK(stored() == "1");
    CHECK(ctl({"token", "mint", "--org", "org_w", "--user", "alice"}).exit_code == 1);
  }
  for (const char* off : {"false", "no", "Off", "0", ""}) {
    CAPTURE(off);
    CHECK(ctl.json({"org", "set", "org_w", "--disabled", off})["disabled"].asString() == "0");
    CHECK(stored() == "0");
  }
  CHECK(ctl({"token", "mint", "--org", "org_w", "--user", "alice"}).exit_code == 0);
  // Anything else is a usage error and changes nothing.
  for (const char* bad : {"01", "2", "maybe", "disabled", "y"}) {
    CAPTURE(bad);
    const auto r = ctl({"org", "set", "org_w", "--disabled", bad});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("--disabled must be 1/true/yes/on or 0/false/no/off, got '" +
                     std::string(bad) + "'") != std::string::npos);
    CHECK(stored() == "0");
  }
}

TEST_CASE("shortcredctl refuses to mint into an org whose stored disabled is unrecognised",
          "[ctl]") {
  Ctl ctl;
  REQUIRE(ctl({"org", "create", "--id", "org_u"}).exit_code == 0);
  auto c = ctl.redis.connect();
  c.command({"HSET", "shortcred:{org_u}:org", "disabled", "01"});
  const auto r = ctl({"token", "mint", "--org", "org_u", "--user", "alice"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("unrecognised value") != std::string::npos);
}

TEST_CASE("shortcredctl acl lint warns on templates not anchored to %o without failing",
          "[ctl]") {
  Ctl ctl;
  support::TempDir dir("shortcred-lint");
  support::write_file(dir / "warn.conf",
                      "readwrite %o/users/%u/#\nread %c/inbox\ndeny %u/#\nwrite %u/out\n");
  const std::string file = (dir / "warn.conf").string();
  auto v = ctl.json({"acl", "lint", file});  // exit 0: warnings are advice
  CHECK(v["ok"].asBool());
  CHECK(v["errors"].size() == 0);
  REQUIRE(v["warnings"].size() == 2);
  CHECK(v["warnings"][0]["line"].asInt() == 2);
  CHECK(v["warnings"][0]["message"].asString().find("'read %c/inbox' is not anchored") !=
        std::string::npos);
  CHECK(v["warnings"][1]["line"].asInt() == 4);

  const auto human = ctl({"acl", "lint", file});
  CHECK(human.exit_code == 0);
  CHECK(human.out.find(file + ":2: warning: 'read %c/inbox' is not anchored to the org") !=
        std::string::npos);
  CHECK(human.out.find(file + ": 4 rule(s), ok, 2 warning(s)") != std::string::npos);

  // Errors still fail, and the warnings come along.
  support::write_file(dir / "both.conf", "read %c/inbox\nfly a/b\n");
  v = ctl.json({"acl", "lint", (dir / "both.conf").string()}, 1);
  CHECK(v["errors"].size() == 1);
  CHECK(v["warnings"].size() == 1);

  // An anchored file has an empty list.
  support::write_file(dir / "good.conf", "readwrite %o/users/%u/#\nread %o/shared/#\n");
  CHECK(ctl.json({"acl", "lint", (dir / "good.conf").string()})["warnings"].size() == 0);
}

TEST_CASE("shortcredctl acl check warns on an --acl-file template not anchored to %o", "[ctl]") {
  Ctl ctl;
  support::TempDir dir("shortcred-acl");
  support::write_file(dir / "acl.conf", "readwrite %o/users/%u/#\nread %c/inbox\n");
  const std::string file = (dir / "acl.conf").string();
  // The attack the warning is about: a client of org o1 picks client id
  // `acme` and reads org acme's `acme/inbox`.
  auto r = ctl({"--json", "acl", "check", "--org", "o1", "--user", "u1", "--client-id", "acme",
                "--acl-file", file, "--subscribe", "acme/inbox"});
  CHECK(r.exit_code == 0);  // the decision decides the exit code, not the warning
  auto v = parse_json(r.out);
  CHECK(v["allowed"].asBool());
  REQUIRE(v["warnings"].size() == 1);
  CHECK(v["warnings"][0]["line"].asInt() == 2);

  r = ctl({"acl", "check", "--org", "o1", "--user", "u1", "--acl-file", file, "--publish",
           "o1/users/u1/x"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("allow") == 0);
  CHECK(r.err.find("warning: " + file + ":2: 'read %c/inbox' is not anchored") !=
        std::string::npos);
  // Built-in templates: no warnings.
  r = ctl({"--json", "acl", "check", "--org", "o1", "--user", "u1", "--publish", "o1/users/u1/x"});
  CHECK(parse_json(r.out)["warnings"].size() == 0);
}
