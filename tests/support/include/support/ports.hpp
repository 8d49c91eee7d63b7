#pragma once

namespace support {

// A TCP port on 127.0.0.1 that was free a moment ago and is reserved for
// this process. It comes from outside the kernel's ephemeral range, so no
// outgoing connection of a parallel test takes it before the server binds it,
// and a lock file per port (held until the process exits) keeps the tests
// CTest runs in parallel from being handed the same one.
int free_port();

// Such a port p whose p + offset is free and reserved too (a Redis Cluster
// node also listens on its port + 10000, the cluster bus).
int free_port_pair(int offset);

// True once something accepts TCP connections on 127.0.0.1:port.
bool port_open(int port);

// A TCP socket connected to 127.0.0.1:port with a `recv_timeout_s` receive
// timeout (0: none), for tests that speak raw bytes; -1 if the connect fails.
int connect_loopback(int port, int recv_timeout_s = 0);

}  // namespace support
