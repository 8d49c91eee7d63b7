// Readiness for systemd's Type=notify, without libsystemd.
#pragma once

#include <string>

namespace shortcred::tokens {

// Sends `state` (e.g. "READY=1", "STOPPING=1") as one datagram to the
// AF_UNIX socket named by $NOTIFY_SOCKET, sd_notify(3)'s protocol: a path,
// or a name in the abstract namespace when it starts with '@'. Does nothing
// and returns true without the variable (not started by systemd as
// Type=notify); false if the message could not be sent.
bool notify_systemd(const std::string& state);

}  // namespace shortcred::tokens
