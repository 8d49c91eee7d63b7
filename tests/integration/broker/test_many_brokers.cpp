// Many brokers on one Redis (DESIGN.md part 2, "Many brokers"): presence
// listed across brokers, kicks by client id, connection caps and the global
// publish rate counted across brokers, and a broker cut off from Redis that
// catches up on what it missed. Three real brokers; the presence interval is
// 1 s so staleness shows within seconds.
//
// Every scenario runs twice (MANY_BROKERS_CASE): on one redis-server, and
// tagged [cluster] on a Redis Cluster of 3 masters (no replicas: nothing here
// fails over) that every cluster case of the process shares — CMake runs the
// [cluster] cases as one CTest entry, so the cluster starts once. The orgs
// of a scenario are named so their `{<org>}` slots fall on different masters
// (redis-cli gives 3 masters the slot thirds 0-5460, 5461-10922,
// 10923-16383), and the cluster cases check that they do.
#include <json/json.h>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "broker_env.hpp"
#include "shortcred/cluster_slots.hpp"
#include "support/http_client.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/redis_cluster.hpp"
#include "support/tcp_proxy.hpp"
#include "support/text.hpp"

using namespace broker_test;
using support::MqttClient;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kNotAuthorized = 0x87;
constexpr const char* kPresence = "plugin_opt_presence_interval_s 1\nplugin_opt_sys_interval 1\n";

Json::Value parse_json(const std::string& text) {
  Json::Value v;
  Json::CharReaderBuilder b;
  std::string errs;
  std::unique_ptr<Json::CharReader> r(b.newCharReader());
  if (!r->parse(text.data(), text.data() + text.size(), &v, &errs)) {
    throw std::runtime_error("not JSON: " + text);
  }
  return v;
}

enum class Deployment { single, cluster };

support::RedisCluster& shared_cluster() {
  static support::RedisCluster cluster(3, 0);
  return cluster;
}

std::string hostname() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return host;
}

BrokerEnv make_env(Deployment d, const std::string& opts) {
  if (d == Deployment::single) return BrokerEnv(opts);
  return BrokerEnv(shared_cluster(), opts);
}

// Broker 1 is the BrokerEnv's own; brokers 2 and 3 share its Redis, password
// file and plugin options (plus `extra[i]` for broker i+2).
struct Brokers {
  // proxy_for_3: broker 3 reaches Redis through `proxies`, which a test can
  // cut: one to the server, or on a cluster one per master as broker 3's
  // seeds. CLUSTER SLOTS names the nodes' own ports, so on a cluster only
  // what goes through the seeds is cut — the revocation subscriber (it
  // connects to the first seed that answers) and any new slot-map read —
  // while the data connections opened from the map stay up.
  Brokers(Deployment d, const std::string& opts, std::vector<std::string> extra = {"", ""},
          bool proxy_for_3 = false)
      : e(make_env(d, opts)) {
    if (proxy_for_3) {
      std::string url = e.cluster != nullptr ? "redis-cluster://" : "redis://";
      const std::vector<int> targets = e.cluster != nullptr ? master_ports() : std::vector{e.redis->port()};
      for (int target : targets) {
        proxies.push_back(std::make_unique<support::TcpProxy>(target));
        url += (proxies.size() > 1 ? ",127.0.0.1:" : "127.0.0.1:") + std::to_string(proxies.back()->port());
      }
      extra[1] += "plugin_opt_redis_url " + url + (e.cluster != nullptr ? "\n" : "/0\n");
    }
    for (int i = 0; i < 2; ++i) {
      more.push_back(std::make_unique<support::MosquittoServer>(e.config(opts + extra[i], "")));
      if (!more.back()->running()) throw std::runtime_error("broker did not start:\n" + more.back()->log());
    }
  }
  std::vector<int> master_ports() const {
    std::vector<int> ports;
    for (int m : e.cluster->masters()) ports.push_back(e.cluster->port(m));
    return ports;
  }
  void cut() {
    for (auto& p : proxies) p->cut();
  }
  void restore() {
    for (auto& p : proxies) p->restore();
  }
  // On a cluster, that `orgs` are served by as many different masters.
  void check_spread(const std::vector<std::string>& orgs) const {
    if (e.cluster == nullptr) return;
    std::set<int> masters;
    for (const auto& org : orgs) masters.insert(e.cluster->master_of(shortcred::key_slot(org)));
    masters.erase(-1);
    CHECK(masters.size() == orgs.size());
  }
  support::MosquittoServer& broker(int n) { return n == 1 ? *e.mosq : *more[n - 2]; }
  int port(int n) { return broker(n).port(); }
  std::unique_ptr<MqttClient> connect(int n, const Cred& c, const std::string& cid, int* rc = nullptr) {
    auto cl = std::make_unique<MqttClient>(e.client(c, cid));
    const int r = cl->connect(port(n));
    if (rc != nullptr) *rc = r;
    return cl;
  }
  int connack(int n, const Cred& c, const std::string& cid) {
    MqttClient cl(e.client(c, cid));
    return cl.connect(port(n));
  }
  // The service account on broker n, subscribed to `filter`.
  std::unique_ptr<MqttClient> observer(int n, const std::string& filter) {
    MqttClient::Options o;
    o.client_id = "obs-" + std::to_string(n) + "-" + std::to_string(::getpid());
    o.username = kServiceUser;
    o.password = kServicePassword;
    auto cl = std::make_unique<MqttClient>(o);
    if (cl->connect(port(n)) != 0 || cl->subscribe(filter, 0) > 2) {
      throw std::runtime_error("observer cannot subscribe");
    }
    return cl;
  }
  support::RunResult ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {SHORTCRED_CTL_PATH, "--redis", e.redis_url()});
    return support::run(args);
  }
  // `shortcredctl session list --json` of `org`: client id → its entry.
  std::map<std::string, Json::Value> sessions(const std::string& org) {
    const auto r = ctl({"--json", "session", "list", "--org", org, "--presence-interval", "1"});
    if (r.exit_code != 0) throw std::runtime_error("session list failed: " + r.err);
    std::map<std::string, Json::Value> out;
    const Json::Value v = parse_json(r.out);
    for (const auto& s : v["sessions"]) out[s["client_id"].asString()] = s;
    return out;
  }
  BrokerEnv e;
  std::vector<std::unique_ptr<support::TcpProxy>> proxies;
  std::vector<std::unique_ptr<support::MosquittoServer>> more;
};

