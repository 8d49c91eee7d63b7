#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace support {

// A minimal blocking MQTT 5 client over a raw loopback socket, for what
// libmosquitto 2.0 cannot do: it has no public call to send an AUTH packet,
// so MQTT 5 re-authentication (AUTH reason 0x19) needs its own wire code.
// Speaks just enough of MQTT 5: CONNECT with Authentication Method / Data,
// AUTH, SUBSCRIBE (QoS 0) and reading whatever the broker sends back.
class Mqtt5Raw {
 public:
  // What the broker answered: the packet type (upper nibble of its first
  // byte: 2 CONNACK, 9 SUBACK, 14 DISCONNECT, 15 AUTH) and its reason code.
  struct Reply {
    int type = 0;
    int reason = 0;
    bool closed = false;   // the socket closed first (type/reason unset)
    bool timeout = false;  // nothing arrived in time
  };
  static constexpr int kConnack = 2;
  static constexpr int kSuback = 9;
  static constexpr int kDisconnect = 14;
  static constexpr int kAuth = 15;

  Mqtt5Raw() = default;
  ~Mqtt5Raw();
  Mqtt5Raw(const Mqtt5Raw&) = delete;
  Mqtt5Raw& operator=(const Mqtt5Raw&) = delete;

  // CONNECT (clean start, username, no password field) with the given
  // Authentication Method and Data; returns the CONNACK (or closed/timeout).
  Reply connect(int port, const std::string& client_id, const std::string& username,
                const std::string& auth_method, const std::string& auth_data,
                std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Sends AUTH with `reason` (0x19 re-authenticate) and waits for the reply.
  Reply auth(int reason, const std::string& auth_method, const std::string& auth_data,
             std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // SUBSCRIBE at QoS 0; the reply's reason is the SUBACK's first reason code.
  Reply subscribe(const std::string& filter,
                  std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Still open after `within` (PINGREQ/PINGRESP round trip): false once the
  // broker closed the connection or sent DISCONNECT.
  bool alive(std::chrono::milliseconds within = std::chrono::milliseconds(1000));
  // Waits until the broker closes the connection (DISCONNECT or EOF).
  bool wait_closed(std::chrono::milliseconds timeout);

 private:
  bool send_packet(std::uint8_t first, const std::string& body);
  // Next packet of a type in `wanted` (a bit per type); others are skipped.
  Reply read_reply(unsigned wanted, std::chrono::milliseconds timeout);
  bool read_exact(void* buf, std::size_t n, std::chrono::steady_clock::time_point deadline,
                  bool& timed_out);
  int fd_ = -1;
  std::uint16_t next_id_ = 1;
};

}  // namespace support
