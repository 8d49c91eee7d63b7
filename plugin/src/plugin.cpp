// The C entry points of mosquitto_shortcred.so (plugin API v5, Mosquitto
// 2.0.11 to 2.1.x; what differs is detected at run time, broker_compat.hpp).
//
// Init validates everything first — options, acl_file, what the running
// broker supports — and refuses to start on any error, with a message naming
// the problem. Then it starts the background threads and registers each
// callback, unwinding on the first failure. Nothing escapes the C boundary: every callback catches,
// logs and denies.
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "state.hpp"

#define SC_EXPORT extern "C" __attribute__((visibility("default")))

namespace shortcred::plugin {
namespace {

template <class Fn>
int guarded(const char* what, int deny_code, Fn&& fn) noexcept {
  try {
    return fn();
  } catch (const std::exception& e) {
    SC_LOG(MOSQ_LOG_ERR, "shortcred: internal error in %s (denied): %s", what, e.what());
  } catch (...) {
    SC_LOG(MOSQ_LOG_ERR, "shortcred: internal error in %s (denied)", what);
  }
  return deny_code;
}

int cb_basic_auth(int, void* event, void* userdata) {
  auto& p = *static_cast<Plugin*>(userdata);
  return guarded("basic auth", MOSQ_ERR_AUTH,
                 [&] { return on_basic_auth(p, *static_cast<mosquitto_evt_basic_auth*>(event)); });
}
int cb_ext_auth_start(int, void* event, void* userdata) {
  auto& p = *static_cast<Plugin*>(userdata);
  return guarded("extended auth", MOSQ_ERR_AUTH, [&] {
    return on_ext_auth_start(p, *static_cast<mosquitto_evt_extended_auth*>(event));
  });
}
int cb_acl_check(int, void* event, void* userdata) {
  auto& p = *static_cast<Plugin*>(userdata);
  return guarded("ACL check", MOSQ_ERR_ACL_DENIED,
                 [&] { return on_acl_check(p, *static_cast<mosquitto_evt_acl_check*>(event)); });
}
int cb_tick(int, void* event, void* userdata) {
  auto& p = *static_cast<Plugin*>(userdata);
  return guarded("tick", MOSQ_ERR_SUCCESS,
                 [&] { return on_tick(p, *static_cast<mosquitto_evt_tick*>(event)); });
}
int cb_reload(int, void* event, void* userdata) {
  auto& p = *static_cast<Plugin*>(userdata);
  return guarded("reload", p.compat.reload_done(),
                 [&] { return on_reload(p, *static_cast<mosquitto_evt_reload*>(event)); });
}
int cb_disconnect(int, void* event, void* userdata) {
  auto& p = *static_cast<Plugin*>(userdata);
  return guarded("disconnect", MOSQ_ERR_SUCCESS, [&] {
    on_client_gone(p, static_cast<mosquitto_evt_disconnect*>(event)->client);
    return MOSQ_ERR_SUCCESS;
  });
}
int cb_client_offline(int, void* event, void* userdata) {
  auto& p = *static_cast<Plugin*>(userdata);
  return guarded("client offline", MOSQ_ERR_SUCCESS, [&] {
    on_client_gone(p, static_cast<EvtClientOffline*>(event)->client);
    return MOSQ_ERR_SUCCESS;
  });
}
int cb_connect(int, void* event, void* userdata) {
  auto& p = *static_cast<Plugin*>(userdata);
  return guarded("connect", MOSQ_ERR_SUCCESS, [&] {
    on_connect(p, *static_cast<EvtConnect*>(event));
    return MOSQ_ERR_SUCCESS;
  });
}

struct Registration {
  int event;
  MOSQ_FUNC_generic_callback cb;
  bool needs_2_1;  // an event Mosquitto 2.0 does not have
};
// 2.1 sends MOSQ_EVT_CLIENT_OFFLINE, not DISCONNECT, when a client with a
// persistent session goes offline; MOSQ_EVT_CONNECT confirms a delayed
// authentication (delayed_auth.cpp).
const Registration kCallbacks[] = {
    {MOSQ_EVT_BASIC_AUTH, cb_basic_auth, false},
    {MOSQ_EVT_EXT_AUTH_START, cb_ext_auth_start, false},
    {MOSQ_EVT_ACL_CHECK, cb_acl_check, false},
    {MOSQ_EVT_TICK, cb_tick, false},
    {MOSQ_EVT_RELOAD, cb_reload, false},
    {MOSQ_EVT_DISCONNECT, cb_disconnect, false},
    {kEvtClientOffline, cb_client_offline, true},
    {kEvtConnect, cb_connect, true},
};

bool wanted(const Plugin& p, const Registration& r) {
  return !r.needs_2_1 || p.compat.v2_1();
}

void unregister(Plugin& p, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    if (!wanted(p, kCallbacks[i])) continue;
    mosquitto_callback_unregister(p.pid, kCallbacks[i].event, kCallbacks[i].cb, nullptr);
  }
}

// metrics_listen as the operator wrote it (IPv6 in brackets).
std::string listen_text(const Options& o) {
  const bool v6 = o.metrics_host.find(':') != std::string::npos;
  return (v6 ? "[" + o.metrics_host + "]" : o.metrics_host) + ":" + std::to_string(o.metrics_port);
}

void stop_threads(Plugin& p) {
  if (p.metrics != nullptr) p.metrics->stop();
  p.background->stop();
  if (p.lookups != nullptr) p.lookups->stop();
  p.wake.uninstall();
}

int init(mosquitto_plugin_id_t* pid, void** userdata, mosquitto_opt* options, int count) {
  std::vector<RawOption> raw;
  for (int i = 0; i < count; ++i) {
    raw.emplace_back(options[i].key ? options[i].key : "",
                     options[i].value ? options[i].value : "");
  }
  auto p = std::make_unique<Plugin>();
  p->pid = pid;
  std::string error;
  if (!parse_options(raw, p->opts, error) ||
      !load_templates(p->opts.acl_file, p->templates, error)) {
    SC_LOG(MOSQ_LOG_ERR, "shortcred: %s", error.c_str());
    return MOSQ_ERR_INVAL;
  }
  p->compat = BrokerCompat::detect();
  if (p->opts.client_id_prefix_mode == PrefixMode::assign && p->compat.set_clientid == nullptr) {
    SC_LOG(MOSQ_LOG_ERR,
           "shortcred: plugin_opt_client_id_prefix_mode assign needs Mosquitto 2.1 or later "
           "(mosquitto_set_clientid); this broker is 2.0. Use refuse (the default).");
    return MOSQ_ERR_INVAL;
  }
  if (p->opts.metrics_port != 0) {
    // Bound before anything starts, so a port in use stops startup with
    // nothing to unwind.
    p->metrics = std::make_unique<MetricsServer>();
    std::string why;
    if (!p->metrics->listen(p->opts.metrics_host, p->opts.metrics_port, why)) {
      SC_LOG(MOSQ_LOG_ERR, "shortcred: plugin_opt_metrics_listen %s: cannot listen: %s",
             listen_text(p->opts).c_str(), why.c_str());
      return MOSQ_ERR_INVAL;
    }
  }
  p->loaded_ns = mono_ns();
  p->defaults = {p->opts.pub_rate, p->opts.pub_burst, p->opts.max_connections};
  p->throttle = AuthThrottle(p->opts.auth_fail_per_address, p->opts.auth_fail_token_s);
  const std::string& prefix = p->opts.client_id_prefix;
  p->records_owners =
      p->opts.client_id_owner_ttl_s > 0 &&
      !(prefix.find("%o") != std::string::npos && prefix.find("%u") != std::string::npos);
  const auto timeout = std::chrono::milliseconds(p->opts.redis_timeout_ms);
  p->store = std::make_unique<CredStore>(p->opts.redis, timeout, p->opts.key_prefix);
  p->background = std::make_unique<Background>(p->opts.redis, p->opts.key_prefix,
                                               p->opts.presence_interval_s);
  p->background->start();
  if (p->compat.v2_1() && p->opts.delayed_auth) {
    if (!p->wake.install()) {
      SC_LOG(MOSQ_LOG_NOTICE,
             "shortcred: no free real-time signal to wake the broker loop; delayed CONNECTs are "
             "answered at the loop's own pace");
    }
    p->lookups =
        std::make_unique<ConnectLookups>(p->opts.redis, timeout, p->opts.key_prefix, &p->wake);
    p->lookups->start();
  }
  if (p->metrics != nullptr) {
    publish_metrics(*p);  // scrapes before the first tick see zeros, not an empty page
    p->metrics->start();
  }

  for (std::size_t i = 0; i < std::size(kCallbacks); ++i) {
    if (!wanted(*p, kCallbacks[i])) continue;
    const int rc =
        mosquitto_callback_register(pid, kCallbacks[i].event, kCallbacks[i].cb, nullptr, p.get());
    if (rc != MOSQ_ERR_SUCCESS) {
      SC_LOG(MOSQ_LOG_ERR, "shortcred: cannot register callback for event %d (error %d)",
             kCallbacks[i].event, rc);
      unregister(*p, i);
      stop_threads(*p);
      return rc;
    }
  }
  SC_LOG(MOSQ_LOG_NOTICE,
         "shortcred: loaded version %s (Mosquitto %s: CONNECT lookups %s; redis %s, prefix '%s', "
         "%zu ACL rule(s) from %s, revalidate every %d s)",
         SHORTCRED_VERSION, p->compat.name(),
         p->lookups != nullptr ? "off the broker thread (delayed auth)" : "on the broker thread",
         p->opts.redis.redacted().c_str(), p->opts.key_prefix.c_str(), p->templates.size(),
         p->opts.acl_file.empty() ? "the built-in defaults" : p->opts.acl_file.c_str(),
         p->opts.revalidate_interval_s);
  if (p->metrics != nullptr) {
    SC_LOG(MOSQ_LOG_NOTICE, "shortcred: serving metrics on http://%s/metrics",
           listen_text(p->opts).c_str());
  }
  *userdata = p.release();
  return MOSQ_ERR_SUCCESS;
}

}  // namespace
}  // namespace shortcred::plugin

using shortcred::plugin::Plugin;

SC_EXPORT int mosquitto_plugin_version(int supported_version_count, const int* supported_versions) {
  for (int i = 0; i < supported_version_count; ++i) {
    if (supported_versions[i] == 5) return 5;
  }
  return -1;
}

SC_EXPORT int mosquitto_plugin_init(mosquitto_plugin_id_t* identifier, void** userdata,
                                    struct mosquitto_opt* options, int option_count) {
  try {
    return shortcred::plugin::init(identifier, userdata, options, option_count);
  } catch (const std::exception& e) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "shortcred: cannot start: %s", e.what());
  } catch (...) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "shortcred: cannot start");
  }
  return MOSQ_ERR_UNKNOWN;
}

SC_EXPORT int mosquitto_plugin_cleanup(void* userdata, struct mosquitto_opt*, int) {
  auto* p = static_cast<Plugin*>(userdata);
  if (p == nullptr) return MOSQ_ERR_SUCCESS;
  try {
    shortcred::plugin::unregister(*p, std::size(shortcred::plugin::kCallbacks));
    shortcred::plugin::stop_threads(*p);
  } catch (...) {
  }
  delete p;
  return MOSQ_ERR_SUCCESS;
}