// A shortcred-tokend on a free port (retried if another process took it).
struct Tokend {
  explicit Tokend(BrokerEnv& e) {
    const auto log = e.files / "tokend.log";
    for (int attempt = 0; attempt < 3 && port == 0; ++attempt) {
      const int p = support::free_port();
      proc = support::Process({SHORTCRED_TOKEND_PATH, "--listen", "127.0.0.1:" + std::to_string(p),
                               "--redis", e.redis_url(), "--presence-interval", "1"},
                              log);
      const std::string ready = "listening on 127.0.0.1:" + std::to_string(p);
      support::wait_until([&] { return !proc.running() ||
                                       support::read_file(log).find(ready) != std::string::npos; },
                          10s, 10ms);
      if (proc.running()) port = p;
    }
    if (port == 0) throw std::runtime_error("tokend did not start");
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
  support::Process proc;
  int port = 0;
};

std::string api_key(Brokers& b, const std::string& org) {
  if (b.ctl({"org", "create", "--id", org}).exit_code != 0) throw std::runtime_error("org create");
  const auto key = b.ctl({"--json", "apikey", "create", "--org", org});
  return "Authorization: Bearer " + parse_json(key.out)["api_key"].asString();
}

}  // namespace

// A scenario `fn(Deployment)` as two test cases: on one redis-server, and
// with " (Redis Cluster)" and [cluster] on the shared cluster.
#define MANY_BROKERS_CASE(name, tags, fn)                                        \
  static void fn(Deployment d);                                                  \
  TEST_CASE(name, tags) { fn(Deployment::single); }                              \
  TEST_CASE(name " (Redis Cluster)", tags "[cluster]") { fn(Deployment::cluster); } \
  static void fn(Deployment d)

