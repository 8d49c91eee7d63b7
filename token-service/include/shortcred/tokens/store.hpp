// The Redis side of issuing and revoking credentials (DESIGN.md "Redis
// schema"). One implementation, used by shortcred-tokend and shortcredctl.
//
// Issue  = WATCH user index + TYPE + ZCOUNT of its live members (the
//          max_tokens_per_user cap), then one MULTI/EXEC: HSET cred +
//          PEXPIREAT, ZADD user index + trim of expired members + PEXPIREAT
//          NX/GT (the index lives as long as its latest credential), XADD
//          audit MAXLEN ~ 100000; a refresh with revoke_old also revokes the
//          old credential in it.
// Revoke = one MULTI/EXEC: DEL cred, ZREM index, XADD audit, PUBLISH on
//          `<prefix>revoked` so brokers disconnect at once. A user's
//          credentials go in batches (revoke_user).
//
// Every function takes a live connection and returns a Status; Code::
// unavailable means the connection failed (the caller drops it), Code::busy
// that Redis answered "not now" (LOADING…), Code::internal that it answered
// an error about the data (WRONGTYPE…). A failed issue leaves no credential.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "shortcred/redis/client.hpp"
#include "shortcred/schema.hpp"
#include "shortcred/secrets.hpp"
#include "shortcred/tokens/status.hpp"

