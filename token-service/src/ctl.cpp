#include "shortcred/tokens/ctl.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <ostream>

#include "ctl_internal.hpp"
#include "shortcred/ids.hpp"
#include "shortcred/log_text.hpp"
#include "shortcred/redis/transport.hpp"
#include "shortcred/redis_url.hpp"
#include "shortcred/schema.hpp"
#include "shortcred/tokens/json_body.hpp"

namespace shortcred::tokens {
namespace ctl {
namespace {

// Options that take no value.
const std::vector<std::string> kFlags{
    "json", "retain", "help", "version", "force", "follow", "revoke-credentials"};

// Laid out for people and for help2man, which builds shortcredctl(1) from it:
// a command, two or more spaces, what it does; continuation lines indented to
// the description's column.
constexpr const char* kUsage =
    "Usage: shortcredctl [--redis URL] [--key-prefix P] [--json] [--actor NAME]\n"
    "                    [--min-replicas N [--replica-timeout-ms MS]] COMMAND ...\n"
    "   or: shortcredctl --help | --version\n"
    "\n"
    "Administers shortcred organisations, API keys and credentials in Redis.\n"
    "\n"
    "Commands:\n"
    "  org create [--id ID] [--name NAME]     create an org (no --id: org_<12 chars>)\n"
    "  org list                               every org: id, state, created_at, name\n"
    "  org show ORG                           an org's settings\n"
    "  org set ORG --FIELD VALUE...           set name, disabled on|off, default_ttl,\n"
    "                                         max_ttl, pub_rate, pub_burst,\n"
    "                                         max_connections, user_pub_rate,\n"
    "                                         user_max_connections, max_tokens_per_user,\n"
    "                                         exchange_rate, exchange_user_rate,\n"
    "                                         pub_rate_scope broker|global\n"
    "  org disable ORG, org enable ORG        refuse or allow its credentials again\n"
    "  org delete ORG [--force]               delete it; --force revokes its credentials\n"
    "                                         and API keys first\n"
    "  apikey create --org ORG [--name NAME]  print a new API key (shown once)\n"
    "  apikey list --org ORG                  the org's keys, never their secrets\n"
    "  apikey revoke KEY_ID [--revoke-credentials [--org ORG]]\n"
    "                                         revoke a key (and every credential it\n"
    "                                         issued; --org: of a key revoked before)\n"
    "  token mint --org ORG --user USER [--ttl S] [--scope RULE]... [--client-id ID]\n"
    "                                         issue a credential\n"
    "  token list --org ORG [--user USER] [--limit N] [--cursor C]\n"
    "                                         live credentials, page by page\n"
    "  token show ORG TOKEN_ID                one credential, without its secret\n"
    "  token revoke ORG TOKEN_ID              revoke one credential\n"
    "  token revoke-user ORG USER             revoke all credentials of a user\n"
    "  session list --org ORG [--user USER] [--presence-interval S]\n"
    "                                         live connections on every broker (S: the\n"
    "                                         brokers' presence interval, default 10)\n"
    "  session kick ORG CLIENT_ID [--presence-interval S]\n"
    "                                         the broker holding it disconnects it\n"
    "                                         (audited)\n"
    "  audit ORG [--since T] [--limit N] [--follow]\n"
    "                                         the org's audit stream (T: RFC 3339 or\n"
    "                                         unix seconds)\n"
    "  acl check --org ORG --user USER OPERATION [--client-id ID] [--scope RULE]...\n"
    "                                         [--acl-file F] [--qos N] [--retain]: the\n"
    "                                         broker's decision and the deciding rule;\n"
    "                                         OPERATION is --publish TOPIC, --subscribe\n"
    "                                         FILTER or --deliver TOPIC\n"
    "  acl lint FILE                          check an ACL template file\n"
    "  idp set --org ORG NAME --FIELD VALUE...\n"
    "                                         add or change an identity provider: --issuer,\n"
    "                                         --jwks-url, --audience, --azp, --user-claim,\n"
    "                                         --algorithms, --scope RULE..., --max-ttl,\n"
    "                                         --user-map refuse|encode|hash\n"
    "  idp show --org ORG NAME                one identity provider\n"
    "  idp list --org ORG                     the org's identity providers\n"
    "  idp remove --org ORG NAME              remove an identity provider\n"
    "\n"
    "--redis defaults to $SHORTCRED_REDIS_URL, else redis://127.0.0.1:6379/0;\n"
    "--key-prefix to $SHORTCRED_KEY_PREFIX, else shortcred:.\n"
    "--actor (the operator named in audit entries) to $SUDO_USER, else $USER,\n"
    "  else unknown.\n"
    "--min-replicas N: token mint/revoke/revoke-user, apikey revoke and org disable\n"
    "  (also org set --disabled 1) wait (WAIT) for N replicas, --replica-timeout-ms\n"
    "  (default 100) at most;\n"
    "  fewer: exit 1, not_replicated (a minted credential is deleted again; a\n"
    "  revocation or disable stands: retry).\n"
    "--json prints one JSON object on stdout (errors too).\n"
    "Every option takes - or _ alike (--pub-rate = --pub_rate).\n"
    "\n"
    "Exit codes: 0 ok, 1 refused / not found / denied / Redis unavailable, 2 usage error.\n";

std::string env_or(const char* name, std::string_view fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : std::string(fallback);
}

}  // namespace

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = options.find(name);
  if (it == options.end()) return std::nullopt;
  if (options.count(name) > 1) throw UsageError("--" + name + " given more than once");
  return it->second;
}

std::string Args::require(const std::string& name) const {
  auto v = get(name);
  if (!v) throw UsageError("missing --" + name);
  return *v;
}

std::vector<std::string> Args::all(const std::string& name) const {
  std::vector<std::string> out;
  auto [b, e] = options.equal_range(name);
  for (auto it = b; it != e; ++it) out.push_back(it->second);
  return out;
}

int int_option(const Args& a, const std::string& name, int fallback, int lo, int hi) {
  const auto v = a.get(name);
  if (!v) return fallback;
  int n = 0;
  const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (v->empty() || ec != std::errc() || end != v->data() + v->size() || n < lo || n > hi) {
    throw UsageError("--" + name + " '" + *v + "': expected an integer in " + std::to_string(lo) +
                     "-" + std::to_string(hi));
  }
  return n;
}

bool global_option(const std::string& name) {
  return name == "json" || name == "redis" || name == "key-prefix" || name == "actor" ||
         name == "min-replicas" || name == "replica-timeout-ms";
}

void Args::allow_only(const std::vector<std::string>& allowed) const {
  for (const auto& [k, v] : options) {
    if (global_option(k)) continue;
    bool ok = false;
    for (const auto& a : allowed) ok = ok || a == k;
    if (!ok) throw UsageError("unknown option --" + k + " for this command");
  }
}

void Args::expect_positionals(std::size_t n, const char* usage) const {
  if (positional.size() != n + 2) throw UsageError(std::string("usage: shortcredctl ") + usage);
}

Args parse_args(const std::vector<std::string>& argv) {
  Args a;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& s = argv[i];
    if (s.size() > 2 && s.rfind("--", 0) == 0) {
      std::string name = s.substr(2);
      std::string value;
      const auto eq = name.find('=');
      if (eq != std::string::npos) {
        value = name.substr(eq + 1);
        name.resize(eq);
      }
      // Every option takes `-` or `_` (`--pub-rate` = `--pub_rate`): org and
      // provider fields are stored with `_`, the other options are spelled
      // with `-`, and nobody should have to remember which is which.
      std::replace(name.begin(), name.end(), '_', '-');
      bool is_flag = false;
      for (const auto& f : kFlags) is_flag = is_flag || f == name;
      if (eq == std::string::npos && !is_flag) {
        if (i + 1 >= argv.size()) throw UsageError("--" + name + " needs a value");
        value = argv[++i];
      }
      a.options.emplace(std::move(name), std::move(value));
    } else if (s == "-h") {
      a.options.emplace("help", "");
    } else {
      a.positional.push_back(s);
    }
  }
  return a;
}