MANY_BROKERS_CASE("sessions are listed with their broker across brokers, and a crashed broker's go "
                  "stale",
                  "[presence]", presence_across_brokers) {
  Brokers b(d, kPresence, {"plugin_opt_broker_id b-two\n", ""});
  b.check_spread({"orgP", "orgOther"});
  const Cred ann = b.e.mint("orgP", "ann");
  const Cred bob = b.e.mint("orgP", "bob");
  auto a1 = b.connect(1, ann, "ann-1");
  auto b2 = b.connect(2, bob, "bob-2");
  auto a3 = b.connect(3, ann, "ann-3");
  REQUIRE(a1->connected());
  REQUIRE(b2->connected());
  REQUIRE(a3->connected());
  std::map<std::string, Json::Value> s;
  REQUIRE(support::wait_until([&] { return (s = b.sessions("orgP")).size() == 3; }, 2s, 20ms));
  // Default broker id: hostname:<first listener port>.
  CHECK(s["ann-1"]["broker"].asString() == hostname() + ":" + std::to_string(b.port(1)));
  CHECK(s["ann-1"]["user"].asString() == "ann");
  CHECK(s["ann-1"]["token"].asString() == ann.token_id);
  CHECK(s["ann-1"]["proto"].asInt() == 5);
  CHECK(s["bob-2"]["broker"].asString() == "b-two");
  CHECK(s["ann-3"]["broker"].asString() == hostname() + ":" + std::to_string(b.port(3)));
  // One user's sessions only; nothing of another org.
  const auto only = b.ctl({"--json", "session", "list", "--org", "orgP", "--user", "ann",
                           "--presence-interval", "1"});
  CHECK(parse_json(only.out)["sessions"].size() == 2u);
  CHECK(b.sessions("orgOther").empty());

  a1->disconnect();
  CHECK(support::wait_until([&] { return b.sessions("orgP").count("ann-1") == 0; }, 1s, 20ms));
  // A persistent session that goes offline (2.1 reports it as
  // MOSQ_EVT_CLIENT_OFFLINE, not DISCONNECT) is no live connection either.
  auto o = b.e.client(bob, "bob-kept");
  o.clean_start = false;
  o.session_expiry_s = 300;
  MqttClient kept(o);
  REQUIRE(kept.connect(b.port(1)) == 0);
  CHECK(support::wait_until([&] { return b.sessions("orgP").count("bob-kept") == 1; }, 1s, 20ms));
  kept.disconnect();
  CHECK(support::wait_until([&] { return b.sessions("orgP").count("bob-kept") == 0; }, 1s, 20ms));

  // kill -9: nobody removes broker 2's fields; they go stale within 3 intervals.
  ::kill(b.broker(2).pid(), SIGKILL);
  const auto killed = Clock::now();
  CHECK(support::wait_until([&] { return b.sessions("orgP").count("bob-2") == 0; }, 3s, 50ms));
  INFO("gone after " << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed).count()
                     << " ms");
  CHECK(b.sessions("orgP").count("ann-3") == 1);
  // Trimmed from Redis too, not only hidden.
  auto field = b.e.redis_cmd({"HEXISTS", "shortcred:{orgP}:sessions", "b-two|bob-2"});
  CHECK(field->integer == 0);
  CHECK(b.e.redis_cmd({"ZSCORE", "shortcred:{orgP}:session_seen", "b-two|bob-2"})->type ==
        REDIS_REPLY_NIL);
}

