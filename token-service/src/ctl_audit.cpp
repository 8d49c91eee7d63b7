// shortcredctl audit ORG [--since T] [--limit N] [--follow]: the org's audit
// stream (`<prefix>{<org>}:audit`) as a table, or one JSON object a line with
// --json. The stream outlives `org delete`, so a deleted org's trail reads too.
#include <algorithm>
#include <ostream>

#include "ctl_internal.hpp"
#include "shortcred/schema.hpp"
#include "shortcred/time.hpp"
#include "shortcred/tokens/json_body.hpp"

namespace shortcred::tokens::ctl {
namespace {

constexpr std::uint64_t kDefaultAuditLimit = 20;
constexpr std::uint64_t kMaxAuditLimit = 100000;  // the stream's MAXLEN
constexpr const char* kUsage = "audit ORG [--since T] [--limit N] [--follow]";

struct Entry {
  std::string id;  // <ms>-<seq>
  Fields fields;
};

std::vector<Entry> entries_of(const redisReply* r) {
  std::vector<Entry> out;
  for (std::size_t i = 0; i < r->elements; ++i) {
    const redisReply* e = r->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2) continue;
    out.push_back(Entry{redis::to_string(e->element[0]), redis::to_pairs(e->element[1])});
  }
  return out;
}

std::string entry_time(const std::string& id) {
  std::uint64_t ms = 0;
  if (!parse_u64(id.substr(0, id.find('-')), ms)) return id;
  return format_rfc3339(static_cast<std::int64_t>(ms / 1000));
}

std::string field(const Fields& f, const std::string& name) {
  for (const auto& [k, v] : f) {
    if (k == name) return v;
  }
  return {};
}

// Who wrote it: the operator of a shortcredctl entry, else the API key id,
// then where from.
std::string who(const Fields& f) {
  std::string w = field(f, "actor");
  if (w.empty()) w = field(f, "apikey").empty() ? "-" : "key " + field(f, "apikey");
  return w + " (" + field(f, "remote") + ")";
}

// The fields that are not columns, as `name=value`.
std::string detail(const Fields& f) {
  std::string out;
  for (const auto& [k, v] : f) {
    // The key id is in the who column unless an operator is named there.
    const bool shown = k == "apikey" && field(f, "actor").empty();
    if (k == "event" || k == "user" || k == "token" || k == "actor" || k == "remote" || shown ||
        v.empty()) {
      continue;
    }
    if (!out.empty()) out += "  ";
    out += table_text(k) + "=" + table_text(v);
  }
  return out;
}

void print_entry(Context& ctx, const Entry& e) {
  if (ctx.json) {
    Json::Value v(Json::objectValue);
    v["id"] = e.id;
    v["time"] = entry_time(e.id);
    for (const auto& [k, val] : e.fields) v[k] = val;
    *ctx.out << to_json_text(v) << "\n";
  } else {
    const auto dash = [](const std::string& s) { return s.empty() ? std::string("-") : s; };
    *ctx.out << entry_time(e.id) << "  " << dash(table_text(field(e.fields, "event"))) << "  "
             << table_text(who(e.fields)) << "  user " << dash(table_text(field(e.fields, "user")))
             << "  token " << dash(table_text(field(e.fields, "token")));
    const std::string d = detail(e.fields);
    if (!d.empty()) *ctx.out << "  " << d;
    *ctx.out << "\n";
  }
  ctx.out->flush();  // --follow: each entry as it comes
}

// --since: RFC 3339 or unix seconds → the first stream id at that second.
std::string since_id(const std::string& t) {
  std::uint64_t secs = 0;
  std::int64_t parsed = 0;
  if (parse_u64(t, secs) && secs < 1'000'000'000'000ULL) return std::to_string(secs * 1000);
  if (parse_rfc3339(t, parsed) == Errc::ok && parsed >= 0) return std::to_string(parsed * 1000);
  throw UsageError(
      "--since must be an RFC 3339 time (2026-11-27T18:40:52Z) or unix seconds, got '" + t + "'");
}

std::uint64_t limit_option(const Args& a) {
  const auto l = a.get("limit");
  if (!l) return kDefaultAuditLimit;
  std::uint64_t n = 0;
  if (!parse_u64(*l, n) || n < 1 || n > kMaxAuditLimit) {
    throw UsageError("--limit must be a whole number in 1-" + std::to_string(kMaxAuditLimit) +
                     ", got '" + *l + "'");
  }
  return n;
}

// A stream that is empty or absent, of an org that does not exist either, is
// most likely a typo: not found, not an empty table.
Status check_exists(redis::Client& c, const std::string& prefix, const std::string& org) {
  redis::Reply len = c.command({"XLEN", audit_key(prefix, org)});
  if (!len || len->type != REDIS_REPLY_INTEGER) return reply_status(c, len);
  if (len->integer > 0) return Status::success();
  redis::Reply ex = c.command({"EXISTS", org_key(prefix, org)});
  if (!ex || ex->type != REDIS_REPLY_INTEGER) return reply_status(c, ex);
  if (ex->integer == 0) {
    return Status::make(Code::not_found, "no organisation " + org + " and no audit entries for it");
  }
  return Status::success();
}

// Without --since (`since` empty) the newest `limit` (printed oldest
// first), with it the first `limit` from that stream id.
Status first_page(Context& ctx, const std::string& key, const std::string& since,
                  std::uint64_t limit, std::vector<Entry>& out) {
  const std::string n = std::to_string(limit);
  redis::Client& c = ctx.redis();
  if (!since.empty()) {
    redis::Reply r = c.command({"XRANGE", key, since, "+", "COUNT", n});
    if (!r || r->type != REDIS_REPLY_ARRAY) return reply_status(c, r);
    out = entries_of(r.get());
    return Status::success();
  }
  redis::Reply r = c.command({"XREVRANGE", key, "+", "-", "COUNT", n});
  if (!r || r->type != REDIS_REPLY_ARRAY) return reply_status(c, r);
  out = entries_of(r.get());
  std::reverse(out.begin(), out.end());
  return Status::success();
}

// New entries after `last` until the process is stopped (Ctrl-C). BLOCK
// stays under the connection's command timeout.
Status follow(Context& ctx, const std::string& key, std::string last) {
  redis::Client& c = ctx.redis();
  for (;;) {
    redis::Reply r = c.command({"XREAD", "COUNT", "1000", "BLOCK", "1000", "STREAMS", key, last});
    if (!r) return reply_status(c, r);
    if (r->type == REDIS_REPLY_NIL) continue;  // nothing within the second
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 || r->element[0]->elements != 2) {
      return reply_status(c, r);
    }
    for (const auto& e : entries_of(r->element[0]->element[1])) {
      print_entry(ctx, e);
      last = e.id;
    }
  }
}

}  // namespace