namespace shortcred::tokens {

// The cap of every TTL and of an org's max_ttl: 365 days (the service's
// own --max-ttl limit), so now + ttl * 1000 cannot overflow.
inline constexpr std::int64_t kTtlCeiling = 365LL * 86400;

// --min-replicas / --replica-timeout-ms: how many replicas must confirm a
// write (WAIT) before it is acknowledged. 0: none.
struct Durability {
  int min_replicas = 0;
  int timeout_ms = 100;
};

// WAIT for d.min_replicas replicas to confirm everything this connection
// wrote: ok, not_replicated (fewer confirmed in time; the write stands on the
// master) or unavailable.
Status wait_replicas(redis::Client& c, const Durability& d);

struct StoreConfig {
  std::string prefix{kDefaultKeyPrefix};
  // An issue that fewer replicas confirmed is deleted again and answered
  // not_replicated, so no acknowledged credential vanishes in a failover.
  Durability durability;
  std::int64_t default_ttl = 3600;  // used when neither request nor org sets one
  std::int64_t max_ttl = 86400;     // used when the org hash has no max_ttl
  // Live credentials per user when the org hash has no max_tokens_per_user.
  std::int64_t max_tokens_per_user = kDefaultMaxTokensPerUser;
  // Told about stored data that was read fail-closed (an org whose `disabled`
  // holds an unrecognised value); the service logs it. May be empty.
  std::function<void(const std::string&)> warn;
};

// Who did it, for the audit stream.
struct AuditInfo {
  std::string apikey;  // key id, empty for shortcredctl
  std::string remote;  // peer address, or "shortcredctl"
  std::string actor;   // the operator (shortcredctl --actor, $SUDO_USER, $USER); empty for HTTP
};

struct IssueRequest {
  std::string org;
  std::string user;
  std::optional<std::int64_t> ttl_seconds;
  // A refresh without ttl_seconds: the lifetime of the credential it
  // refreshes, used in place of the defaults and capped at the org's current
  // max_ttl (lowered since, it must not make the refresh fail).
  std::optional<std::int64_t> inherited_ttl;
  std::vector<std::string> scope;  // already validated
  std::string client_id;           // already validated; empty = no binding
  std::string event = "issue";     // audit event name ("issue" | "refresh" | "exchange")
  Fields audit_extra;              // more audit fields (the exchange's `idp`)
  // An identity-provider exchange: the provider's max_ttl, a further upper
  // bound of ttl_seconds beside the org's (a default above it is lowered to
  // it), and the id token's expiry, which the credential never outlives.
  std::optional<std::int64_t> max_ttl;
  std::optional<std::int64_t> expires_by_ms;
  // A token id of the same user revoked in the same transaction (refresh
  // with revoke_old); it does not count against max_tokens_per_user.
  std::string replaces;
};

struct Issued {
  std::string token_id;
  std::string username;  // <user>@<org>
  std::string password;  // shown once; never logged
  std::int64_t issued_at_ms = 0;
  std::int64_t expires_at_ms = 0;
  std::int64_t ttl_seconds = 0;
  std::vector<std::string> scope;
  std::string client_id;
  bool replaced = false;  // `replaces` still existed and is now revoked
};

struct TokenInfo {
  std::string token_id;
  CredentialRecord record;  // secret_sha256 is never shown to anyone
};

std::int64_t now_ms();

// Reads the org hash. `exists` is false when the hash is missing.
Status read_org(redis::Client& c, const std::string& prefix, const std::string& org,
                OrgRecord& out, bool& exists);

// Resolves the TTL (request → inherited_ttl capped at max_ttl → org
// default_ttl → cfg.default_ttl), checks it
// against [60, org max_ttl or cfg.max_ttl], refuses a disabled org, refuses
// (Code::too_many, nothing written) a user who already holds
// max_tokens_per_user live credentials, mints and writes the credential.
// The count is atomic with the write: WATCH on the user index, then the
// MULTI/EXEC, retried when the index changed in between.
Status issue(redis::Client& c, const StoreConfig& cfg, const IssueRequest& req,
             const AuditInfo& who, const RandomSource& rnd, Issued& out);

// The credential of `org` with `token_id`; Code::not_found when absent.
Status get_credential(redis::Client& c, const std::string& prefix, const std::string& org,
                      const std::string& token_id, CredentialRecord& out);

Status revoke_token(redis::Client& c, const std::string& prefix, const std::string& org,
                    const std::string& token_id, const AuditInfo& who);

// Every cred key of the org, by SCAN (so it also finds credentials issued
// before the org index existed, or written by hand): `visit(token id)`
// for each; a visitor that fails stops the walk with its Status. Costs time
// proportional to all keys of the database: for admin commands only.
Status for_each_credential(redis::Client& c, const std::string& prefix, const std::string& org,
                           const std::function<Status(const std::string&)>& visit);

// Deletes every credential in the user's index, kRevokeBatch per batch
// (ZRANGE; EXISTS of each cred, pipelined; then MULTI: UNLINK the creds,
// ZREM them from the index, and an audit entry `revoke_user` whose `token`
// lists, space-separated, the batch's ids whose credential still existed,
// so neither an expired one nor one deleted by hand with redis-cli is
// audited as revoked; a batch without one writes none); the last round
// publishes `user <org> <user>`. `revoked` counts the credentials that still
// existed.
inline constexpr std::size_t kRevokeBatch = 500;
Status revoke_user(redis::Client& c, const std::string& prefix, const std::string& org,
                   const std::string& user, const AuditInfo& who, std::int64_t& revoked);

// One page of active credentials, of one user (its index) or of the whole
// org (the org index `{<org>}:tokens`), never by SCAN. Every page is bounded
// work for Redis: the index in its own order, expiry then token id; a page
// is one ZRANGE BYSCORE … LIMIT of at most limit + 1 members (more only to
// step over members that share the cursor's expiry), then one HGETALL per
// member; next_cursor is `<expiry ms>.<token id>` of its last entry. A
// member whose hash is gone is skipped, so a page may hold fewer than limit
// while more remain. Credentials issued before the org index existed are not
// in it (they expire within the max TTL).
//
inline constexpr std::size_t kDefaultListLimit = 100;
inline constexpr std::size_t kMaxListLimit = 1000;
struct ListRequest {
  std::optional<std::string> user;
  std::size_t limit = kDefaultListLimit;  // 1..kMaxListLimit
  std::string cursor;                     // empty = the first page
};
struct ListPage {
  std::vector<TokenInfo> tokens;
  std::string next_cursor;
};
// A cursor this listing did not hand out is Code::invalid naming `cursor`.
Status list_tokens(redis::Client& c, const std::string& prefix, const std::string& org,
                   const ListRequest& req, ListPage& out);

// Audit entry XADD argv (MAXLEN ~ 100000), for callers composing
// transactions: event, user, token, apikey, ttl, remote, then `actor` when
// there is one, then `extra` (e.g. `changes` of org_set).
std::vector<std::string> audit_command(const std::string& prefix, const std::string& org,
                                       const std::string& event, const std::string& user,
                                       const std::string& token, const AuditInfo& who,
                                       const std::string& ttl = {}, const Fields& extra = {});

// Runs `cmds` inside MULTI/EXEC in one round trip. On success `exec` is the
// EXEC array (one reply per command).
Status transaction(redis::Client& c, const std::vector<std::vector<std::string>>& cmds,
                   redis::Reply& exec);

// Maps a failed reply: null (I/O error, timeout) → unavailable; an error
// reply saying Redis cannot serve now (LOADING, BUSY, OOM… see
// transient_error) → busy; any other error reply (WRONGTYPE, ERR, NOPERM…)
// or an unexpected reply type → internal.
Status reply_status(redis::Client& c, const redis::Reply& r);
Status reply_status(const redisReply* r);  // r not null
bool transient_error(const redisReply* r);

}  // namespace shortcred::tokens