MANY_BROKERS_CASE("a kick by client id disconnects it on its broker within 500 ms, and other orgs "
                  "cannot see or kick it",
                  "[presence][kick]", kick_by_client_id) {
  Brokers b(d, kPresence);
  b.check_spread({"orgK", "orgX"});
  const std::string auth = api_key(b, "orgK");
  const std::string other = api_key(b, "orgX");
  Tokend t(b.e);
  support::HttpClient http(t.url());
  const Cred kim = b.e.mint("orgK", "kim");
  auto k1 = b.connect(1, kim, "kim-1");
  auto k2 = b.connect(2, kim, "kim/2 with space");
  auto k3 = b.connect(3, kim, "kim-3");
  REQUIRE(k2->connected());
  REQUIRE(support::wait_until([&] { return b.sessions("orgK").size() == 3; }, 2s, 20ms));

  const auto listed = http.request("GET", "/v2/sessions?user_id=kim", "", {auth});
  REQUIRE(listed.status == 200);
  CHECK(parse_json(listed.body)["sessions"].size() == 3u);
  // Another org's key sees nothing of orgK and cannot kick its client.
  const auto foreign = http.request("GET", "/v2/sessions", "", {other});
  REQUIRE(foreign.status == 200);
  CHECK(parse_json(foreign.body)["sessions"].empty());
  CHECK(http.request("DELETE", "/v2/sessions/kim-1", "", {other}).status == 404);
  CHECK(http.request("DELETE", "/v2/sessions/nobody", "", {auth}).status == 404);
  CHECK(http.request("GET", "/v2/sessions?user=kim", "", {auth}).status == 400);
  CHECK(http.request("GET", "/v2/sessions", "", {}).status == 401);

  const auto t0 = Clock::now();
  const auto del = http.request("DELETE", "/v2/sessions/kim%2F2%20with%20space", "", {auth});
  REQUIRE(del.status == 204);
  CHECK(k2->wait_disconnected(1s));
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  INFO("disconnected " << ms << " ms after the DELETE was sent");
  CHECK(ms <= 500);
  CHECK(k1->connected());
  CHECK(k3->connected());
  CHECK(b.broker(2).log().find("kicked; disconnecting") != std::string::npos);
  // The same through shortcredctl.
  const auto kick = b.ctl({"session", "kick", "orgK", "kim-3", "--presence-interval", "1"});
  CHECK(kick.exit_code == 0);
  CHECK(k3->wait_disconnected(1s));
  CHECK(k1->connected());
  CHECK(b.ctl({"session", "kick", "orgX", "kim-1", "--presence-interval", "1"}).exit_code == 1);
  CHECK(b.ctl({"session", "kick", "orgK", "", "--presence-interval", "1"}).exit_code == 2);
  // Each kick is audited in the org's stream (whose session, by which key or
  // operator); the refused ones are not.
  std::vector<Json::Value> kicks;
  const auto audit = b.ctl({"--json", "audit", "orgK"});
  REQUIRE(audit.exit_code == 0);
  std::istringstream lines(audit.out);
  for (std::string line; std::getline(lines, line);) {
    const Json::Value v = parse_json(line);
    if (v["event"].asString() == "session_kick") kicks.push_back(v);
  }
  REQUIRE(kicks.size() == 2u);
  CHECK(kicks[0]["client_id"].asString() == "kim/2 with space");
  CHECK(kicks[0]["user"].asString() == "kim");
  CHECK(kicks[0]["token"].asString() == kim.token_id);
  CHECK_FALSE(kicks[0]["apikey"].asString().empty());
  CHECK(kicks[1]["client_id"].asString() == "kim-3");
  CHECK(kicks[1]["remote"].asString() == "shortcredctl");
  CHECK_FALSE(kicks[1]["actor"].asString().empty());
  const auto other_audit = b.ctl({"--json", "audit", "orgX"});
  CHECK(other_audit.out.find("session_kick") == std::string::npos);
  // tokend's /metrics counts the session routes.
  const auto metrics = http.request("GET", "/metrics");
  CHECK(metrics.body.find("route=\"/v2/sessions/{client_id}\",status=\"204\"") != std::string::npos);
  CHECK(metrics.body.find("route=\"/v2/sessions\",status=\"200\"") != std::string::npos);
  CHECK(metrics.body.find("shortcred_sessions_kicked_total 1") != std::string::npos);
}

MANY_BROKERS_CASE("max_connections and user_max_connections count live sessions of every broker",
                  "[presence][limits]", caps_across_brokers) {
  Brokers b(d, kPresence);
  b.check_spread({"orgC", "orgU"});
  b.e.set_org("orgC", {{"max_connections", "3"}});
  const Cred cat = b.e.mint("orgC", "cat");
  const Cred dan = b.e.mint("orgC", "dan");
  const std::uint64_t zcount_before = b.e.redis_calls("zcount");
  const std::uint64_t hgetall_before = b.e.redis_calls("hgetall");
  auto c1 = b.connect(1, cat, "cat-1");
  auto c2 = b.connect(2, cat, "cat-2");
  auto c3 = b.connect(3, dan, "dan-3");
  REQUIRE(c3->connected());
  // The caps are read in the CONNECT round trip: two counts beside the two
  // HGETALLs, in the same pipeline.
  CHECK(b.e.redis_calls("hgetall") - hgetall_before == 6);
  CHECK(b.e.redis_calls("zcount") - zcount_before == 6);
  // Each broker writes its session a few ms after the CONNACK (a CONNECT on
  // another broker within that window is the documented overshoot).
  REQUIRE(support::wait_until([&] { return b.sessions("orgC").size() == 3; }, 1s, 5ms));
  for (int n : {1, 2, 3}) CHECK(b.connack(n, dan, "dan-x" + std::to_string(n)) == kNotAuthorized);
  c2->disconnect();
  // The slot frees once broker 2 has removed the session (at once).
  CHECK(support::wait_until([&] { return b.connack(1, dan, "dan-1") == 0; }, 1s, 20ms));

  // user_max_connections alone.
  b.e.set_org("orgU", {{"user_max_connections", "2"}});
  const Cred eve = b.e.mint("orgU", "eve");
  const Cred fay = b.e.mint("orgU", "fay");
  auto e1 = b.connect(1, eve, "eve-1");
  auto e3 = b.connect(3, eve, "eve-3");
  REQUIRE(e3->connected());
  REQUIRE(support::wait_until([&] { return b.sessions("orgU").size() == 2; }, 1s, 5ms));
  for (int n : {1, 2, 3}) CHECK(b.connack(n, eve, "eve-x" + std::to_string(n)) == kNotAuthorized);
  auto f2 = b.connect(2, fay, "fay-2");  // another user of the org is not limited by eve
  CHECK(f2->connected());
  e1->disconnect();
  CHECK(support::wait_until([&] { return b.connack(2, eve, "eve-2") == 0; }, 1s, 20ms));
  CHECK(b.e.mosq->log().find("user connection limit reached") != std::string::npos);
}

