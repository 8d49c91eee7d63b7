// MOSQ_EVT_RELOAD (SIGHUP): re-read acl_file atomically. The new rule set is
// built completely before it replaces the old one; a file that fails to read
// or parse keeps the old rules and the log says why (and is not an error to
// the broker: BrokerCompat::reload_done). Live sessions are
// recompiled against the new templates (their scope is unchanged), and so
// are the policies kept for offline sessions (offline_sessions.hpp).
#include "state.hpp"

namespace shortcred::plugin {

int on_reload(Plugin& p, mosquitto_evt_reload& ev) {
  p.rechecking = true;
  std::string acl_file = p.opts.acl_file;
  for (int i = 0; i < ev.option_count; ++i) {
    if (ev.options[i].key != nullptr && std::string_view(ev.options[i].key) == "acl_file" &&
        ev.options[i].value != nullptr) {
      acl_file = ev.options[i].value;
    }
  }
  std::vector<Rule> fresh;
  std::string error;
  if (!load_templates(acl_file, fresh, error)) {
    SC_LOG(MOSQ_LOG_ERR, "shortcred: reload refused, keeping the previous ACL rules: %s",
           error.c_str());
    return p.compat.reload_done();
  }
  p.templates = std::move(fresh);
  p.opts.acl_file = acl_file;
  ++p.templates_generation;
  p.sessions.for_each([&](Session& s) { compile_policy(p, s); });
  // Offline sessions too: what is queued for them follows the new rules.
  p.offline.for_each([&](OfflineSession& o) {
    if (!o.policy) return;  // denied
    const Identity id{o.org, o.user, o.client_id};
    o.policy.emplace(p.templates, o.has_scope ? &o.scope_rules : nullptr, id, o.expires_at_ms);
  });
  SC_LOG(MOSQ_LOG_NOTICE, "shortcred: reloaded %zu ACL rule(s) from %s", p.templates.size(),
         acl_file.empty() ? "the built-in defaults" : acl_file.c_str());
  return p.compat.reload_done();
}

}  // namespace shortcred::plugin