void require_label(const std::string& value, std::string_view what, std::size_t min_size) {
  if (value.size() < min_size || value.size() > 256 ||
      std::any_of(value.begin(), value.end(),
                  [](char ch) { return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f; })) {
    throw UsageError(std::string(what) + ": expected " + std::to_string(min_size) +
                     "-256 bytes without control characters");
  }
}

std::string table_text(std::string_view value) {
  return loggable(value, std::string_view::npos);
}

void require_org_id(const std::string& org, std::string_view what) {
  if (validate_org_id(org) != Errc::ok) {
    throw UsageError(std::string(what) + " '" + org + "' is not 1-64 characters of [A-Za-z0-9_-]");
  }
}

std::string org_option(const Args& a) {
  std::string org = a.require("org");
  require_org_id(org, "--org");
  return org;
}

redis::Client& Context::redis() {
  if (conn) return *conn;
  RedisEndpoint ep;
  std::string why;
  if (parse_redis_url(redis_url, ep, why) != Errc::ok) throw UsageError("--redis: " + why);
  if (!redis::check_tls_files(ep, why)) throw UsageError("--redis: " + why);
  std::string e;
  // WAIT may block for --replica-timeout-ms on top of the command timeout.
  const int wait_ms = durability.min_replicas > 0 ? durability.timeout_ms : 0;
  auto c = redis::Client::open(ep, std::chrono::milliseconds(2000 + wait_ms), e);
  if (!c.ok()) throw Failure(Status::make(Code::unavailable, e));
  conn.emplace(std::move(c));
  return *conn;
}

