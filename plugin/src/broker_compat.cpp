#include "broker_compat.hpp"

#include <dlfcn.h>

#include <mosquitto.h>

namespace shortcred::plugin {

BrokerCompat BrokerCompat::detect() {
  // The broker exports its plugin API from the executable; RTLD_DEFAULT
  // searches it (and everything loaded) without naming a library.
  BrokerCompat c;
  c.complete_basic_auth = reinterpret_cast<CompleteBasicAuth>(
      dlsym(RTLD_DEFAULT, "mosquitto_complete_basic_auth"));
  c.set_clientid =
      reinterpret_cast<SetClientId>(dlsym(RTLD_DEFAULT, "mosquitto_set_clientid"));
  return c;
}

int BrokerCompat::reload_done() const {
  return v2_1() ? MOSQ_ERR_SUCCESS : MOSQ_ERR_PLUGIN_DEFER;
}

}  // namespace shortcred::plugin