int cmd_audit(Context& ctx) {
  ctx.args.allow_only({"since", "limit", "follow"});
  if (ctx.args.positional.size() != 2)
    throw UsageError(std::string("usage: shortcredctl ") + kUsage);
  const std::string& org = ctx.args.positional[1];
  require_org_id(org);
  // Every usage error before Redis is asked: a bad --limit is exit 2 even
  // when Redis is down.
  const std::uint64_t limit = limit_option(ctx.args);
  const auto since = ctx.args.get("since");
  const std::string since_from = since ? since_id(*since) : "";
  const std::string key = audit_key(ctx.prefix, org);
  if (Status s = check_exists(ctx.redis(), ctx.prefix, org); !s.ok()) return ctx.fail(s);
  std::vector<Entry> page;
  if (Status s = first_page(ctx, key, since_from, limit, page); !s.ok()) return ctx.fail(s);
  for (const auto& e : page) print_entry(ctx, e);
  if (!ctx.args.flag("follow")) {
    if (page.empty() && !ctx.json) *ctx.out << "(no audit entries)\n";
    return kExitOk;
  }
  // Following from the last entry shown, or from now ("$" would miss an
  // entry written between the page and the first XREAD).
  std::string last = page.empty() ? std::to_string(now_ms()) + "-0" : page.back().id;
  if (Status s = follow(ctx, key, last); !s.ok()) return ctx.fail(s);
  return kExitOk;
}

}  // namespace shortcred::tokens::ctl
