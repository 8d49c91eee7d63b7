// The edge (DESIGN.md "Edge: TLS and WebSockets"): the plugin behind an MQTTS
// listener (libmosquitto clients with TLS) and behind WebSockets listeners
// (a stock MQTT.js run by node, ws_client/ws_client.mjs), MQTT 5 and 3.1.1:
// a valid credential connects and is held to its ACL, a wrong one is refused,
// an expiring one is disconnected within 1 s of expires_at (and, over
// WebSockets, a revoked one within 500 ms).
//
// The MQTTS broker is support::mosquitto_binary(). The WebSockets broker is
// support::mosquitto_ws_binary() ($SHORTCRED_MOSQUITTO_WS, else the same): it
// must have WebSockets built in, else these tests fail. Debian's 2.0.11
// (Debian 12) and 2.0.21 (bookworm-backports) have them (libwebsockets);
// a source build of 2.0.x has not unless built WITH_WEBSOCKETS; 2.1.x has its
// own.
#include <json/json.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "broker_env.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/tls_certs.hpp"

using namespace broker_test;
using support::MqttClient;

namespace {

constexpr int kNotAuthorized = 0x87;  // v5 CONNACK / SUBACK / PUBACK
constexpr int kV3RefusedNotAuthorized = 5;
constexpr int kV3SubackFailure = 0x80;
constexpr int kAdministrativeAction = 0x98;  // v5 DISCONNECT of a kicked client

// --- MQTTS -----------------------------------------------------------------

// The env's plain listener (observer, service account) plus
//   listener <tls_port> 127.0.0.1
//   certfile / keyfile   (a throwaway CA's server certificate)
struct TlsEdge {
  support::TempDir dir{"shortcred-edge-tls"};
  support::TestCerts certs = support::make_test_certs(dir.path());
  int tls_port = support::free_port();
  BrokerEnv env{"", "listener " + std::to_string(tls_port) + " 127.0.0.1\n" + "certfile " +
                        certs.server_cert + "\n" + "keyfile " + certs.server_key + "\n"};
  TlsEdge() {
    if (!support::wait_until([&] { return support::port_open(tls_port); }, 5s)) {
      throw std::runtime_error("the MQTTS listener did not open:\n" + env.mosq->log());
    }
  }

  MqttClient::Options client(const Cred& c, const std::string& cid, int protocol) const {
    auto o = env.client(c, cid, protocol);
    o.tls_ca_file = certs.ca_cert;
    return o;
  }
};

TlsEdge& tls() {
  static TlsEdge t;
  return t;
}

// --- WebSockets ------------------------------------------------------------

// ws_listener() (broker_env.hpp) says what the WebSockets listener lines must hold.
struct WsEdge {
  support::TempDir dir{"shortcred-edge-ws"};
  support::TestCerts certs = support::make_test_certs(dir.path());
  int ws_port = support::free_port();
  int wss_port = support::free_port();
  std::unique_ptr<BrokerEnv> env;

  WsEdge() {
    const std::string bin = support::mosquitto_ws_binary();
    const std::string hint =
        "The WebSockets tests need a Mosquitto built with WebSockets (Debian's 2.0.11 or "
        "2.0.21, 2.1.x; not a 2.0.x source build without WITH_WEBSOCKETS): point "
        "SHORTCRED_MOSQUITTO_WS (default: SHORTCRED_MOSQUITTO, else mosquitto) at one. "
        "Broker tried: " +
        bin + "\n";
    try {
      env = std::make_unique<BrokerEnv>("", ws_listener(ws_port) + ws_listener(wss_port, &certs),
                                        true, std::vector<Account>{}, bin);
    } catch (const std::exception& e) {
      throw std::runtime_error(hint + "It could not start its websockets listeners: " + e.what());
    }
    for (int p : {ws_port, wss_port}) {
      if (!support::wait_until([&] { return support::port_open(p); }, 5s)) {
        throw std::runtime_error(hint + "Its websockets listener on port " + std::to_string(p) +
                                 " did not open:\n" + env->mosq->log());
      }
    }
  }
  std::string ws_url() const { return "ws://127.0.0.1:" + std::to_string(ws_port); }
  std::string wss_url() const { return "wss://localhost:" + std::to_string(wss_port); }
};

WsEdge& ws() {
  static WsEdge w;
  return w;
}

// One run of ws_client.mjs: the JSON events it printed, one per line.
struct WsRun {
  std::vector<Json::Value> events;
  std::string output;  // everything it printed, for failure messages

