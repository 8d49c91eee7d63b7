// shortcredctl token mint | list | show | revoke | revoke-user
#include <ostream>

#include "ctl_internal.hpp"
#include "shortcred/ids.hpp"
#include "shortcred/schema.hpp"
#include "shortcred/time.hpp"
#include "shortcred/tokens/json_body.hpp"
#include "shortcred/tokens/store.hpp"
#include "shortcred/tokens/validation.hpp"

namespace shortcred::tokens::ctl {
namespace {

void require_user_id(const std::string& field, const std::string& user) {
  if (Status s = validate_user_field(field, user); !s.ok()) throw UsageError(s.message);
}

void require_token_id(const std::string& id) {
  if (validate_token_id(id) != Errc::ok) {
    throw UsageError("token id '" + id + "' is not 16 characters of [0-9a-z]");
  }
}

int mint(Context& ctx) {
  const Args& a = ctx.args;
  a.allow_only({"org", "user", "ttl", "scope", "client-id"});
  a.expect_positionals(0,
                       "token mint --org ORG --user USER [--ttl S] [--scope RULE]... "
                       "[--client-id ID]");
  IssueRequest req;
  req.org = org_option(a);
  req.user = a.require("user");
  require_user_id("--user", req.user);
  if (auto ttl = a.get("ttl")) {
    std::uint64_t v = 0;
    if (!parse_u64(*ttl, v) || v > 1'000'000'000) {
      throw UsageError("--ttl must be a whole number of seconds, got '" + *ttl + "'");
    }
    req.ttl_seconds = static_cast<std::int64_t>(v);
  }
  req.scope = a.all("scope");
  if (Status s = validate_scope_field("--scope", req.scope); !s.ok()) throw UsageError(s.message);
  if (auto cid = a.get("client-id")) {
    if (Status s = validate_client_id_field("--client-id", *cid); !s.ok()) {
      throw UsageError(s.message);
    }
    req.client_id = *cid;
  }
  StoreConfig cfg;
  cfg.prefix = ctx.prefix;
  cfg.durability = ctx.durability;
  Issued t;
  if (Status s = issue(ctx.redis(), cfg, req, ctx.audit(), openssl_random(), t); !s.ok()) {
    return ctx.fail(s);
  }
  if (ctx.json) {
    ctx.print_json(issued_json(t, now_ms()));
  } else {
    *ctx.out << "token_id   " << t.token_id << "\nusername   " << t.username << "\npassword   "
             << t.password << "\nexpires_at " << format_rfc3339(t.expires_at_ms / 1000) << "\n";
  }
  return kExitOk;
}

int list(Context& ctx) {
  const Args& a = ctx.args;
  a.allow_only({"org", "user", "limit", "cursor"});
  a.expect_positionals(0, "token list --org ORG [--user USER] [--limit N] [--cursor C]");
  ListRequest req;
  const std::string org = org_option(a);
  req.user = a.get("user");
  if (req.user) require_user_id("--user", *req.user);
  if (auto limit = a.get("limit")) {
    std::uint64_t n = 0;
    if (!parse_u64(*limit, n) || n < 1 || n > kMaxListLimit) {
      throw UsageError("--limit must be a whole number in 1-" + std::to_string(kMaxListLimit) +
                       ", got '" + *limit + "'");
    }
    req.limit = static_cast<std::size_t>(n);
  }
  req.cursor = a.get("cursor").value_or("");
  ListPage page;
  if (Status s = list_tokens(ctx.redis(), ctx.prefix, org, req, page); !s.ok()) {
    return ctx.fail(s);
  }
  if (page.tokens.empty() && req.cursor.empty()) {
    if (Status s = empty_listing_org(ctx, org); !s.ok()) return ctx.fail(s);
  }
  if (ctx.json) {
    ctx.print_json(token_page_json(page));
    return kExitOk;
  }
  for (const auto& t : page.tokens) {
    *ctx.out << t.token_id << "  " << t.record.user << "  expires "
             << format_rfc3339(t.record.expires_at_ms / 1000);
    if (!t.record.client_id.empty()) *ctx.out << "  client_id " << t.record.client_id;
    if (!t.record.scope.empty()) *ctx.out << "  scope " << t.record.scope.size() << " rule(s)";
    *ctx.out << "\n";
  }
  if (page.tokens.empty() && page.next_cursor.empty()) *ctx.out << "(no active credentials)\n";
  if (!page.next_cursor.empty()) *ctx.out << "(more: --cursor " << page.next_cursor << ")\n";
  return kExitOk;
}

// One credential, never its secret or the secret's hash.
int show(Context& ctx) {
  ctx.args.allow_only({});
  ctx.args.expect_positionals(2, "token show ORG TOKEN_ID");
  const std::string& org = ctx.args.positional[2];
  const std::string& id = ctx.args.positional[3];
  require_org_id(org);
  require_token_id(id);
  TokenInfo t{id, {}};
  if (Status s = get_credential(ctx.redis(), ctx.prefix, org, id, t.record); !s.ok()) {
    return ctx.fail(s);
  }
  if (ctx.json) {
    ctx.print_json(token_info_json(t));
    return kExitOk;
  }
  const CredentialRecord& r = t.record;
  *ctx.out << "token_id   " << id << "\nusername   " << r.user << "@" << org << "\nissued_at  "
           << format_rfc3339(r.issued_at_ms / 1000) << "\nexpires_at "
           << format_rfc3339(r.expires_at_ms / 1000) << "\nclient_id  "
           << (r.client_id.empty() ? "(any)" : r.client_id) << "\napikey     "
           << (r.apikey.empty() ? "(shortcredctl)" : r.apikey) << "\n";
  if (r.scope.empty()) *ctx.out << "scope      (none: the templates alone)\n";
  for (const auto& rule : r.scope) *ctx.out << "scope      " << rule << "\n";
  return kExitOk;
}

int revoke(Context& ctx) {
  ctx.args.allow_only({});
  ctx.args.expect_positionals(2, "token revoke ORG TOKEN_ID");
  const std::string& org = ctx.args.positional[2];
  const std::string& id = ctx.args.positional[3];
  require_org_id(org);
  require_token_id(id);
  if (Status s = revoke_token(ctx.redis(), ctx.prefix, org, id, ctx.audit());
      !s.ok() || !(s = wait_replicas(ctx.redis(), ctx.durability)).ok()) {
    return ctx.fail(s);
  }
  if (ctx.json) {
    Json::Value v(Json::objectValue);
    v["revoked"] = true;
    v["token_id"] = id;
    ctx.print_json(v);
  } else {
    *ctx.out << "revoked " << id << "\n";
  }
  return kExitOk;
}

int revoke_all(Context& ctx) {
  ctx.args.allow_only({});
  ctx.args.expect_positionals(2, "token revoke-user ORG USER");
  const std::string& org = ctx.args.positional[2];
  const std::string& user = ctx.args.positional[3];
  require_org_id(org);
  require_user_id("USER", user);
  std::int64_t n = 0;
  if (Status s = revoke_user(ctx.redis(), ctx.prefix, org, user, ctx.audit(), n);
      !s.ok() || !(s = wait_replicas(ctx.redis(), ctx.durability)).ok()) {
    return ctx.fail(s);
  }
  if (ctx.json) {
    Json::Value v(Json::objectValue);
    v["revoked"] = Json::Int64(n);
    ctx.print_json(v);
  } else {
    *ctx.out << "revoked " << n << " credential(s) of " << user << "@" << org << "\n";
  }
  return kExitOk;
}

}  // namespace

int cmd_token(Context& ctx) {
  const auto& p = ctx.args.positional;
  const std::string sub = p.size() > 1 ? p[1] : "";
  if (sub == "mint") return mint(ctx);
  if (sub == "list") return list(ctx);
  if (sub == "show") return show(ctx);
  if (sub == "revoke") return revoke(ctx);
  if (sub == "revoke-user") return revoke_all(ctx);
  throw UsageError("token: expected mint, list, show, revoke or revoke-user");
}

}  // namespace shortcred::tokens::ctl