Status empty_listing_org(Context& ctx, const std::string& org) {
  redis::Client& c = ctx.redis();
  redis::Reply r = c.command({"EXISTS", org_key(ctx.prefix, org)});
  if (!r || r->type != REDIS_REPLY_INTEGER) return reply_status(c, r);
  if (r->integer == 0) return Status::make(Code::org_not_found, "no organisation " + org);
  return Status::success();
}

void Context::print_json(const Json::Value& v) const {
  *out << to_json_text(v) << "\n";
}

namespace {

// The `code` of a --json error; shared by every command, so scripts can
// branch on it (exit codes alone do not tell "not found" from "Redis down").
const char* error_code(Code c) {
  switch (c) {
    case Code::ok:
      return "ok";
    case Code::invalid:
      return "invalid_field";
    case Code::not_found:
      return "not_found";
    case Code::forbidden:
      return "forbidden";
    case Code::org_not_found:
      return "org_not_found";
    case Code::too_many:
      return "too_many_tokens";
    case Code::unavailable:
    case Code::busy:
      return "redis_unavailable";
    case Code::internal:
      return "internal_error";
    case Code::not_replicated:
      return "not_replicated";
  }
  return "internal_error";
}

}  // namespace

int Context::fail(const Status& s) const {
  if (json) print_json(error_json(error_code(s.code), s.message));
  *err << "shortcredctl: " << s.message << "\n";
  return s.code == Code::invalid ? kExitUsage : kExitRefused;
}

int Context::usage_error(const std::string& message) const {
  if (json) print_json(error_json("usage_error", message));
  *err << "shortcredctl: " << message << "\n(see shortcredctl --help)\n";
  return kExitUsage;
}

}  // namespace ctl

int run_ctl(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  ctl::Context ctx;
  ctx.out = &out;
  ctx.err = &err;
  // Known before parsing, so that a command line that does not parse is
  // still reported as JSON.
  for (const auto& a : argv) ctx.json = ctx.json || a == "--json";
  try {
    ctx.args = ctl::parse_args(argv);
    if (ctx.args.flag("help")) {
      out << ctl::kUsage;
      return kExitOk;
    }
    if (ctx.args.flag("version")) {
      out << "shortcredctl " SHORTCRED_VERSION "\n";
      return kExitOk;
    }
    if (ctx.args.positional.empty()) {
      if (!ctx.json) err << ctl::kUsage;
      throw ctl::UsageError("no command given");
    }
    ctx.redis_url =
        ctx.args.get("redis").value_or(ctl::env_or("SHORTCRED_REDIS_URL", kDefaultRedisUrl));
    ctx.prefix =
        ctx.args.get("key-prefix").value_or(ctl::env_or("SHORTCRED_KEY_PREFIX", kDefaultKeyPrefix));
    // As in shortcred-tokend: a brace would move the {<org>} hash tag.
    if (ctx.prefix.empty() || ctx.prefix.find_first_of("{}") != std::string::npos) {
      throw ctl::UsageError("--key-prefix '" + ctx.prefix +
                            "': expected a non-empty prefix without '{' or '}'");
    }
    ctx.actor =
        ctx.args.get("actor").value_or(ctl::env_or("SUDO_USER", ctl::env_or("USER", "unknown")));
    ctl::require_label(ctx.actor, "--actor", 1);
    ctx.durability.min_replicas = ctl::int_option(ctx.args, "min-replicas", 0, 0, 64);
    ctx.durability.timeout_ms = ctl::int_option(ctx.args, "replica-timeout-ms", 100, 1, 60000);
    const std::string& group = ctx.args.positional[0];
    if (group == "org") return ctl::cmd_org(ctx);
    if (group == "apikey") return ctl::cmd_apikey(ctx);
    if (group == "token") return ctl::cmd_token(ctx);
    if (group == "acl") return ctl::cmd_acl(ctx);
    if (group == "audit") return ctl::cmd_audit(ctx);
    if (group == "idp") return ctl::cmd_idp(ctx);
    if (group == "session") return ctl::cmd_session(ctx);
    throw ctl::UsageError("unknown command '" + group + "'");
  } catch (const ctl::UsageError& e) {
    return ctx.usage_error(e.what());
  } catch (const ctl::Failure& e) {
    return ctx.fail(e.status);
  } catch (const std::exception& e) {
    return ctx.fail(Status::make(Code::internal, e.what()));
  }
}

}  // namespace shortcred::tokens