  std::optional<Json::Value> first(const std::string& event) const {
    for (const auto& e : events) {
      if (e["event"].asString() == event) return e;
    }
    return std::nullopt;
  }
  std::vector<Json::Value> all(const std::string& event) const {
    std::vector<Json::Value> r;
    for (const auto& e : events) {
      if (e["event"].asString() == event) r.push_back(e);
    }
    return r;
  }
};

WsRun parse_events(const std::string& out) {
  WsRun r;
  r.output = out;
  Json::CharReaderBuilder b;
  std::unique_ptr<Json::CharReader> reader(b.newCharReader());
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    Json::Value v;
    std::string errs;
    if (!line.empty() && line[0] == '{' &&
        reader->parse(line.data(), line.data() + line.size(), &v, &errs)) {
      r.events.push_back(v);
    }
  }
  return r;
}

void require_ws_client() {
  const std::filesystem::path mqtt_js =
      std::filesystem::path(SHORTCRED_WS_CLIENT_DIR) / "node_modules" / "mqtt" / "package.json";
  if (!std::filesystem::exists(mqtt_js)) {
    FAIL("MQTT.js is not installed in " SHORTCRED_WS_CLIENT_DIR
         ": build the target broker_ws_client (runs `npm ci`; needs node and npm)");
  }
}

std::vector<std::string> ws_argv(const std::string& url, const Cred& c, const std::string& cid,
                                 int protocol, const Json::Value& actions,
                                 const std::string& ca = "") {
  require_ws_client();
  Json::Value cfg;
  cfg["url"] = url;
  cfg["username"] = c.username;
  cfg["password"] = c.password;
  cfg["clientId"] = cid;
  cfg["protocolVersion"] = protocol;
  cfg["actions"] = actions.isNull() ? Json::Value(Json::arrayValue) : actions;
  if (!ca.empty()) cfg["ca"] = ca;
  Json::StreamWriterBuilder w;
  w["indentation"] = "";
  return {SHORTCRED_NODE_PATH, SHORTCRED_WS_CLIENT_DIR "/ws_client.mjs", Json::writeString(w, cfg)};
}

WsRun ws_run(const std::string& url, const Cred& c, const std::string& cid, int protocol,
             const Json::Value& actions, const std::string& ca = "") {
  const auto r = support::run(ws_argv(url, c, cid, protocol, actions, ca));
  WsRun out = parse_events(r.out);
  out.output += r.err;
  INFO("ws_client output:\n" << out.output);
  REQUIRE(r.exit_code == 0);
  return out;
}

Json::Value op(const std::string& name, const std::string& topic = "", int qos = 0) {
  Json::Value a;
  a["op"] = name;
  if (!topic.empty()) a["topic"] = topic;
  a["qos"] = qos;
  return a;
}
Json::Value publish_op(const std::string& topic, const std::string& payload, int qos) {
  Json::Value a = op("publish", topic, qos);
  a["payload"] = payload;
  return a;
}
Json::Value wait_close_op(std::int64_t timeout_ms) {
  Json::Value a = op("wait_close");
  a["timeout_ms"] = Json::Int64(timeout_ms);
  return a;
}

int code_of(const std::optional<Json::Value>& e) {
  return e ? e->get("code", -1).asInt() : -100;
}

Cred wrong_password(Cred c) {
  c.password.back() = c.password.back() == 'A' ? 'B' : 'A';
  return c;
}

}  // namespace

// --- MQTTS -----------------------------------------------------------------

TEST_CASE("MQTTS: a valid credential connects and is held to its ACL", "[tls]") {
  auto& t = tls();
  for (int protocol : {5, 4}) {
    INFO("protocol " << protocol);
    const Cred c = t.env.mint("orgA", "tina");
    MqttClient cl(t.client(c, "tina-tls-" + std::to_string(protocol), protocol));
    REQUIRE(cl.connect(t.tls_port) == 0);
    CHECK(cl.subscribe("orgA/users/tina/#", 1) == 1);
    CHECK(cl.publish("orgA/users/tina/p", "over tls", 1) == 0);
    CHECK(cl.wait_message("orgA/users/tina/p", "over tls"));
    CHECK(cl.subscribe("orgB/users/bob/#", 1) ==
          (protocol == 5 ? kNotAuthorized : kV3SubackFailure));
    // 3.1.1 has no negative PUBACK: the broker drops the message silently.
    CHECK(cl.publish("orgB/users/bob/p", "no", 1) == (protocol == 5 ? kNotAuthorized : 0));
    CHECK(cl.connected());
  }
}

