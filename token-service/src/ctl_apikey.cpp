// shortcredctl apikey create | list | revoke
#include <algorithm>
#include <ostream>

#include "ctl_internal.hpp"
#include "shortcred/ids.hpp"
#include "shortcred/secrets.hpp"
#include "shortcred/tokens/api_keys.hpp"
#include "shortcred/tokens/store.hpp"

namespace shortcred::tokens::ctl {
namespace {

Json::Value key_json(const ApiKeyInfo& k) {
  Json::Value v(Json::objectValue);
  v["key_id"] = k.key_id;
  v["org"] = k.org;
  v["name"] = k.name;
  v["created_at"] = k.created_at;
  if (!k.last_used_at.empty()) v["last_used_at"] = k.last_used_at;  // absent: never used
  return v;
}

int create(Context& ctx) {
  ctx.args.allow_only({"org", "name"});
  ctx.args.expect_positionals(0, "apikey create --org ORG [--name NAME]");
  const std::string org = org_option(ctx.args);
  const std::string name = ctx.args.get("name").value_or("");
  require_label(name, "--name", 0);
  ApiKeyInfo info;
  std::string key;
  if (Status s = create_api_key(ctx.redis(), ctx.prefix, org, name, openssl_random(), ctx.audit(),
                                info, key);
      !s.ok()) {
    return ctx.fail(s);
  }
  if (ctx.json) {
    Json::Value v = key_json(info);
    v["api_key"] = key;
    ctx.print_json(v);
  } else {
    *ctx.out << "key_id  " << info.key_id << "\napi_key " << key
             << "\n(the API key is shown only now: store it in your backend's secrets)\n";
  }
  return kExitOk;
}

int list(Context& ctx) {
  ctx.args.allow_only({"org"});
  ctx.args.expect_positionals(0, "apikey list --org ORG");
  const std::string org = org_option(ctx.args);
  std::vector<ApiKeyInfo> keys;
  if (Status s = list_api_keys(ctx.redis(), ctx.prefix, org, keys); !s.ok()) return ctx.fail(s);
  if (keys.empty()) {
    if (Status s = empty_listing_org(ctx, org); !s.ok()) return ctx.fail(s);
  }
  if (ctx.json) {
    Json::Value v(Json::objectValue);
    v["keys"] = Json::Value(Json::arrayValue);
    for (const auto& k : keys) v["keys"].append(key_json(k));
    ctx.print_json(v);
  } else {
    // last_used_at: the service's last request with the key, to the minute.
    for (const auto& k : keys) {
      std::string used = k.last_used_at.empty() ? "never" : k.last_used_at;
      used.resize(std::max<std::size_t>(used.size(), 20), ' ');  // RFC 3339's width
      *ctx.out << k.key_id << "  " << k.created_at << "  " << used << "  " << k.name << "\n";
    }
    if (keys.empty()) *ctx.out << "(no API keys)\n";
  }
  return kExitOk;
}

// --revoke-credentials also revokes every live credential the key issued
// (a leaked key: what it minted is as suspect as the key), also after the
// key itself was revoked: then --org names its org.
int revoke(Context& ctx) {
  ctx.args.allow_only({"revoke-credentials", "org"});
  constexpr const char* kUsage = "apikey revoke KEY_ID [--revoke-credentials [--org ORG]]";
  ctx.args.expect_positionals(1, kUsage);
  const std::string& id = ctx.args.positional[2];
  if (validate_token_id(id) != Errc::ok) {
    throw UsageError("key id '" + id + "' is not 16 characters of [0-9a-z]");
  }
  const bool with_creds = ctx.args.flag("revoke-credentials");
  if (!with_creds && ctx.args.get("org")) {
    throw UsageError("--org goes with --revoke-credentials (usage: shortcredctl " +
                     std::string(kUsage) + ")");
  }
  const std::string hint = with_creds && ctx.args.get("org") ? org_option(ctx.args) : "";
  std::string org;
  std::int64_t n = 0;
  bool key_was_live = true;
  const Status s = with_creds ? revoke_api_key_and_credentials(ctx.redis(), ctx.prefix, id,
                                                               ctx.audit(), hint, org, n,
                                                               key_was_live)
                              : revoke_api_key(ctx.redis(), ctx.prefix, id, ctx.audit());
  if (!s.ok()) return ctx.fail(s);
  // The revocation stands on the master either way; WAIT only tells
  // whether a failover could still lose it.
  if (Status w = wait_replicas(ctx.redis(), ctx.durability); !w.ok()) return ctx.fail(w);
  if (ctx.json) {
    Json::Value v(Json::objectValue);
    v["revoked"] = true;
    if (with_creds) {
      v["org"] = org;
      v["revoked_credentials"] = Json::Int64(n);
      if (!key_was_live) v["key_already_revoked"] = true;
    }
    ctx.print_json(v);
  } else if (!with_creds) {
    *ctx.out << "revoked API key " << id << "\n";
  } else {
    *ctx.out << (key_was_live ? "revoked API key " : "API key ") << id
             << (key_was_live ? "" : " was revoked already") << "; revoked the " << n
             << " credential(s) it issued in " << org << "\n";
  }
  return kExitOk;
}

}  // namespace

int cmd_apikey(Context& ctx) {
  const auto& p = ctx.args.positional;
  const std::string sub = p.size() > 1 ? p[1] : "";
  if (sub == "create") return create(ctx);
  if (sub == "list") return list(ctx);
  if (sub == "revoke") return revoke(ctx);
  throw UsageError("apikey: expected create, list or revoke");
}

}  // namespace shortcred::tokens::ctl
