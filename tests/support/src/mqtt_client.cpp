#include "support/mqtt_client.hpp"

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include <sys/socket.h>

#include <cstdint>
#include <stdexcept>

namespace support {

namespace {
struct LibInit {
  LibInit() { mosquitto_lib_init(); }
  ~LibInit() { mosquitto_lib_cleanup(); }
};
LibInit& lib() {
  static LibInit l;
  return l;
}
}  // namespace

struct MqttCallbacks {
  static MqttClient& self(void* obj) { return *static_cast<MqttClient*>(obj); }
  static void connect(mosquitto*, void* obj, int rc, int, const mosquitto_property*) {
    auto& c = self(obj);
    std::lock_guard l(c.mu_);
    c.connack_ = rc;
    c.is_connected_ = rc == 0;
    c.cv_.notify_all();
  }
  // `rc`: the DISCONNECT's reason code when the broker sent one (libmosquitto
  // reads it into this argument), else MOSQ_ERR_CONN_LOST and the like.
  static void disconnect(mosquitto*, void* obj, int rc, const mosquitto_property*) {
    auto& c = self(obj);
    std::lock_guard l(c.mu_);
    if (!c.connack_) c.connack_ = MqttClient::kNoConnack;
    if (!c.disconnected_ && rc >= 0x80) c.disconnect_reason_ = rc;
    c.is_connected_ = false;
    c.disconnected_ = true;
    c.cv_.notify_all();
  }
  static void subscribe(mosquitto*, void* obj, int mid, int count, const int* granted,
                        const mosquitto_property*) {
    auto& c = self(obj);
    std::lock_guard l(c.mu_);
    c.acks_[mid] = count > 0 ? granted[0] : -1;
    c.cv_.notify_all();
  }
  static void unsubscribe(mosquitto*, void* obj, int mid, const mosquitto_property*) {
    auto& c = self(obj);
    std::lock_guard l(c.mu_);
    c.acks_[mid] = 0;
    c.cv_.notify_all();
  }
  static void publish(mosquitto*, void* obj, int mid, int reason, const mosquitto_property*) {
    auto& c = self(obj);
    std::lock_guard l(c.mu_);
    c.acks_[mid] = reason;
    c.cv_.notify_all();
  }
  static void message(mosquitto*, void* obj, const mosquitto_message* m, const mosquitto_property*) {
    auto& c = self(obj);
    std::lock_guard l(c.mu_);
    c.msgs_.push_back({m->topic ? m->topic : "",
                       std::string(static_cast<const char*>(m->payload),
                                   static_cast<std::size_t>(m->payloadlen)),
                       m->qos, m->retain});
    c.cv_.notify_all();
  }
};

MqttClient::MqttClient(Options o) : opts_(std::move(o)) {
  lib();
  mosq_ = mosquitto_new(opts_.client_id.empty() ? nullptr : opts_.client_id.c_str(),
                        opts_.clean_start, this);
  if (mosq_ == nullptr) throw std::runtime_error("mosquitto_new failed");
  mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION,
                       opts_.protocol == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
  mosquitto_connect_v5_callback_set(mosq_, MqttCallbacks::connect);
  mosquitto_disconnect_v5_callback_set(mosq_, MqttCallbacks::disconnect);
  mosquitto_subscribe_v5_callback_set(mosq_, MqttCallbacks::subscribe);
  mosquitto_unsubscribe_v5_callback_set(mosq_, MqttCallbacks::unsubscribe);
  mosquitto_publish_v5_callback_set(mosq_, MqttCallbacks::publish);
  mosquitto_message_v5_callback_set(mosq_, MqttCallbacks::message);
  if (opts_.username || opts_.password) {
    mosquitto_username_pw_set(mosq_, opts_.username ? opts_.username->c_str() : nullptr,
                              opts_.password ? opts_.password->c_str() : nullptr);
  }
  if (opts_.will) {
    mosquitto_will_set_v5(mosq_, opts_.will->topic.c_str(),
                          static_cast<int>(opts_.will->payload.size()), opts_.will->payload.data(),
                          opts_.will->qos, opts_.will->retain, nullptr);
  }
  if (opts_.tls_ca_file &&
      mosquitto_tls_set(mosq_, opts_.tls_ca_file->c_str(), nullptr, nullptr, nullptr, nullptr) !=
          MOSQ_ERR_SUCCESS) {
    mosquitto_destroy(mosq_);
    throw std::runtime_error("mosquitto_tls_set failed for " + *opts_.tls_ca_file);
  }
}

MqttClient::~MqttClient() {
  {
    std::lock_guard l(mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
  mosquitto_destroy(mosq_);
}

void MqttClient::loop() {
  while (true) {
    {
      std::lock_guard l(mu_);
      if (stop_) break;
    }
    const int rc = mosquitto_loop(mosq_, 10, 1);
    if (rc != MOSQ_ERR_SUCCESS) {
      {
        std::lock_guard l(mu_);
        if (!disconnected_) {
          if (!connack_) connack_ = kNoConnack;
          disconnected_ = true;
          is_connected_ = false;
          cv_.notify_all();
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
}

int MqttClient::connect(int port, std::chrono::milliseconds timeout) {
  mosquitto_property* props = nullptr;
  if (opts_.protocol == 5 && opts_.session_expiry_s > 0) {
    mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL,
                                 static_cast<std::uint32_t>(opts_.session_expiry_s));
  }
  if (opts_.protocol == 5 && opts_.auth_method) {
    mosquitto_property_add_string(&props, MQTT_PROP_AUTHENTICATION_METHOD,
                                  opts_.auth_method->c_str());
    mosquitto_property_add_binary(&props, MQTT_PROP_AUTHENTICATION_DATA, opts_.auth_data.data(),
                                  static_cast<std::uint16_t>(opts_.auth_data.size()));
  }
  const int rc = mosquitto_connect_bind_v5(mosq_, "127.0.0.1", port, opts_.keepalive,
                                           opts_.bind_address ? opts_.bind_address->c_str() : nullptr,
                                           props);
  mosquitto_property_free_all(&props);
  if (rc != MOSQ_ERR_SUCCESS) return kNoConnack;
  if (!running_) {
    running_ = true;
    thread_ = std::thread([this] { loop(); });
  }
  std::unique_lock l(mu_);
  if (!cv_.wait_for(l, timeout, [&] { return connack_.has_value(); })) return kTimeout;
  return *connack_;
}

int MqttClient::subscribe(const std::string& filter, int qos, std::chrono::milliseconds timeout) {
  int mid = 0;
  if (mosquitto_subscribe_v5(mosq_, &mid, filter.c_str(), qos, 0, nullptr) != MOSQ_ERR_SUCCESS) {
    return kNotConnected;
  }
  std::unique_lock l(mu_);
  if (!cv_.wait_for(l, timeout, [&] { return acks_.count(mid) > 0 || disconnected_; })) return kTimeout;
  return acks_.count(mid) ? acks_[mid] : kNotConnected;
}

int MqttClient::unsubscribe(const std::string& filter, std::chrono::milliseconds timeout) {
  int mid = 0;
  if (mosquitto_unsubscribe(mosq_, &mid, filter.c_str()) != MOSQ_ERR_SUCCESS) return kNotConnected;
  std::unique_lock l(mu_);
  if (!cv_.wait_for(l, timeout, [&] { return acks_.count(mid) > 0 || disconnected_; })) return kTimeout;
  return acks_.count(mid) ? acks_[mid] : kNotConnected;
}

int MqttClient::publish(const std::string& topic, const std::string& payload, int qos, bool retain,
                        std::chrono::milliseconds timeout) {
  int mid = 0;
  if (mosquitto_publish_v5(mosq_, &mid, topic.c_str(), static_cast<int>(payload.size()),
                           payload.data(), qos, retain, nullptr) != MOSQ_ERR_SUCCESS) {
    return kNotConnected;
  }
  std::unique_lock l(mu_);
  if (!cv_.wait_for(l, timeout, [&] { return acks_.count(mid) > 0 || disconnected_; })) return kTimeout;
  return acks_.count(mid) ? acks_[mid] : kNotConnected;
}

bool MqttClient::wait_message(const std::string& topic, std::optional<std::string> payload,
                              std::chrono::milliseconds timeout) {
  std::unique_lock l(mu_);
  return cv_.wait_for(l, timeout, [&] {
    for (const auto& m : msgs_) {
      if (m.topic == topic && (!payload || m.payload == *payload)) return true;
    }
    return false;
  });
}

std::size_t MqttClient::count(const std::string& topic) {
  std::lock_guard l(mu_);
  std::size_t n = 0;
  for (const auto& m : msgs_) n += m.topic == topic ? 1 : 0;
  return n;
}

std::vector<MqttClient::Message> MqttClient::messages() {
  std::lock_guard l(mu_);
  return msgs_;
}

void MqttClient::clear_messages() {
  std::lock_guard l(mu_);
  msgs_.clear();
}

bool MqttClient::connected() {
  std::lock_guard l(mu_);
  return is_connected_;
}

bool MqttClient::wait_disconnected(std::chrono::milliseconds timeout) {
  std::unique_lock l(mu_);
  return cv_.wait_for(l, timeout, [&] { return disconnected_; });
}

int MqttClient::disconnect_reason() {
  std::lock_guard l(mu_);
  return disconnect_reason_;
}

void MqttClient::disconnect() {
  mosquitto_disconnect(mosq_);
  wait_disconnected(std::chrono::seconds(2));
}

void MqttClient::drop() {
  // Shutting the socket down without DISCONNECT is an unexpected loss for
  // the broker, which then publishes the will.
  const int fd = mosquitto_socket(mosq_);
  if (fd >= 0) ::shutdown(fd, 2);
  wait_disconnected(std::chrono::seconds(2));
}

}  // namespace support