TEST_CASE("MQTTS: the listener speaks TLS only", "[tls]") {
  auto& t = tls();
  const Cred c = t.env.mint("orgA", "tina");
  auto o = t.env.client(c, "tina-plain");  // no tls_ca_file
  MqttClient plain(o);
  CHECK(plain.connect(t.tls_port, 2s) != 0);
}

TEST_CASE("MQTTS: a wrong credential is refused", "[tls]") {
  auto& t = tls();
  const Cred c = t.env.mint("orgA", "tina");
  for (int protocol : {5, 4}) {
    INFO("protocol " << protocol);
    MqttClient cl(t.client(wrong_password(c), "tina-bad-" + std::to_string(protocol), protocol));
    CHECK(cl.connect(t.tls_port) == (protocol == 5 ? kNotAuthorized : kV3RefusedNotAuthorized));
  }
}

TEST_CASE("MQTTS: an expiring credential is disconnected within 1 s of expires_at",
          "[tls][expiry]") {
  auto& t = tls();
  std::vector<std::pair<Cred, std::unique_ptr<MqttClient>>> clients;
  for (int protocol : {5, 4}) {
    const Cred c = t.env.mint("orgA", "tess", with_ttl(1500ms));
    auto cl =
        std::make_unique<MqttClient>(t.client(c, "tess-" + std::to_string(protocol), protocol));
    REQUIRE(cl->connect(t.tls_port) == 0);
    clients.emplace_back(c, std::move(cl));
  }
  REQUIRE(now_ms() < clients.front().first.expires_at_ms);
  for (auto& [c, cl] : clients) {
    const auto left =
        std::chrono::milliseconds(std::max<std::int64_t>(0, c.expires_at_ms - now_ms()));
    REQUIRE(cl->wait_disconnected(left + 1000ms));
    const std::int64_t late_ms = now_ms() - c.expires_at_ms;
    INFO("disconnected " << late_ms << " ms after expires_at");
    CHECK(late_ms >= -50);  // clocks: not noticeably before expiry
    CHECK(late_ms <= 1000);
  }
}

// --- WebSockets ------------------------------------------------------------

TEST_CASE("WebSockets: a valid credential connects over ws:// and is held to its ACL", "[ws]") {
  auto& w = ws();
  for (int protocol : {5, 4}) {
    INFO("protocol " << protocol);
    const Cred c = w.env->mint("orgA", "wanda");
    Json::Value actions(Json::arrayValue);
    actions.append(op("subscribe", "orgA/users/wanda/#", 1));
    actions.append(publish_op("orgA/users/wanda/p", "over ws", 1));
    actions.append(op("wait_message", "orgA/users/wanda/p"));
    actions.append(op("subscribe", "orgB/users/bob/#", 1));
    actions.append(publish_op("orgB/users/bob/p", "no", 1));
    const WsRun r =
        ws_run(w.ws_url(), c, "wanda-ws-" + std::to_string(protocol), protocol, actions);
    INFO(r.output);
    CHECK(code_of(r.first("connack")) == 0);
    const auto subacks = r.all("suback");
    REQUIRE(subacks.size() == 2);
    CHECK(subacks[0]["code"].asInt() == 1);
    CHECK(subacks[1]["code"].asInt() == (protocol == 5 ? kNotAuthorized : kV3SubackFailure));
    const auto pubacks = r.all("puback");
    REQUIRE(pubacks.size() == 2);
    CHECK(pubacks[0]["code"].asInt() == 0);
    CHECK(pubacks[1]["code"].asInt() == (protocol == 5 ? kNotAuthorized : 0));
    const auto got = r.first("wait_message");
    REQUIRE(got);
    CHECK((*got)["ok"].asBool());
    CHECK(r.all("message").size() == 1);  // its own, nothing of orgB's
    CHECK(!r.first("disconnect"));
  }
}

TEST_CASE("WebSockets: a valid credential connects over wss://", "[ws][tls]") {
  auto& w = ws();
  const Cred c = w.env->mint("orgA", "wanda");
  Json::Value actions(Json::arrayValue);
  actions.append(op("subscribe", "orgA/users/wanda/#", 0));
  const WsRun r = ws_run(w.wss_url(), c, "wanda-wss", 5, actions, w.certs.ca_cert);
  INFO(r.output);
  CHECK(code_of(r.first("connack")) == 0);
  CHECK(code_of(r.first("suback")) == 0);
  const WsRun bad = ws_run(w.wss_url(), wrong_password(c), "wanda-wss-bad", 5, {}, w.certs.ca_cert);
  INFO(bad.output);
  CHECK(code_of(bad.first("refused")) == kNotAuthorized);
}

