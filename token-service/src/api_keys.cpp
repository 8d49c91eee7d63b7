#include "shortcred/tokens/api_keys.hpp"

#include <algorithm>

#include "shortcred/schema.hpp"
#include "shortcred/time.hpp"

namespace shortcred::tokens {

Status create_api_key(redis::Client& c, const std::string& prefix, const std::string& org,
                      const std::string& name, const RandomSource& rnd, const AuditInfo& who,
                      ApiKeyInfo& info, std::string& api_key) {
  redis::Reply exists = c.command({"EXISTS", org_key(prefix, org)});
  if (!exists || exists->type != REDIS_REPLY_INTEGER) return reply_status(c, exists);
  if (exists->integer == 0) return Status::make(Code::not_found, "no organisation " + org);
  Minted m = mint_api_key(rnd);
  info = ApiKeyInfo{m.id, org, name, format_rfc3339(now_ms() / 1000), {}};
  // The key hash has a slot of its own (it is found by key id alone), so on
  // a Redis Cluster it cannot share the org's transaction. The org's set
  // and audit go first: if the key hash is not written after them, the set
  // holds a stale id (list_api_keys skips it) and no key was handed out.
  const std::vector<std::vector<std::string>> org_cmds{
      {"SADD", org_apikeys_key(prefix, org), m.id},
      audit_command(prefix, org, "apikey_create", "", "", AuditInfo{m.id, who.remote, who.actor}),
  };
  redis::Reply exec;
  if (Status s = transaction(c, org_cmds, exec); !s.ok()) return s;
  redis::Reply hset = c.command({"HSET", apikey_key(prefix, m.id), "org", org, "name", name,
                                 "secret_sha256", m.sha256_hex, "created_at", info.created_at});
  if (!hset || hset->type != REDIS_REPLY_INTEGER) return reply_status(c, hset);
  api_key = std::move(m.full);
  return Status::success();
}

Status list_api_keys(redis::Client& c, const std::string& prefix, const std::string& org,
                     std::vector<ApiKeyInfo>& out) {
  redis::Reply ids = c.command({"SMEMBERS", org_apikeys_key(prefix, org)});
  if (!ids || ids->type != REDIS_REPLY_ARRAY) return reply_status(c, ids);
  out.clear();
  for (std::size_t i = 0; i < ids->elements; ++i) {
    const std::string id = redis::to_string(ids->element[i]);
    redis::Reply h = c.command({"HGETALL", apikey_key(prefix, id)});
    if (!h || h->type != REDIS_REPLY_ARRAY) return reply_status(c, h);
    if (h->elements == 0) continue;  // deleted by hand; the set entry is stale
    ApiKeyInfo k{id, org, {}, {}, {}};
    for (const auto& [f, v] : redis::to_pairs(h.get())) {
      if (f == "name") k.name = v;
      if (f == "created_at") k.created_at = v;
      if (f == "last_used_at") k.last_used_at = v;
    }
    out.push_back(std::move(k));
  }
  std::sort(out.begin(), out.end(),
            [](const ApiKeyInfo& a, const ApiKeyInfo& b) { return a.created_at < b.created_at; });
  return Status::success();
}

Status revoke_api_key(redis::Client& c, const std::string& prefix, const std::string& key_id,
                      const AuditInfo& who) {
  redis::Reply org = c.command({"HGET", apikey_key(prefix, key_id), "org"});
  if (!org) return reply_status(c, org);
  if (org->type == REDIS_REPLY_NIL) return Status::make(Code::not_found, "no API key " + key_id);
  if (org->type != REDIS_REPLY_STRING) return reply_status(c, org);
  const std::string o = redis::to_string(org.get());
  // The key hash first (own slot, see create_api_key): from then on it
  // authenticates nothing; a failure after it leaves a stale set entry.
  redis::Reply del = c.command({"DEL", apikey_key(prefix, key_id)});
  if (!del || del->type != REDIS_REPLY_INTEGER) return reply_status(c, del);
  const std::vector<std::vector<std::string>> cmds{
      {"SREM", org_apikeys_key(prefix, o), key_id},
      audit_command(prefix, o, "apikey_revoke", "", "", AuditInfo{key_id, who.remote, who.actor}),
  };
  redis::Reply exec;
  return transaction(c, cmds, exec);
}

Status revoke_api_key_and_credentials(redis::Client& c, const std::string& prefix,
                                      const std::string& key_id, const AuditInfo& who,
                                      const std::string& org_hint, std::string& org,
                                      std::int64_t& revoked, bool& key_was_live) {
  revoked = 0;
  key_was_live = false;
  redis::Reply o = c.command({"HGET", apikey_key(prefix, key_id), "org"});
  if (!o) return reply_status(c, o);
  if (o->type == REDIS_REPLY_STRING) {
    org = redis::to_string(o.get());
    if (!org_hint.empty() && org_hint != org) {
      return Status::make(Code::forbidden,
                          "API key " + key_id + " is of organisation " + org + ", not " + org_hint);
    }
    // The key first: from here on it issues nothing the walk below could miss.
    if (Status s = revoke_api_key(c, prefix, key_id, who); !s.ok()) return s;
    key_was_live = true;
  } else if (o->type != REDIS_REPLY_NIL) {
    return reply_status(c, o);
  } else if (org_hint.empty()) {
    return Status::make(Code::not_found, "no API key " + key_id +
                                             " (revoked already? --org ORG still revokes the "
                                             "credentials it issued)");
  } else {
    // Revoked before: its org is only known from the operator.
    org = org_hint;
    redis::Reply ex = c.command({"EXISTS", org_key(prefix, org)});
    if (!ex || ex->type != REDIS_REPLY_INTEGER) return reply_status(c, ex);
    if (ex->integer == 0) return Status::make(Code::not_found, "no organisation " + org);
  }
  std::vector<std::string> ids;
  Status walk = for_each_credential(c, prefix, org, [&](const std::string& id) {
    redis::Reply k = c.command({"HGET", cred_key(prefix, org, id), "apikey"});
    if (!k) return reply_status(c, k);
    if (k->type == REDIS_REPLY_STRING && redis::to_string(k.get()) == key_id) ids.push_back(id);
    return Status::success();
  });
  if (!walk.ok()) return walk;
  for (const auto& id : ids) {
    const Status s = revoke_token(c, prefix, org, id, who);
    if (s.ok()) ++revoked;
    if (!s.ok() && s.code != Code::not_found) return s;  // not_found: expired meanwhile
  }
  return Status::success();
}

AuthResult authenticate(redis::Client& c, const std::string& prefix, std::string_view api_key,
                        ApiKeyInfo& out) {
  SecretParts parts;
  if (parse_api_key(api_key, parts) != Errc::ok) return AuthResult::malformed;
  redis::Reply h = c.command({"HGETALL", apikey_key(prefix, parts.id)});
  if (!h) return AuthResult::unavailable;
  // "Could not ask" is never "denied": an error reply (LOADING, NOPERM,
  // WRONGTYPE, OOM…) or any reply but an array is a backend failure.
  if (h->type != REDIS_REPLY_ARRAY) {
    return transient_error(h.get()) ? AuthResult::busy : AuthResult::backend_error;
  }
  if (h->elements == 0) return AuthResult::unknown;
  std::string org, sha, name, last_used;
  for (const auto& [f, v] : redis::to_pairs(h.get())) {
    if (f == "org") org = v;
    if (f == "secret_sha256") sha = v;
    if (f == "name") name = v;
    if (f == "last_used_at") last_used = v;
  }
  if (org.empty() || !verify_secret(parts.secret, sha)) return AuthResult::unknown;
  out =
      ApiKeyInfo{std::string(parts.id), std::move(org), std::move(name), {}, std::move(last_used)};
  return AuthResult::ok;
}

bool last_used_due(const std::string& last_used_at, std::int64_t now_s) {
  std::int64_t t = 0;
  if (last_used_at.empty() || parse_rfc3339(last_used_at, t) != Errc::ok) return true;
  return now_s - t >= kLastUsedResolutionS;
}

// KEYS[1] the key hash; ARGV[1] the value the caller saw ("" for none),
// ARGV[2] now. A compare-and-set: equality only, so no clock or collation
// question arises in Redis. A key without `org` is gone (revoked): HSET would
// recreate it as a hash holding only last_used_at. Returns 1 when it wrote.
constexpr const char* kTouchScript =
    "if redis.call('HEXISTS', KEYS[1], 'org') == 0 then return 0 end\n"
    "local last = redis.call('HGET', KEYS[1], 'last_used_at')\n"
    "if (last or '') ~= ARGV[1] then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'last_used_at', ARGV[2])\n"
    "return 1\n";

Status touch_api_key(redis::Client& c, const std::string& prefix, const std::string& key_id,
                     const std::string& seen, std::int64_t now_s, bool& written) {
  written = false;
  redis::Reply r = c.command(
      {"EVAL", kTouchScript, "1", apikey_key(prefix, key_id), seen, format_rfc3339(now_s)});
  if (!r || r->type != REDIS_REPLY_INTEGER) return reply_status(c, r);
  written = r->integer == 1;
  return Status::success();
}

}  // namespace shortcred::tokens
