// The broker's id for presence (plugin_opt_broker_id, DESIGN.md "Many
// brokers"), by default hostname + ':' + the first listener's port.
//
// Mosquitto's plugin API does not say which ports the broker listens on, so
// the default is read off the process's own sockets: the listening TCP
// socket with the lowest descriptor is the first listener (listeners are
// opened in configuration order, before any client can connect). Call it
// once the listeners are up: at the first tick or CONNECT.
#pragma once

#include <string>

namespace shortcred::plugin {

// hostname:port, with hostname bytes outside [A-Za-z0-9._-] replaced by '-'
// and the whole cut to 64 characters (the id's limit, port kept). Without
// a listening socket the port is 0. `not_mqtt_fd` is a listening socket of
// the plugin's own (the metrics endpoint, opened before Mosquitto's
// listeners, so with the lowest descriptor) that is not a listener; -1: none.
std::string default_broker_id(int not_mqtt_fd = -1);

}  // namespace shortcred::plugin