TEST_CASE("WebSockets: a wrong credential is refused as not authorised", "[ws]") {
  auto& w = ws();
  const Cred c = w.env->mint("orgA", "wanda");
  for (int protocol : {5, 4}) {
    INFO("protocol " << protocol);
    const WsRun r = ws_run(w.ws_url(), wrong_password(c), "wanda-bad-" + std::to_string(protocol),
                           protocol, {});
    INFO(r.output);
    CHECK(!r.first("connack"));
    CHECK(code_of(r.first("refused")) ==
          (protocol == 5 ? kNotAuthorized : kV3RefusedNotAuthorized));
    CHECK(r.first("close"));
  }
}

// 2 s rather than the 1.5 s of the other expiry tests: two node processes
// must start and connect before the credentials expire.
TEST_CASE("WebSockets: an expiring credential is disconnected within 1 s of expires_at",
          "[ws][expiry]") {
  auto& w = ws();
  require_ws_client();
  struct Client {
    int protocol;
    Cred cred;
    std::filesystem::path log;
    support::Process proc;
  };
  std::vector<Client> clients;
  for (int protocol : {5, 4}) {
    // Long enough for node to start and connect on a loaded machine: the
    // bound under test is the 1 s after expires_at, not the lifetime.
    const Cred c = w.env->mint("orgA", "wes", with_ttl(6000ms));
    const auto log = w.dir / ("expiry-" + std::to_string(protocol) + ".jsonl");
    Json::Value actions(Json::arrayValue);
    actions.append(wait_close_op(c.expires_at_ms - now_ms() + 3000));
    clients.push_back(
        {protocol, c, log,
         support::Process(
             ws_argv(w.ws_url(), c, "wes-" + std::to_string(protocol), protocol, actions), log)});
  }
  for (auto& cl : clients) {
    REQUIRE(support::wait_until([&] { return !cl.proc.running(); }, 12s, 20ms));
  }
  for (auto& cl : clients) {
    const WsRun r = parse_events(support::read_file(cl.log));
    INFO("protocol " << cl.protocol << ", ws_client output:\n" << r.output);
    const auto connack = r.first("connack");
    REQUIRE(code_of(connack) == 0);
    REQUIRE((*connack)["t"].asInt64() < cl.cred.expires_at_ms);  // connected before expiry
    const auto closed = r.first("close");
    REQUIRE(closed);
    const std::int64_t late_ms = (*closed)["t"].asInt64() - cl.cred.expires_at_ms;
    INFO("connection closed " << late_ms << " ms after expires_at");
    CHECK(late_ms >= -50);
    CHECK(late_ms <= 1000);
    if (cl.protocol == 5) {
      // The plugin's tick kicks the session (mosquitto_kick_client_by_clientid):
      // Mosquitto sends the v5 client a DISCONNECT before closing, reason
      // 0x98 Administrative action (seen on 2.0.11, 2.0.21 and 2.1.2).
      const auto d = r.first("disconnect");
      REQUIRE(d);
      INFO("broker " << w.env->mosq->binary());
      CHECK((*d)["reason"].asInt() == kAdministrativeAction);
    } else {
      CHECK(!r.first("disconnect"));  // 3.1.1 has no server DISCONNECT
    }
  }
}

TEST_CASE("WebSockets: a revoked user is disconnected within 500 ms", "[ws][revocation]") {
  auto& w = ws();
  require_ws_client();
  auto& e = *w.env;
  REQUIRE(support::wait_until(
      [&] { return e.mosq->log().find("subscribed to shortcred:revoked") != std::string::npos; },
      3s));
  const Cred c = e.mint("orgA", "rhea");
  const auto log = w.dir / "revoke.jsonl";
  Json::Value actions(Json::arrayValue);
  actions.append(wait_close_op(5000));
  support::Process proc(ws_argv(w.ws_url(), c, "rhea-ws", 5, actions), log);
  REQUIRE(support::wait_until(
      [&] { return parse_events(support::read_file(log)).first("connack").has_value(); }, 5s,
      10ms));
  e.redis_cmd({"PUBLISH", "shortcred:revoked", "user orgA rhea"});
  const std::int64_t revoked_at = now_ms();
  REQUIRE(support::wait_until([&] { return !proc.running(); }, 5s, 10ms));
  const WsRun r = parse_events(support::read_file(log));
  INFO("ws_client output:\n" << r.output);
  const auto closed = r.first("close");
  REQUIRE(closed);
  CHECK((*closed)["t"].asInt64() - revoked_at <= 500);
  const auto d = r.first("disconnect");
  REQUIRE(d);
  CHECK((*d)["reason"].asInt() == kAdministrativeAction);
}