namespace {

// Three publishers, one per broker, each sending `per_publisher` QoS 0
// messages spread over `seconds`; returns the deliveries each broker's
// observer saw and the seconds the publishing took.
std::vector<std::size_t> publish_everywhere(Brokers& b, const std::string& org, int per_publisher,
                                            std::chrono::milliseconds span, double& seconds) {
  std::vector<std::unique_ptr<MqttClient>> obs, pubs;
  for (int n : {1, 2, 3}) {
    obs.push_back(b.observer(n, org + "/#"));
    const Cred c = b.e.mint(org, "p" + std::to_string(n));
    int rc = -1;
    // Per org: client ids stay owned by their user a while, and the cluster
    // cases share one Redis.
    pubs.push_back(b.connect(n, c, "pub-" + org + "-" + std::to_string(n), &rc));
    if (!pubs.back()->connected()) {
      throw std::runtime_error("publisher cannot connect to broker " + std::to_string(n) + ": " +
                               std::to_string(rc) + "\n" + b.broker(n).log());
    }
  }
  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int n = 0; n < 3; ++n) {
    threads.emplace_back([&, n] {
      const std::string topic = org + "/users/p" + std::to_string(n + 1) + "/t";
      for (int i = 0; i < per_publisher; ++i) {
        pubs[n]->publish(topic, "x", 0);
        std::this_thread::sleep_until(t0 + span * (i + 1) / per_publisher);
      }
    });
  }
  for (auto& t : threads) t.join();
  seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  // A marker per broker: everything published before it has been delivered.
  std::vector<std::size_t> seen;
  for (int n = 0; n < 3; ++n) {
    const std::string marker = org + "/users/p" + std::to_string(n + 1) + "/t";
    // The bucket may be empty: the marker goes as the service account.
    MqttClient::Options o;
    o.client_id = "marker-" + std::to_string(n);
    o.username = kServiceUser;
    o.password = kServicePassword;
    MqttClient m(o);
    if (m.connect(b.port(n + 1)) != 0) throw std::runtime_error("marker cannot connect");
    m.publish(org + "/marker", "end", 1);
    if (!obs[n]->wait_message(org + "/marker", "end")) throw std::runtime_error("no marker");
    seen.push_back(obs[n]->count(marker));
  }
  return seen;
}

}  // namespace

