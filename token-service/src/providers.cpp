#include "shortcred/tokens/providers.hpp"

#include <algorithm>

namespace shortcred::tokens {
namespace {

Status require_org(redis::Client& c, const std::string& prefix, const std::string& org) {
  redis::Reply r = c.command({"EXISTS", org_key(prefix, org)});
  if (!r || r->type != REDIS_REPLY_INTEGER) return reply_status(c, r);
  if (r->integer == 0) return Status::make(Code::not_found, "no organisation " + org);
  return Status::success();
}

Status read_hash(redis::Client& c, const std::string& key, Fields& out) {
  redis::Reply r = c.command({"HGETALL", key});
  if (!r || r->type != REDIS_REPLY_ARRAY) return reply_status(c, r);
  out = redis::to_pairs(r.get());
  return Status::success();
}

Status member_names(redis::Client& c, const std::string& prefix, const std::string& org,
                    std::vector<std::string>& out) {
  redis::Reply r = c.command({"SMEMBERS", jose::idps_key(prefix, org)});
  if (!r || r->type != REDIS_REPLY_ARRAY) return reply_status(c, r);
  for (std::size_t i = 0; i < r->elements; ++i) out.push_back(redis::to_string(r->element[i]));
  std::sort(out.begin(), out.end());
  return Status::success();
}

std::string value_of(const Fields& f, const std::string& name) {
  for (const auto& [k, v] : f) {
    if (k == name) return v;
  }
  return "(unset)";
}

// "audience (unset) → app, max_ttl 600 → (unset)"; newlines of scope shown as "; ".
std::string describe_changes(const Fields& before, const Fields& after) {
  std::string out;
  const auto shown = [](std::string v) {
    std::replace(v.begin(), v.end(), '\n', ';');
    return v;
  };
  for (auto field : jose::provider_fields()) {
    const std::string name(field);
    const std::string b = value_of(before, name), a = value_of(after, name);
    if (a == b) continue;
    if (!out.empty()) out += ", ";
    out += name + " " + shown(b) + " \u2192 " + shown(a);
  }
  return out.empty() ? "no change" : out;
}

}  // namespace

Status get_provider(redis::Client& c, const std::string& prefix, const std::string& org,
                    const std::string& name, Fields& fields) {
  if (Status s = require_org(c, prefix, org); !s.ok()) return s;
  if (Status s = read_hash(c, jose::idp_key(prefix, org, name), fields); !s.ok()) return s;
  if (fields.empty()) {
    return Status::make(Code::not_found, "organisation " + org + " has no identity provider " + name);
  }
  return Status::success();
}

Status list_providers(redis::Client& c, const std::string& prefix, const std::string& org,
                      std::vector<std::pair<std::string, Fields>>& out) {
  if (Status s = require_org(c, prefix, org); !s.ok()) return s;
  std::vector<std::string> names;
  if (Status s = member_names(c, prefix, org, names); !s.ok()) return s;
  for (const auto& n : names) {
    Fields f;
    if (Status s = read_hash(c, jose::idp_key(prefix, org, n), f); !s.ok()) return s;
    out.emplace_back(n, std::move(f));
  }
  return Status::success();
}

Status put_provider(redis::Client& c, const std::string& prefix, const std::string& org,
                    const jose::Provider& p, const AuditInfo& who) {
  const std::string set = jose::idps_key(prefix, org);
  const std::string key = jose::idp_key(prefix, org, p.name);
  for (int attempt = 0; attempt < 8; ++attempt) {
    if (redis::Reply w = c.command({"WATCH", set, key}); !w || w->type != REDIS_REPLY_STATUS) {
      return reply_status(c, w);
    }
    const auto fail = [&](Status s) {
      if (c.ok()) c.command({"UNWATCH"});
      return s;
    };
    if (Status s = require_org(c, prefix, org); !s.ok()) return fail(s);
    std::vector<std::string> names;
    if (Status s = member_names(c, prefix, org, names); !s.ok()) return fail(s);
    std::size_t others = 0;
    for (const auto& n : names) {
      if (n == p.name) continue;
      ++others;
      Fields f;
      if (Status s = read_hash(c, jose::idp_key(prefix, org, n), f); !s.ok()) return fail(s);
      if (value_of(f, "issuer") == p.issuer) {
        // A token selects its provider by iss: two with one issuer would
        // make the choice arbitrary.
        return fail(Status::invalid("provider " + n + " of " + org + " already has issuer " +
                                    p.issuer));
      }
    }
    if (others >= kMaxProvidersPerOrg) {
      return fail(Status::invalid("organisation " + org + " already has " +
                                  std::to_string(kMaxProvidersPerOrg) + " identity providers"));
    }
    Fields before;
    if (Status s = read_hash(c, key, before); !s.ok()) return fail(s);
    const Fields after = jose::provider_to_fields(p);
    std::vector<std::string> hset{"HSET", key};
    for (const auto& [k, v] : after) {
      hset.push_back(k);
      hset.push_back(v);
    }
    const std::vector<std::vector<std::string>> cmds{
        {"DEL", key},
        hset,
        {"SADD", set, p.name},
        audit_command(prefix, org, "idp_set", "", "", who, "",
                      {{"idp", p.name}, {"changes", describe_changes(before, after)}}),
    };
    redis::Reply exec;
    const Status s = transaction(c, cmds, exec);
    if (s.ok() || !exec || exec->type != REDIS_REPLY_NIL) return s;
  }
  return Status::make(Code::busy, "the providers of " + org + " kept changing; try again");
}

Status remove_provider(redis::Client& c, const std::string& prefix, const std::string& org,
                       const std::string& name, const AuditInfo& who) {
  Fields f;
  if (Status s = get_provider(c, prefix, org, name, f); !s.ok()) return s;
  const std::vector<std::vector<std::string>> cmds{
      {"DEL", jose::idp_key(prefix, org, name)},
      {"SREM", jose::idps_key(prefix, org), name},
      audit_command(prefix, org, "idp_remove", "", "", who, "",
                    {{"idp", name}, {"changes", "issuer " + value_of(f, "issuer")}}),
  };
  redis::Reply exec;
  return transaction(c, cmds, exec);
}

}  // namespace shortcred::tokens
