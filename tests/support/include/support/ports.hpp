#pragma once

namespace support {

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0 and
// read it back). Ports handed out are not reused within one process.
int free_port();

// True once something accepts TCP connections on 127.0.0.1:port.
bool port_open(int port);

// A TCP socket connected to 127.0.0.1:port with a `recv_timeout_s` receive
// timeout (0: none), for tests that speak raw bytes; -1 if the connect fails.
int connect_loopback(int port, int recv_timeout_s = 0);

}  // namespace support