MANY_BROKERS_CASE("pub_rate_scope global holds an org's publishes on all brokers to one budget",
                  "[presence][rate]", global_rate) {
  Brokers b(d, kPresence);
  REQUIRE(b.ctl({"org", "create", "--id", "orgG"}).exit_code == 0);
  REQUIRE(b.ctl({"org", "set", "orgG", "--pub-rate", "100", "--pub-rate-scope", "global"}).exit_code == 0);
  CHECK(b.ctl({"org", "set", "orgG", "--pub-rate-scope", "everywhere"}).exit_code == 2);
  double secs = 0;
  const auto seen = publish_everywhere(b, "orgG", 1000, 3s, secs);
  const std::size_t total = seen[0] + seen[1] + seen[2];
  // DESIGN.md: pub_rate × seconds + burst (default = pub_rate) + one lease
  // (a tenth of pub_rate) per broker.
  const double bound = 100 * secs + 100 + 3 * 10;
  INFO("deliveries " << seen[0] << " + " << seen[1] << " + " << seen[2] << " = " << total
                     << " in " << secs << " s; bound " << bound);
  CHECK(static_cast<double>(total) <= bound);
  for (std::size_t s : seen) CHECK(s > 0);  // every broker got a share
  CHECK(b.e.redis_cmd({"HEXISTS", "shortcred:{orgG}:quota", "tokens"})->integer == 1);
  // The script is loaded once per broker and reloaded after a SCRIPT FLUSH.
  b.e.redis_cmd_on_masters({"SCRIPT", "FLUSH"});
  const auto loads = [&] { return b.e.redis_calls("script|load") + b.e.redis_calls("script"); };
  const std::uint64_t before = loads();
  const Cred again = b.e.mint("orgG", "again");
  auto c = b.connect(1, again, "again-1");
  auto obs = b.observer(1, "orgG/users/again/#");
  // Publishing spends broker 1's slice; its next lease meets NOSCRIPT.
  CHECK(support::wait_until([&] {
    c->publish("orgG/users/again/t", "x", 0);
    return loads() > before && obs->count("orgG/users/again/t") > 0;
  }, 3s, 5ms));
  // Counted in the periodic counters line (and $SYS): the first load and the reload.
  CHECK(support::wait_until([&] { return b.e.last_counter("lease/script_loads") >= 2; }, 3s, 50ms));
  CHECK(b.e.last_counter("lease/granted") > 0);
  CHECK(b.e.last_counter("presence/writes") > 0);
}

MANY_BROKERS_CASE("pub_rate_scope broker (the default) limits each broker on its own",
                  "[presence][rate]", broker_rate) {
  Brokers b(d, kPresence);
  b.e.set_org("orgB", {{"pub_rate", "100"}});
  double secs = 0;
  const auto seen = publish_everywhere(b, "orgB", 1000, 3s, secs);
  const double per_broker = 100 * secs + 100 + 1;
  INFO("deliveries " << seen[0] << " + " << seen[1] << " + " << seen[2] << " in " << secs << " s");
  for (std::size_t s : seen) CHECK(static_cast<double>(s) <= per_broker);
  // Each broker allows its own budget: together more than one global budget.
  CHECK(static_cast<double>(seen[0] + seen[1] + seen[2]) > 100 * secs + 100 + 3 * 10);
  CHECK(b.e.redis_cmd({"EXISTS", "shortcred:{orgB}:quota"})->integer == 0);
}

MANY_BROKERS_CASE("a revocation published while a broker is cut off from Redis disconnects its "
                  "client once it is back",
                  "[presence][outage]", revocation_after_outage) {
  Brokers b(d, std::string(kPresence) + "plugin_opt_revalidate_interval_s 60\n", {"", ""},
            /*proxy_for_3=*/true);
  const Cred gil = b.e.mint("orgO", "gil");
  const Cred hal = b.e.mint("orgO", "hal");
  auto g3 = b.connect(3, gil, "gil-3");
  auto h1 = b.connect(1, hal, "hal-1");
  REQUIRE(g3->connected());
  REQUIRE(support::wait_until([&] { return b.sessions("orgO").size() == 2; }, 2s, 20ms));

  b.cut();
  REQUIRE(support::wait_until(
      [&] { return b.broker(3).log().find("revocation subscriber lost Redis") != std::string::npos; },
      2s, 20ms));
  // Revoked as the token service does: the key goes, the channel says so —
  // and broker 3 is not listening.
  b.e.redis_cmd({"DEL", "shortcred:{orgO}:cred:" + gil.token_id});
  b.e.redis_cmd({"PUBLISH", "shortcred:revoked", "token orgO " + gil.token_id});
  CHECK_FALSE(g3->wait_disconnected(500ms));  // cached rights while Redis is away
  CHECK(h1->connected());

  b.restore();
  const auto t0 = Clock::now();
  // Back within the subscriber's backoff (at most 2 s), then every session
  // is revalidated at once (not after revalidate_interval_s, 60 s here).
  CHECK(g3->wait_disconnected(5s));
  INFO("disconnected " << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()
                       << " ms after Redis was reachable again");
  CHECK(b.broker(3).log().find("no longer in Redis; disconnecting 'gil-3'") != std::string::npos);
  CHECK(h1->connected());
  // Its presence comes back with the heartbeat, and the revoked client's goes.
  CHECK(support::wait_until([&] {
    const auto s = b.sessions("orgO");
    return s.count("gil-3") == 0 && s.count("hal-1") == 1;
  }, 3s, 50ms));
}
