#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

struct mosquitto;

namespace support {

// A libmosquitto client for integration tests, MQTT 5 or 3.1.1, driving its
// own network loop on a thread (no automatic reconnects: a refused or kicked
// client stays down so tests can observe it). Every call waits with a
// deadline and reports the broker's reason code.
class MqttClient {
 public:
  static constexpr int kNoConnack = -1;  // socket closed without a CONNACK
  static constexpr int kTimeout = -2;
  static constexpr int kNotConnected = -3;

  struct Will {
    std::string topic;
    std::string payload;
    int qos = 0;
    bool retain = false;
  };
  struct Options {
    std::string client_id;
    std::optional<std::string> username;
    std::optional<std::string> password;
    int protocol = 5;  // 5 or 4 (= 3.1.1)
    std::optional<Will> will;
    int keepalive = 30;
    // false: resume a persistent session (v5 clean start 0, v3.1.1 clean
    // session 0). session_expiry_s is the v5 Session Expiry Interval.
    bool clean_start = true;
    int session_expiry_s = 0;
    // MQTT 5 enhanced authentication: sent as Authentication Method / Data
    // properties of the CONNECT (single step, no AUTH exchange).
    std::optional<std::string> auth_method;
    std::string auth_data;
    // MQTT over TLS (an MQTTS listener): trust only this CA file (PEM) and
    // check the server certificate against 127.0.0.1, the host connected to.
    std::optional<std::string> tls_ca_file;
    // Local address to connect from (any of 127.0.0.0/8 on loopback), so a
    // test can play clients at different addresses.
    std::optional<std::string> bind_address;
  };
  struct Message {
    std::string topic;
    std::string payload;
    int qos = 0;
    bool retain = false;
  };

  explicit MqttClient(Options o);
  ~MqttClient();
  MqttClient(const MqttClient&) = delete;
  MqttClient& operator=(const MqttClient&) = delete;

  // CONNACK reason code (0 = accepted; v5 0x87/0x86, v3.1.1 5/4), kNoConnack
  // or kTimeout.
  int connect(int port, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Granted QoS, or the SUBACK failure code (v5 0x87…, v3.1.1 0x80).
  int subscribe(const std::string& filter, int qos = 0,
                std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // QoS 0: 0 once handed to the socket. QoS 1/2: the PUBACK/PUBREC reason
  // code (always 0 for 3.1.1, which has none).
  int publish(const std::string& topic, const std::string& payload, int qos = 0,
              bool retain = false, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  int unsubscribe(const std::string& filter,
                  std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // Waits until a message on `topic` (and with `payload`, if given) arrived.
  bool wait_message(const std::string& topic, std::optional<std::string> payload = std::nullopt,
                    std::chrono::milliseconds timeout = std::chrono::seconds(3));
  std::size_t count(const std::string& topic);
  std::vector<Message> messages();
  void clear_messages();

  bool connected();
  // Waits until the broker closed the connection.
  bool wait_disconnected(std::chrono::milliseconds timeout);
  // Once disconnected: the reason code of the broker's MQTT 5 DISCONNECT
  // (e.g. 0x98), or kNoConnack when the socket just closed.
  int disconnect_reason();
  // A clean DISCONNECT (no will).
  void disconnect();
  // Drops the TCP connection without DISCONNECT (the broker sends the will).
  void drop();

 private:
  void loop();

  Options opts_;
  mosquitto* mosq_ = nullptr;
  std::thread thread_;
  bool stop_ = false;
  bool running_ = false;

  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<int> connack_;
  bool is_connected_ = false;
  bool disconnected_ = false;
  int disconnect_reason_ = kNoConnack;
  std::map<int, int> acks_;  // mid → reason / granted qos
  std::vector<Message> msgs_;

  friend struct MqttCallbacks;
};

}  // namespace support