// --- a WebSocket CONNECT during the SIGHUP re-check -------------------------

namespace {

// A minimal WebSocket client speaking raw MQTT 3.1.1, for the one test that
// must control when the CONNECT reaches the broker (MQTT.js sends it at once).
class RawWs {
 public:
  explicit RawWs(int port) : fd_(support::connect_loopback(port, 5)) {
    REQUIRE(fd_ >= 0);
    const std::string upgrade =
        "GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: mqtt\r\n\r\n";
    REQUIRE(::send(fd_, upgrade.data(), upgrade.size(), 0) == static_cast<ssize_t>(upgrade.size()));
    std::string head;
    char ch = 0;
    while (head.find("\r\n\r\n") == std::string::npos && ::recv(fd_, &ch, 1, 0) == 1) head += ch;
    REQUIRE(head.find(" 101 ") != std::string::npos);
  }
  ~RawWs() { ::close(fd_); }
  RawWs(const RawWs&) = delete;
  RawWs& operator=(const RawWs&) = delete;

  // Sends CONNECT (3.1.1, clean session) as one masked binary frame.
  void send_connect(const std::string& cid, const std::string& user, const std::string& pass) {
    auto field = [](const std::string& s) {
      return std::string{static_cast<char>(s.size() >> 8), static_cast<char>(s.size() & 0xff)} + s;
    };
    const std::string body =
        field("MQTT") + std::string{4, static_cast<char>(0xC2), 0, 60} + field(cid) + field(user) +
        field(pass);
    std::string packet{0x10};
    for (std::size_t n = body.size(); ; n >>= 7) {  // remaining length, MQTT varint
      packet += static_cast<char>((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
      if (n <= 0x7f) break;
    }
    packet += body;
    std::string frame{static_cast<char>(0x82)};
    if (packet.size() < 126) {
      frame += static_cast<char>(0x80 | packet.size());
    } else {
      frame += static_cast<char>(0x80 | 126);
      frame += static_cast<char>(packet.size() >> 8);
      frame += static_cast<char>(packet.size() & 0xff);
    }
    const char mask[4] = {0x12, 0x34, 0x56, 0x78};
    frame.append(mask, 4);
    for (std::size_t i = 0; i < packet.size(); ++i) frame += static_cast<char>(packet[i] ^ mask[i % 4]);
    REQUIRE(::send(fd_, frame.data(), frame.size(), 0) == static_cast<ssize_t>(frame.size()));
  }
  // The CONNACK's return code, or -1 if the connection closed first.
  int connack() {
    unsigned char b[6];
    std::size_t got = 0;
    while (got < sizeof b) {
      const ssize_t n = ::recv(fd_, b + got, sizeof b - got, 0);
      if (n <= 0) return -1;
      got += static_cast<std::size_t>(n);
    }
    // An unmasked binary frame of 4 bytes: 20 02 <flags> <rc>.
    return b[0] == 0x82 && b[1] == 4 && b[2] == 0x20 ? b[5] : -1;
  }

 private:
  int fd_;
};

}  // namespace

// Mosquitto 2.0.x serves WebSocket listeners between the SIGHUP re-check and
// the next tick: a CONNECT read there came in while the plugin's re-check
// window was open, and must still be checked in full (it once got in with no
// session at all). The broker is stopped while the CONNECT and the SIGHUP
// arrive, so both are handled in the same pass of its loop.
TEST_CASE("WebSockets: a CONNECT read during the SIGHUP re-check is checked in full",
          "[ws][sighup]") {
  auto& w = ws();
  const Cred c = w.env->mint("orgA", "hugo");
  for (const bool valid : {false, true}) {
    INFO((valid ? "valid credential" : "wrong credential"));
    RawWs raw(w.ws_port);
    const pid_t pid = w.env->mosq->pid();
    ::kill(pid, SIGSTOP);
    raw.send_connect(valid ? "hugo-ok" : "hugo-bad", c.username,
                     valid ? c.password : wrong_password(c).password);
    ::kill(pid, SIGHUP);
    std::this_thread::sleep_for(50ms);  // both pending before the broker runs again
    ::kill(pid, SIGCONT);
    CHECK(raw.connack() == (valid ? 0 : kV3RefusedNotAuthorized));
  }
  REQUIRE(support::wait_until(
      [&] { return w.env->mosq->log().find("'hugo-ok' authenticated with token") != std::string::npos; },
      3s));
}
