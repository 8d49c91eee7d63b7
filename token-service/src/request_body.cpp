#include "shortcred/tokens/request_body.hpp"

#include <json/json.h>


#include "shortcred/ids.hpp"
#include "shortcred/jose/strict_json.hpp"
#include "shortcred/tokens/validation.hpp"

namespace shortcred::tokens {
namespace {

BodyError error(int status, std::string code, std::string message) {
  return BodyError{status, std::move(code), std::move(message)};
}

BodyError from_status(const Status& s) { return error(422, "invalid_field", s.message); }

// Strict JSON (RFC 8259): one value, nothing after it, no comments, no
// duplicate keys, no byte order mark (RFC 8259 §8.1: a sender must not add
// one), no single quotes, trailing commas, NaN or numeric keys.
std::optional<BodyError> parse_object(std::string_view body, Json::Value& root) {
  const auto invalid = [](std::string message) { return error(400, "invalid_json", message); };
  switch (jose::parse_strict_json_why(body, root)) {
    case jose::JsonRefusal::byte_order_mark:
      return invalid("the request body is not valid JSON: it starts with a byte order mark");
    case jose::JsonRefusal::comment:
      return invalid("the request body is not valid JSON: comments are not allowed");
    case jose::JsonRefusal::malformed:
      return invalid("the request body is not valid JSON");
    case jose::JsonRefusal::none:
      break;
  }
  if (!root.isObject()) return error(400, "invalid_body", "the request body must be a JSON object");
  return std::nullopt;
}

std::optional<BodyError> parse_ttl(const Json::Value& v, std::optional<std::int64_t>& out) {
  if (!v.isNumeric() || v.isBool()) {
    return error(400, "invalid_type", "ttl_seconds must be a number (whole seconds)");
  }
  if (v.type() == Json::realValue) {
    return error(422, "invalid_field", "ttl_seconds must be a whole number of seconds");
  }
  if (!v.isInt64() || v.asInt64() < kMinTtlSeconds) {
    return error(422, "invalid_field", "ttl_seconds must be at least 60 seconds");
  }
  out = v.asInt64();
  return std::nullopt;
}

}  // namespace

std::optional<BodyError> parse_issue_body(std::string_view body, IssueRequest& out) {
  Json::Value root;
  if (auto e = parse_object(body, root)) return e;
  bool have_user = false;
  for (const auto& name : root.getMemberNames()) {
    const Json::Value& v = root[name];
    if (name == "user_id") {
      if (!v.isString()) return error(400, "invalid_type", "user_id must be a string");
      out.user = v.asString();
      if (Status s = validate_user_field("user_id", out.user); !s.ok()) return from_status(s);
      have_user = true;
    } else if (name == "ttl_seconds") {
      if (auto e = parse_ttl(v, out.ttl_seconds)) return e;
    } else if (name == "scope") {
      if (!v.isArray()) return error(400, "invalid_type", "scope must be an array of rule strings");
      // An empty scope would be stored as no scope, i.e. unrestricted: refuse
      // it rather than silently widen what the client asked for.
      if (v.empty()) {
        return error(422, "invalid_field", "scope must hold at least one rule; omit it for no scope");
      }
      out.scope.clear();
      for (Json::ArrayIndex i = 0; i < v.size(); ++i) {
        if (!v[i].isString()) {
          return error(400, "invalid_type",
                       "scope[" + std::to_string(i) + "] must be a string");
        }
        out.scope.push_back(v[i].asString());
      }
      if (Status s = validate_scope_field("scope", out.scope); !s.ok()) return from_status(s);
    } else if (name == "client_id") {
      if (!v.isString()) return error(400, "invalid_type", "client_id must be a string");
      out.client_id = v.asString();
      if (Status s = validate_client_id_field("client_id", out.client_id); !s.ok()) {
        return from_status(s);
      }
    } else {
      // The name may be anything the client sent: escaped and cut short.
      constexpr std::size_t kShown = 64;
      return error(400, "unknown_field",
                   "unknown field '" + escape_for_message(std::string_view(name).substr(0, kShown)) +
                       (name.size() > kShown ? "...'" : "'") +
                       "; expected user_id, ttl_seconds, scope, client_id");
    }
  }
  if (!have_user) return error(422, "missing_field", "user_id is required");
  return std::nullopt;
}

std::optional<BodyError> parse_exchange_body(std::string_view body, ExchangeRequest& out) {
  Json::Value root;
  if (auto e = parse_object(body, root)) return e;
  bool have_org = false, have_token = false;
  for (const auto& name : root.getMemberNames()) {
    const Json::Value& v = root[name];
    if (name == "org") {
      if (!v.isString()) return error(400, "invalid_type", "org must be a string");
      out.org = v.asString();
      if (validate_org_id(out.org) != Errc::ok) {
        return error(422, "invalid_field", "org must be 1-64 of [A-Za-z0-9_-]");
      }
      have_org = true;
    } else if (name == "id_token") {
      if (!v.isString()) return error(400, "invalid_type", "id_token must be a string");
      out.id_token = v.asString();
      have_token = true;
    } else if (name == "ttl_seconds") {
      if (auto e = parse_ttl(v, out.ttl_seconds)) return e;
    } else if (name == "client_id") {
      if (!v.isString()) return error(400, "invalid_type", "client_id must be a string");
      out.client_id = v.asString();
      if (Status s = validate_client_id_field("client_id", out.client_id); !s.ok()) {
        return from_status(s);
      }
    } else {
      return error(400, "unknown_field", "unknown field; expected org, id_token, ttl_seconds, client_id");
    }
  }
  if (!have_org) return error(422, "missing_field", "org is required");
  if (!have_token) return error(422, "missing_field", "id_token is required");
  return std::nullopt;
}

std::optional<BodyError> parse_refresh_body(std::string_view body,
                                            std::optional<std::int64_t>& ttl, bool& revoke_old) {
  revoke_old = false;
  if (body.empty()) return std::nullopt;
  Json::Value root;
  if (auto e = parse_object(body, root)) return e;
  for (const auto& name : root.getMemberNames()) {
    const Json::Value& v = root[name];
    if (name == "revoke_old") {
      if (!v.isBool()) return error(400, "invalid_type", "revoke_old must be true or false");
      revoke_old = v.asBool();
    } else if (name == "ttl_seconds") {
      if (auto e = parse_ttl(v, ttl)) return e;
    } else {
      return error(400, "unknown_field", "unknown field; expected ttl_seconds, revoke_old");
    }
  }
  return std::nullopt;
}

}  // namespace shortcred::tokens
