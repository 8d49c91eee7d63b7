// Shared plumbing of the shortcredctl command files (ctl_*.cpp).
#pragma once

#include <json/json.h>

#include <iosfwd>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "shortcred/redis/client.hpp"
#include "shortcred/tokens/ctl.hpp"
#include "shortcred/tokens/status.hpp"
#include "shortcred/tokens/store.hpp"

namespace shortcred::tokens::ctl {

// A usage error: printed with a hint, exit code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A failed Status raised where returning it is awkward (Context::redis());
// run_ctl reports it exactly as Context::fail does.
struct Failure : std::runtime_error {
  explicit Failure(Status s) : std::runtime_error(s.message), status(std::move(s)) {}
  Status status;
};

// Parsed command line: positionals in order, options by name (repeatable).
// `--name value` and `--name=value`; flags (no value) are listed in kFlags.
struct Args {
  std::vector<std::string> positional;
  std::multimap<std::string, std::string> options;

  bool flag(const std::string& name) const { return options.count(name) > 0; }
  std::optional<std::string> get(const std::string& name) const;
  std::string require(const std::string& name) const;  // throws UsageError
  std::vector<std::string> all(const std::string& name) const;
  // Throws UsageError naming the first option not in `allowed`.
  void allow_only(const std::vector<std::string>& allowed) const;
  // Throws unless exactly `n` positionals follow the command words.
  void expect_positionals(std::size_t n, const char* usage) const;
};
Args parse_args(const std::vector<std::string>& argv);

// Options every command takes (--json, --redis, --key-prefix, --actor).
bool global_option(const std::string& name);

// Throws UsageError unless `value` (an operator, an org or key name) is
// min_size-256 bytes without control characters: it is printed in tables
// and audit lines, where a newline would forge a line and ESC drive the
// terminal.
void require_label(const std::string& value, std::string_view what, std::size_t min_size);

// A value read from Redis as a table shows it: a client id is whatever the
// client sent and anyone with Redis access can write an audit field, so
// control bytes (a newline forging a row, ESC driving the terminal) print as
// \xHH, never cut (--json has the exact bytes).
std::string table_text(std::string_view value);

// Throws UsageError unless `org` is a valid org id; `what` names the argument
// in the message.
void require_org_id(const std::string& org, std::string_view what = "org id");
// The required --org option, validated.
std::string org_option(const Args& a);


struct Context {
  Args args;
  std::string prefix;
  bool json = false;
  std::string redis_url;
  std::string actor;  // --actor, else $SUDO_USER, else $USER
  Durability durability;  // --min-replicas, --replica-timeout-ms
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  std::optional<redis::Client> conn;

  redis::Client& redis();  // connects on first use; throws Failure (unavailable)
  // Who shortcredctl's audit entries name: no API key, remote
  // "shortcredctl", and the operator.
  AuditInfo audit() const { return AuditInfo{"", "shortcredctl", actor}; }
  void print_json(const Json::Value& v) const;
  // Reports a failed Status on stderr (and as JSON error with --json), returns its exit code.
  int fail(const Status& s) const;
  // Reports a usage error the same way; returns kExitUsage.
  int usage_error(const std::string& message) const;
};

// For a listing that came back empty: an org that does not exist is most
// likely a typo, so Code::org_not_found rather than an empty table.
Status empty_listing_org(Context& ctx, const std::string& org);

// An integer option in [lo, hi], or `fallback` when absent; throws UsageError.
int int_option(const Args& a, const std::string& name, int fallback, int lo, int hi);

int cmd_org(Context& ctx);
int cmd_apikey(Context& ctx);
int cmd_token(Context& ctx);
int cmd_acl(Context& ctx);
int cmd_audit(Context& ctx);
int cmd_idp(Context& ctx);
int cmd_session(Context& ctx);

}  // namespace shortcred::tokens::ctl
