// bench/soak: shortcred under churn and faults for N minutes, with invariants
// checked continuously and a report at the end. Not a timed test: with
// --check (the CTest entry soak_60s) the exit status says only whether an
// invariant was violated (or the run was vacuous), never how fast anything was.
//
// It starts its own servers (children that die with it, PR_SET_PDEATHSIG):
// one redis-server (appendonly, appendfsync always, so a kill -9 loses no
// acknowledged write), one shortcred-tokend (--issue-rate 0), two Mosquitto
// brokers ($SHORTCRED_MOSQUITTO or `mosquitto`) loading the plugin with
// revalidate_interval_s 2, and a few orgs (max_tokens_per_user 0) with an
// API key each (shortcredctl).
//
// Workload: --clients libmosquitto clients (MQTT 5, one in five 3.1.1; one in
// five with a persistent session), each a fixed (org, user) and client id,
// driven non-blocking by --threads poll() loops, each from its own loopback
// address (127.0.x.y, so the failed-auth throttle sees distinct peers). A
// session: fetch a fresh credential (60 % from tokend's POST /v2/tokens, TTL
// 60–120 s; 40 % written straight into Redis with a TTL of 4–12 s, since
// tokend's minimum TTL is 60 s), connect to one of the brokers, subscribe to
// its own %o/users/%u/# and %o/shared/# and once outside its scope, publish
// to its own topics now and then and once outside them, then after 2–15 s
// disconnect (or drop, which sends its will) — or, one session in three,
// stay until the broker kicks it at expiry or revocation. A revoker thread
// DELETEs /v2/tokens/<id> of random live tokend sessions; a prober connects
// with a long-lived credential, fast during outages, to time refusals.
//
// Faults, one every --fault-every seconds after warm-up, in turn: broker
// SIGHUP (brokers alternate), Redis SIGSTOP for 2 s, Redis kill -9 + restart
// after 1 s (same port and data dir), tokend SIGTERM + restart. None in the
// last cool-down seconds.
//
// Invariants (each violation is counted and described in the report):
//  1. No unauthorised delivery: every received message is checked against the
//     receiver's (org, user) — `<o>/users/<u>/…` only to that user,
//     `<o>/shared/…` only to that org — and against its sender's (in the
//     payload): a sender may only have written to its own user tree or its
//     org's shared tree. An outside SUBSCRIBE granted, or an outside QoS 1
//     PUBLISH acknowledged with success (MQTT 5), also counts.
//  2. No expired or revoked session alive past its bound: still connected
//     (after every byte on its socket was read) later than expires_at
//     (resp. the 204 of the DELETE) + 1 s + --slack-ms; while a fault was
//     active around that time the bound grows by revalidate_interval_s +
//     the fault's duration + 2 s (reported separately). Also: a message
//     received by such a session past its bound, and a will published for a
//     session that was revoked (revocation never sends the will).
//  3. No crash: a broker or tokend exiting when the schedule did not stop
//     it, tokend exiting non-zero after SIGTERM, a broker exiting non-zero at
//     the final SIGTERM.
//  4. Resources: RSS and open fds of each broker and tokend sampled every
//     2 s from /proc; the least-squares slope after warm-up is reported per
//     minute (not asserted: one minute is noise). Asserted: once every
//     client has gone, each broker's fd count is back within 2 of its count
//     before the first client.
//  5. Refusal latency of CONNECTs while Redis is down or frozen (workers and
//     prober), median / p99 — reported, never asserted.
#include <fcntl.h>
#include <json/json.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "shortcred/redis/connection.hpp"
#include "shortcred/schema.hpp"
#include "shortcred/secrets.hpp"
#include "support/http_client.hpp"
#include "support/mosquitto_server.hpp"
#include "support/mqtt_client.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_interrupted{false};
const Clock::time_point g_t0 = Clock::now();

double now_s() { return std::chrono::duration<double>(Clock::now() - g_t0).count(); }

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Args {
  double seconds = 600;
  int clients = 500;
  int threads = 3;
  int orgs = 4;
  int users = 6;  // per org
  int revalidate_s = 2;
  double fault_every = 15;
  double slack_ms = 1000;
  double publish_interval_s = 4;
  double revoke_interval_s = 0.5;
  bool check = false;
  std::string tokend = SHORTCRED_TOKEND_PATH;
  std::string ctl = SHORTCRED_CTL_PATH;
  std::string plugin = SHORTCRED_PLUGIN_PATH;
  std::string report;
  unsigned seed = 0;
};
Args g_args;

// ---------------------------------------------------------------------------
// Children that die with us (also on SIGKILL of this process) and that only
// the main thread forks, waits for and signals.

class Child {
 public:
  Child() = default;
  ~Child() { kill9(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  void spawn(std::vector<std::string> argv, const fs::path& log) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("cannot open " + log.string());
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(s.data());
    a.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) _exit(1);
      ::signal(SIGPIPE, SIG_DFL);
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
      const int devnull = ::open("/dev/null", O_RDONLY);
      ::dup2(devnull, STDIN_FILENO);
      // Our client sockets must not live on in a child (a restarted Redis or
      // tokend would hold connections open that a client closed).
      ::close_range(3, ~0U, 0);
      ::execvp(a[0], a.data());
      _exit(127);
    }
    ::close(fd);
    pid_ = pid;
    status_ = 0;
    ++spawns_;
  }
  pid_t pid() const { return pid_; }
  int spawns() const { return spawns_; }
  int status() const { return status_; }
  bool running() {
    if (pid_ <= 0) return false;
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      status_ = st;
      pid_ = -1;
      return false;
    }
    return true;
  }
  void signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  // SIGTERM, then SIGKILL after grace; returns the wait status (and whether
  // it had to be killed).
  int stop(int grace_ms, bool* killed = nullptr) {
    if (killed) *killed = false;
    if (pid_ <= 0) return status_;
    ::kill(pid_, SIGCONT);
    ::kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + std::chrono::milliseconds(grace_ms);
    while (Clock::now() < deadline) {
      if (!running()) return status_;
      std::this_thread::sleep_for(5ms);
    }
    if (killed) *killed = true;
    kill9();
    return status_;
  }
  void kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    status_ = st;
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  int spawns_ = 0;
};

std::string describe_status(int st) {
  if (WIFEXITED(st)) return "exit " + std::to_string(WEXITSTATUS(st));
  if (WIFSIGNALED(st)) return std::string("signal ") + strsignal(WTERMSIG(st));
  return "status " + std::to_string(st);
}

std::string tail(const fs::path& p, std::size_t lines) {
  const std::string s = support::read_file(p);
  std::size_t pos = s.size(), n = 0;
  while (pos > 0 && n <= lines) {
    pos = s.rfind('\n', pos - 1);
    if (pos == std::string::npos) {
      pos = 0;
      break;
    }
    ++n;
  }
  return s.substr(pos);
}

// ---------------------------------------------------------------------------
// Findings

struct Samples {
  std::mutex mu;
  std::vector<double> v;
  void add(double x) {
    std::lock_guard l(mu);
    v.push_back(x);
  }
  std::string summary(double scale = 1000, const char* unit = "ms") {
    std::lock_guard l(mu);
    if (v.empty()) return "n=0";
    std::vector<double> s = v;
    std::sort(s.begin(), s.end());
    auto q = [&](double p) { return s[std::min(s.size() - 1, static_cast<std::size_t>(p * static_cast<double>(s.size())))]; };
    char buf[200];
    std::snprintf(buf, sizeof buf, "n=%zu median %.0f %s, p99 %.0f %s, max %.0f %s", s.size(), q(0.5) * scale,
                  unit, q(0.99) * scale, unit, s.back() * scale, unit);
    return buf;
  }
  std::size_t size() {
    std::lock_guard l(mu);
    return v.size();
  }
};

class Findings {
 public:
  void violation(int invariant, const std::string& kind, const std::string& detail) {
    std::lock_guard l(mu_);
    auto& e = by_kind_[{invariant, kind}];
    ++e.first;
    if (e.second.size() < 8) e.second.push_back(fmt_t() + " " + detail);
    std::fprintf(stderr, "soak: VIOLATION (%d) %s: %s\n", invariant, kind.c_str(), detail.c_str());
  }
  void anomaly(const std::string& kind, const std::string& detail) {
    std::lock_guard l(mu_);
    auto& e = anomalies_[kind];
    ++e.first;
    if (e.second.size() < 5) e.second.push_back(fmt_t() + " " + detail);
  }
  std::uint64_t total() {
    std::lock_guard l(mu_);
    std::uint64_t n = 0;
    for (auto& [k, e] : by_kind_) n += e.first;
    return n;
  }
  std::uint64_t count(int invariant) {
    std::lock_guard l(mu_);
    std::uint64_t n = 0;
    for (auto& [k, e] : by_kind_) n += k.first == invariant ? e.first : 0;
    return n;
  }
  void print(std::ostream& o, int invariant) {
    std::lock_guard l(mu_);
    for (auto& [k, e] : by_kind_) {
      if (k.first != invariant) continue;
      o << "      VIOLATION " << k.second << ": " << e.first << "\n";
      for (auto& d : e.second) o << "        " << d << "\n";
    }
  }
  void print_anomalies(std::ostream& o) {
    std::lock_guard l(mu_);
    if (anomalies_.empty()) o << "    (none)\n";
    for (auto& [k, e] : anomalies_) {
      o << "    " << k << ": " << e.first << "\n";
      for (auto& d : e.second) o << "      " << d << "\n";
    }
  }

 private:
  static std::string fmt_t() {
    char b[32];
    std::snprintf(b, sizeof b, "[t=%.1fs]", now_s());
    return b;
  }
  std::mutex mu_;
  std::map<std::pair<int, std::string>, std::pair<std::uint64_t, std::vector<std::string>>> by_kind_;
  std::map<std::string, std::pair<std::uint64_t, std::vector<std::string>>> anomalies_;
};
Findings g_find;

struct Counters {
  std::atomic<std::uint64_t> connect_attempts{0}, connect_ok{0}, refused_noconnack{0}, refused_rc{0},
      connect_timeout{0}, connect_call_failed{0}, refused_in_outage{0}, refused_outside_outage{0},
      sessions_clean{0}, sessions_dropped{0}, kicked_expiry{0}, kicked_revoked{0}, kicked_revoke_uncertain{0},
      kicked_unexplained{0}, mint_tokend_ok{0}, mint_tokend_fail{0}, mint_direct_ok{0}, mint_direct_fail{0},
      cred_reused{0}, revoke_ok{0}, revoke_fail{0}, revoke_notfound{0}, published{0}, delivered{0},
      wills_received{0}, outside_sub_refused{0}, outside_pub_refused{0}, own_sub_refused{0},
      own_pub_refused{0}, resumed_sessions{0}, deadline_checks_expiry{0}, deadline_checks_revoke{0};
};
Counters g_c;

Samples g_late_expiry, g_late_expiry_fault, g_late_revoke, g_late_revoke_fault;
Samples g_refusal_worker, g_refusal_probe, g_probe_ok_normal;
Samples g_refusal_after_outage;  // CONNECTs started after Redis was back, still refused

// ---------------------------------------------------------------------------
// Fault windows: the extra allowance a deadline gets when a fault was active
// around it.

struct FaultWindow {
  std::string kind;
  double start = 0, end = -1;  // end < 0: still active
  bool redis_outage = false;
  std::string note;
};

class Faults {
 public:
  std::size_t open(const std::string& kind, bool outage) {
    std::lock_guard l(mu_);
    w_.push_back({kind, now_s(), -1, outage, {}});
    return w_.size() - 1;
  }
  void close(std::size_t i, const std::string& note = {}) {
    std::lock_guard l(mu_);
    w_[i].end = now_s();
    w_[i].note = note;
  }
  // Bound for an event (expiry, revocation) at time e.
  double bound(double e, bool* under_fault = nullptr) {
    const double base = 1.0 + g_args.slack_ms / 1000.0;
    const double r = g_args.revalidate_s;
    const double t = now_s();
    double extra = 0;
    std::lock_guard l(mu_);
    for (auto& f : w_) {
      const double fe = f.end < 0 ? t : f.end;
      if (f.start <= e + base && fe >= e - r - 1) extra = std::max(extra, r + (fe - f.start) + 2);
    }
    if (under_fault) *under_fault = extra > 0;
    return base + extra;
  }
  // A Redis outage around [a, b], counting the breaker's recovery (its probe
  // backs off to 2 s) as part of it.
  bool redis_outage_overlaps(double a, double b, double* after_end = nullptr) {
    std::lock_guard l(mu_);
    const double t = now_s();
    for (auto& f : w_) {
      const double fe = f.end < 0 ? t + kRecovery : f.end + kRecovery;
      if (f.redis_outage && f.start <= b && fe >= a) {
        if (after_end) *after_end = f.end >= 0 && a > f.end ? a - f.end : -1;
        return true;
      }
    }
    return false;
  }
  static constexpr double kRecovery = 2.5;
  bool redis_outage_now() {
    std::lock_guard l(mu_);
    for (auto& f : w_) {
      if (f.redis_outage && f.end < 0) return true;
    }
    return false;
  }
  std::vector<FaultWindow> all() {
    std::lock_guard l(mu_);
    return w_;
  }

 private:
  std::mutex mu_;
  std::vector<FaultWindow> w_;
};
Faults g_faults;

// ---------------------------------------------------------------------------
// The model

struct Org {
  std::string id, api_key;
};
std::vector<Org> g_orgs;
int g_broker_port[2] = {0, 0};
int g_tokend_port = 0;
int g_redis_port = 0;
std::atomic<bool> g_stop_clients{false};

struct Cred {
  std::string token_id, username, password;
  double expires = 0;  // steady seconds (an upper bound of the real expiry)
  bool from_tokend = false;
};

enum Phase : int { kIdle, kWaitCred, kConnecting, kConnected, kClosing, kRetry };

struct Client {
  int idx = 0;
  std::string cid, org, user, bind;
  int org_i = 0, user_i = 0;
  int protocol = 5;
  bool persistent = false;
  std::mt19937 rng;

  // driver-only
  mosquitto* m = nullptr;
  bool need_destroy = false;
  double next_action = 0, t_connect = 0, t_close = 0, next_publish = 0, session_end = 0;
  int broker = 0;
  bool outside_pub_sent = false;
  int outside_sub_mid = -1, outside_pub_mid = -1, own_sub_mid = -1;
  int refusals_in_row = 0;
  bool deadline_reported = false;
  bool kicked_last = false;

  std::atomic<int> phase{kIdle};
  // shared with minters and the revoker
  std::mutex mu;
  bool mint_pending = false, mint_failed = false;
  std::optional<Cred> fresh;
  Cred cred;                 // the session's
  std::uint64_t gen = 0;     // session number
  bool hold = false;         // stay until kicked
  bool closing = false;      // we ended it
  bool revoke_pending = false, revoke_uncertain = false;
  double revoked_at = -1;
  std::set<std::uint64_t> revoked_gens;
};
std::vector<std::unique_ptr<Client>> g_clients;

// ---------------------------------------------------------------------------
// Minting: tokend over HTTP, or straight into Redis for TTLs under tokend's
// minimum of 60 s.

struct MintQueue {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Client*> q;
  bool stop = false;
  void push(Client* c) {
    std::lock_guard l(mu);
    q.push_back(c);
    cv.notify_one();
  }
  Client* pop() {
    std::unique_lock l(mu);
    cv.wait(l, [&] { return stop || !q.empty(); });
    if (q.empty()) return nullptr;
    Client* c = q.front();
    q.pop_front();
    return c;
  }
};
MintQueue g_mintq;

Json::Value parse_json(const std::string& text) {
  Json::Value v;
  Json::CharReaderBuilder b;
  std::string errs;
  std::unique_ptr<Json::CharReader> r(b.newCharReader());
  if (!r->parse(text.data(), text.data() + text.size(), &v, &errs)) return Json::Value();
  return v;
}

std::optional<Cred> mint_tokend(support::HttpClient& http, const Org& org, const std::string& user, int ttl) {
  Json::Value body;
  body["user_id"] = user;
  body["ttl_seconds"] = ttl;
  Json::StreamWriterBuilder w;
  w["indentation"] = "";
  auto r = http.request("POST", "/v2/tokens", Json::writeString(w, body),
                        {"Authorization: Bearer " + org.api_key});
  const double t = now_s();
  if (r.status != 201) return std::nullopt;
  auto v = parse_json(r.body);
  if (!v.isObject() || !v["password"].isString()) return std::nullopt;
  Cred c;
  c.token_id = v["token_id"].asString();
  c.username = v["username"].asString();
  c.password = v["password"].asString();
  c.expires = t + ttl;  // tokend's expires_at_ms = its now + ttl, before it answered
  c.from_tokend = true;
  return c;
}

std::optional<Cred> mint_direct(shortcred::redis::Connection& rc, const Org& org, const std::string& user,
                                double ttl_s) {
  if (!rc.ok()) {
    shortcred::RedisEndpoint ep;
    ep.port = g_redis_port;
    std::string err;
    rc = shortcred::redis::Connection::open(ep, 300ms, err);
    if (!rc.ok()) return std::nullopt;
  }
  static const auto rnd = shortcred::openssl_random();
  const auto m = shortcred::mint_password(rnd);
  shortcred::CredentialRecord rec;
  rec.user = user;
  rec.secret_sha256 = m.sha256_hex;
  rec.issued_at_ms = wall_ms();
  const auto ttl_ms = static_cast<std::int64_t>(ttl_s * 1000);
  rec.expires_at_ms = rec.issued_at_ms + ttl_ms;
  const double t = now_s();
  const std::string key = shortcred::cred_key(shortcred::kDefaultKeyPrefix, org.id, m.id);
  std::vector<std::string> argv{"HSET", key};
  for (auto& [k, v] : shortcred::to_fields(rec)) {
    argv.push_back(k);
    argv.push_back(v);
  }
  auto r1 = rc.command(argv);
  auto r2 = rc.command({"PEXPIREAT", key, std::to_string(rec.expires_at_ms)});
  if (shortcred::redis::is_error(r1) || shortcred::redis::is_error(r2)) return std::nullopt;
  Cred c;
  c.token_id = m.id;
  c.username = user + "@" + org.id;
  c.password = m.full;
  c.expires = t + static_cast<double>(ttl_ms) / 1000.0 + 0.005;
  c.from_tokend = false;
  return c;
}

void minter_thread(unsigned seed) {
  support::HttpClient http("http://127.0.0.1:" + std::to_string(g_tokend_port), 3000);
  shortcred::redis::Connection rc;
  std::mt19937 rng(seed);
  while (Client* c = g_mintq.pop()) {
    const bool tokend = std::uniform_int_distribution<int>(0, 9)(rng) < 6;
    std::optional<Cred> cred;
    const Org& org = g_orgs[static_cast<std::size_t>(c->org_i)];
    if (tokend) {
      cred = mint_tokend(http, org, c->user, std::uniform_int_distribution<int>(60, 120)(rng));
      (cred ? g_c.mint_tokend_ok : g_c.mint_tokend_fail)++;
    } else {
      cred = mint_direct(rc, org, c->user, std::uniform_real_distribution<double>(4, 12)(rng));
      (cred ? g_c.mint_direct_ok : g_c.mint_direct_fail)++;
    }
    std::lock_guard l(c->mu);
    c->mint_pending = false;
    if (cred) {
      c->fresh = std::move(cred);
    } else {
      c->mint_failed = true;
    }
  }
}

// ---------------------------------------------------------------------------
// Topics and the read/write model

std::string user_topic(const std::string& org, const std::string& user) { return org + "/users/" + user + "/"; }
std::string shared_topic(const std::string& org) { return org + "/shared/"; }

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// May (org, user) have written `topic` under the default templates?
bool may_write(const std::string& topic, const std::string& org, const std::string& user) {
  return starts_with(topic, user_topic(org, user)) || starts_with(topic, shared_topic(org));
}

// ---------------------------------------------------------------------------
// Client callbacks (run on the client's driver thread)

Client& cl(void* obj) { return *static_cast<Client*>(obj); }

void on_connect(mosquitto* m, void* obj, int rc, int flags, const mosquitto_property*) {
  Client& c = cl(obj);
  const double t = now_s();
  if (rc != 0) {
    g_c.refused_rc++;
    double after = -1;
    const bool outage = g_faults.redis_outage_overlaps(c.t_connect, t, &after);
    if (outage) {
      if (after >= 0) g_refusal_after_outage.add(after);
      g_c.refused_in_outage++;
      g_refusal_worker.add(t - c.t_connect);
    } else {
      g_c.refused_outside_outage++;
      g_find.anomaly("valid credential refused outside a Redis outage (CONNACK " + std::to_string(rc) + ")",
                     c.cid + " " + c.cred.username + " token " + c.cred.token_id);
    }
    c.phase = kRetry;
    c.need_destroy = true;
    c.next_action = t + 0.3 + 0.3 * std::uniform_real_distribution<double>(0, 1)(c.rng);
    return;
  }
  g_c.connect_ok++;
  if (c.persistent && (flags & 1)) g_c.resumed_sessions++;
  c.refusals_in_row = 0;
  c.deadline_reported = false;
  c.outside_pub_sent = false;
  c.outside_pub_mid = -1;
  {
    std::lock_guard l(c.mu);
    c.closing = false;
  }
  c.phase = kConnected;
  const double len = std::uniform_real_distribution<double>(2, 15)(c.rng);
  c.session_end = t + len;
  c.next_publish = t + std::uniform_real_distribution<double>(0.2, 1.0)(c.rng);
  mosquitto_subscribe(m, &c.own_sub_mid, (user_topic(c.org, c.user) + "#").c_str(), 1);
  mosquitto_subscribe(m, nullptr, (shared_topic(c.org) + "#").c_str(), 1);
  // Outside the scope, one of several shapes.
  const Org& other = g_orgs[static_cast<std::size_t>((c.org_i + 1) % static_cast<int>(g_orgs.size()))];
  const std::string other_user = "u" + std::to_string((c.user_i + 1) % g_args.users);
  std::string outside;
  switch (std::uniform_int_distribution<int>(0, 5)(c.rng)) {
    case 0: outside = "#"; break;
    case 1: outside = "+/shared/#"; break;
    case 2: outside = shared_topic(other.id) + "#"; break;
    case 3: outside = user_topic(c.org, other_user) + "#"; break;
    case 4: outside = c.org + "/users/+/#"; break;
    default: outside = user_topic(other.id, c.user) + "#"; break;
  }
  mosquitto_subscribe(m, &c.outside_sub_mid, outside.c_str(), 0);
}

void on_disconnect(mosquitto*, void* obj, int rc, const mosquitto_property*) {
  Client& c = cl(obj);
  const double t = now_s();
  c.need_destroy = true;
  const int was = c.phase.load();
  if (was == kConnecting) {
    g_c.refused_noconnack++;
    double after = -1;
    if (g_faults.redis_outage_overlaps(c.t_connect, t, &after)) {
      if (after >= 0) g_refusal_after_outage.add(after);
      g_c.refused_in_outage++;
      g_refusal_worker.add(t - c.t_connect);
    } else {
      g_c.refused_outside_outage++;
      g_find.anomaly("CONNECT closed without CONNACK outside a Redis outage",
                     c.cid + " rc " + std::to_string(rc));
    }
    c.phase = kRetry;
    c.next_action = t + 0.3 + 0.3 * std::uniform_real_distribution<double>(0, 1)(c.rng);
    return;
  }
  if (was != kConnected && was != kClosing) return;
  std::lock_guard l(c.mu);
  c.kicked_last = false;
  if (c.closing) {
    // We ended it (DISCONNECT or drop).
  } else if (c.revoke_pending || c.revoked_at >= 0) {
    g_c.kicked_revoked++;
    c.kicked_last = true;
    if (c.revoked_at >= 0) {
      bool f = false;
      g_faults.bound(c.revoked_at, &f);
      (f ? g_late_revoke_fault : g_late_revoke).add(t - c.revoked_at);
    } else {
      g_late_revoke.add(0);  // kicked before the 204 reached us
    }
  } else if (t >= c.cred.expires - 0.5) {
    g_c.kicked_expiry++;
    c.kicked_last = true;
    bool f = false;
    g_faults.bound(c.cred.expires, &f);
    (f ? g_late_expiry_fault : g_late_expiry).add(std::max(0.0, t - c.cred.expires));
  } else if (c.revoke_uncertain) {
    g_c.kicked_revoke_uncertain++;
    c.kicked_last = true;
  } else {
    g_c.kicked_unexplained++;
    c.kicked_last = true;
    char b[200];
    std::snprintf(b, sizeof b, "%s (%s, broker %d, %.1f s before expiry, rc %d)", c.cid.c_str(),
                  c.cred.from_tokend ? "tokend" : "direct", c.broker, c.cred.expires - t, rc);
    g_find.anomaly("session closed by the broker with a valid, unrevoked credential", b);
  }
  c.phase = kIdle;
  c.next_action = t + std::uniform_real_distribution<double>(0.1, 1.0)(c.rng);
}

void on_subscribe(mosquitto*, void* obj, int mid, int n, const int* granted, const mosquitto_property*) {
  Client& c = cl(obj);
  if (n < 1) return;
  if (mid == c.outside_sub_mid) {
    if (granted[0] >= 0x80) {
      g_c.outside_sub_refused++;
    } else {
      g_find.violation(1, "subscription outside the scope granted",
                       c.cid + " (" + c.cred.username + ") granted qos " + std::to_string(granted[0]));
    }
  } else if (granted[0] >= 0x80) {
    g_c.own_sub_refused++;
    if (now_s() < c.cred.expires - 0.5) {
      g_find.anomaly("own subscription refused", c.cid + " code " + std::to_string(granted[0]));
    }
  }
}

void on_publish(mosquitto*, void* obj, int mid, int reason, const mosquitto_property*) {
  Client& c = cl(obj);
  if (mid == c.outside_pub_mid) {
    if (reason >= 0x80) {
      g_c.outside_pub_refused++;
    } else {
      g_find.violation(1, "publish outside the scope acknowledged as accepted",
                       c.cid + " (" + c.cred.username + ") reason " + std::to_string(reason));
    }
  } else if (reason >= 0x80) {
    g_c.own_pub_refused++;
  }
}

void on_message(mosquitto*, void* obj, const mosquitto_message* msg, const mosquitto_property*) {
  Client& c = cl(obj);
  const double t = now_s();
  g_c.delivered++;
  const std::string topic = msg->topic ? msg->topic : "";
  const std::string payload(static_cast<const char*>(msg->payload), static_cast<std::size_t>(msg->payloadlen));
  // Read side: may this receiver read it?
  if (!may_write(topic, c.org, c.user)) {  // read rights equal write rights under the templates
    g_find.violation(1, "delivery to an unauthorised client",
                     "topic " + topic + " reached " + c.cid + " (" + c.user + "@" + c.org + ")");
  }
  // Write side: may the sender (from the payload) have written it?
  std::istringstream in(payload);
  std::string kind, sorg, suser, scid;
  std::uint64_t sgen = 0;
  in >> kind >> sorg >> suser >> scid >> sgen;
  if ((kind != "M" && kind != "W") || !may_write(topic, sorg, suser)) {
    g_find.violation(1, "delivery of a publish its sender may not make",
                     "topic " + topic + " from " + suser + "@" + sorg + " (" + scid + ") reached " + c.cid);
  }
  if (kind == "W") {
    g_c.wills_received++;
    const auto at = scid.rfind('-');
    const int idx = at == std::string::npos ? -1 : std::atoi(scid.c_str() + at + 1);
    if (idx >= 0 && idx < static_cast<int>(g_clients.size())) {
      Client& s = *g_clients[static_cast<std::size_t>(idx)];
      std::lock_guard l(s.mu);
      if (s.revoked_gens.count(sgen)) {
        g_find.violation(2, "will published for a revoked session",
                         scid + " session " + std::to_string(sgen) + " on topic " + topic);
      }
    }
  }
  // A session past its bound must not receive.
  std::lock_guard l(c.mu);
  if (c.closing) return;
  if (t > c.cred.expires + g_faults.bound(c.cred.expires)) {
    g_find.violation(2, "delivery to a session past its expiry bound",
                     c.cid + " " + std::to_string(t - c.cred.expires) + " s after expires_at");
  }
  if (c.revoked_at >= 0 && t > c.revoked_at + g_faults.bound(c.revoked_at)) {
    g_find.violation(2, "delivery to a session past its revocation bound",
                     c.cid + " " + std::to_string(t - c.revoked_at) + " s after the revocation");
  }
}

// ---------------------------------------------------------------------------
// The driver: one poll() loop over a share of the clients.

void destroy(Client& c) {
  if (c.m) mosquitto_destroy(c.m);
  c.m = nullptr;
  c.need_destroy = false;
}

void start_connect(Client& c, double t) {
  destroy(c);
  Cred cred;
  std::uint64_t gen = 0;
  {
    std::lock_guard l(c.mu);
    cred = c.cred;
    gen = c.gen;
  }
  c.m = mosquitto_new(c.cid.c_str(), !c.persistent, &c);
  mosquitto_int_option(c.m, MOSQ_OPT_PROTOCOL_VERSION, c.protocol == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
  mosquitto_connect_v5_callback_set(c.m, on_connect);
  mosquitto_disconnect_v5_callback_set(c.m, on_disconnect);
  mosquitto_subscribe_v5_callback_set(c.m, on_subscribe);
  mosquitto_publish_v5_callback_set(c.m, on_publish);
  mosquitto_message_v5_callback_set(c.m, on_message);
  mosquitto_username_pw_set(c.m, cred.username.c_str(), cred.password.c_str());
  if (std::uniform_int_distribution<int>(0, 9)(c.rng) < 4) {
    const std::string topic = user_topic(c.org, c.user) + "will/" + c.cid;
    const std::string p = "W " + c.org + " " + c.user + " " + c.cid + " " + std::to_string(gen);
    mosquitto_will_set(c.m, topic.c_str(), static_cast<int>(p.size()), p.data(), 0, false);
  }
  c.broker = static_cast<int>((static_cast<std::uint64_t>(c.idx) + gen) % 2);
  mosquitto_property* props = nullptr;
  if (c.protocol == 5 && c.persistent) mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 10);
  c.t_connect = t;
  c.phase = kConnecting;
  g_c.connect_attempts++;
  const int rc = mosquitto_connect_bind_v5(c.m, "127.0.0.1", g_broker_port[c.broker], 20, c.bind.c_str(), props);
  mosquitto_property_free_all(&props);
  if (rc != MOSQ_ERR_SUCCESS) {
    g_c.connect_call_failed++;
    c.phase = kRetry;
    c.need_destroy = true;
    c.next_action = t + 0.5;
  }
}

void request_cred(Client& c) {
  {
    std::lock_guard l(c.mu);
    c.fresh.reset();
    c.mint_failed = false;
    c.mint_pending = true;
  }
  c.phase = kWaitCred;
  g_mintq.push(&c);
}

// Ends the session ourselves (clean DISCONNECT or, with `drop`, a bare close
// so the broker sends the will).
void end_session(Client& c, double t, bool drop) {
  {
    std::lock_guard l(c.mu);
    c.closing = true;
  }
  c.phase = kClosing;
  c.t_close = t;
  if (drop) {
    g_c.sessions_dropped++;
    const int fd = mosquitto_socket(c.m);
    if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
  } else {
    g_c.sessions_clean++;
    mosquitto_disconnect(c.m);
  }
}

void publish_some(Client& c, double t) {
  std::uint64_t gen = 0;
  {
    std::lock_guard l(c.mu);
    gen = c.gen;
  }
  const std::string p = "M " + c.org + " " + c.user + " " + c.cid + " " + std::to_string(gen);
  const bool shared = std::uniform_int_distribution<int>(0, 9)(c.rng) < 3;
  const std::string topic = (shared ? shared_topic(c.org) : user_topic(c.org, c.user)) + "m/" + c.cid;
  const int qos = std::uniform_int_distribution<int>(0, 1)(c.rng);
  if (mosquitto_publish(c.m, nullptr, topic.c_str(), static_cast<int>(p.size()), p.data(), qos, false) ==
      MOSQ_ERR_SUCCESS) {
    g_c.published++;
  }
  if (!c.outside_pub_sent) {
    c.outside_pub_sent = true;
    const Org& other = g_orgs[static_cast<std::size_t>((c.org_i + 1) % static_cast<int>(g_orgs.size()))];
    const std::string other_user = "u" + std::to_string((c.user_i + 1) % g_args.users);
    const std::string out = std::uniform_int_distribution<int>(0, 1)(c.rng)
                                ? shared_topic(other.id) + "m/" + c.cid
                                : user_topic(c.org, other_user) + "m/" + c.cid;
    int mid = 0;
    if (mosquitto_publish(c.m, &mid, out.c_str(), static_cast<int>(p.size()), p.data(), 1, false) ==
            MOSQ_ERR_SUCCESS &&
        c.protocol == 5) {
      c.outside_pub_mid = mid;
    }
  }
  c.next_publish = t + g_args.publish_interval_s * std::uniform_real_distribution<double>(0.5, 1.5)(c.rng);
}

// Expired or revoked and still connected after every byte was read?
void check_deadlines(Client& c, double t_poll) {
  if (c.deadline_reported) return;
  std::lock_guard l(c.mu);
  if (c.closing) return;
  const double e = c.cred.expires;
  if (t_poll > e + g_faults.bound(e)) {
    c.deadline_reported = true;
    char b[200];
    std::snprintf(b, sizeof b, "%s (%s token %s, broker %d) still connected %.2f s after expires_at", c.cid.c_str(),
                  c.cred.from_tokend ? "tokend" : "direct", c.cred.token_id.c_str(), c.broker, t_poll - e);
    g_find.violation(2, "expired session alive past its bound", b);
  }
  if (c.revoked_at >= 0 && t_poll > c.revoked_at + g_faults.bound(c.revoked_at)) {
    c.deadline_reported = true;
    char b[200];
    std::snprintf(b, sizeof b, "%s (token %s, broker %d) still connected %.2f s after DELETE answered 204",
                  c.cid.c_str(), c.cred.token_id.c_str(), c.broker, t_poll - c.revoked_at);
    g_find.violation(2, "revoked session alive past its bound", b);
  }
}

void step(Client& c, double t_poll) {
  const double t = now_s();
  if (c.need_destroy) destroy(c);
  switch (c.phase.load()) {
    case kIdle:
      if (t >= c.next_action) request_cred(c);
      break;
    case kWaitCred: {
      std::optional<Cred> fresh;
      bool failed = false;
      {
        std::lock_guard l(c.mu);
        if (c.fresh) {
          fresh = std::move(c.fresh);
          c.fresh.reset();
        }
        failed = c.mint_failed;
        c.mint_failed = false;
      }
      if (fresh || failed) {
        std::lock_guard l(c.mu);
        const bool reusable = !c.kicked_last && c.revoked_at < 0 && !c.revoke_uncertain && !c.revoke_pending &&
                              c.cred.expires - t > 3 && !c.cred.password.empty();
        if (!fresh && reusable) g_c.cred_reused++;
        if (fresh || reusable) {
          if (fresh) c.cred = std::move(*fresh);
          ++c.gen;
          c.hold = std::uniform_int_distribution<int>(0, 2)(c.rng) == 0;
          c.revoke_pending = false;
          c.revoke_uncertain = false;
          c.revoked_at = -1;
          c.closing = false;
          c.kicked_last = false;
        } else {
          c.phase = kIdle;
          c.next_action = t + 0.5;
          break;
        }
      } else {
        break;
      }
      start_connect(c, t);
      break;
    }
    case kRetry: {
      if (t < c.next_action) break;
      bool valid = false;
      {
        std::lock_guard l(c.mu);
        valid = c.cred.expires - t > 1.5 && c.revoked_at < 0 && !c.revoke_pending;
      }
      if (valid && ++c.refusals_in_row < 40) {
        start_connect(c, t);
      } else {
        c.refusals_in_row = 0;
        c.phase = kIdle;
        c.next_action = t;
      }
      break;
    }
    case kConnecting:
      if (t - c.t_connect > 10) {
        g_c.connect_timeout++;
        g_find.anomaly("CONNECT unanswered for 10 s", c.cid);
        destroy(c);
        c.phase = kRetry;
        c.next_action = t;
      }
      break;
    case kConnected: {
      check_deadlines(c, t_poll);
      if (g_stop_clients) {
        end_session(c, t, false);
        break;
      }
      if (t >= c.next_publish) publish_some(c, t);
      bool may_end = false;
      {
        std::lock_guard l(c.mu);
        may_end = !c.hold && !c.revoke_pending && c.revoked_at < 0 && t >= c.session_end;
        // A session we failed to see kicked: end it so the run goes on.
        if (c.deadline_reported) may_end = true;
      }
      if (may_end) end_session(c, t, std::uniform_int_distribution<int>(0, 9)(c.rng) < 3);
      break;
    }
    case kClosing:
      if (t - c.t_close > 3) {
        destroy(c);
        c.phase = kIdle;
        c.next_action = t + 0.2;
      }
      break;
  }
}

void driver_thread(std::vector<Client*> mine) {
  std::vector<pollfd> fds;
  std::vector<Client*> who;
  while (true) {
    bool all_idle = g_stop_clients.load();
    fds.clear();
    who.clear();
    for (Client* c : mine) {
      if (c->m == nullptr) continue;
      const int s = mosquitto_socket(c->m);
      if (s < 0) continue;
      fds.push_back({s, static_cast<short>(POLLIN | (mosquitto_want_write(c->m) ? POLLOUT : 0)), 0});
      who.push_back(c);
    }
    if (fds.empty()) {
      std::this_thread::sleep_for(20ms);
    } else {
      ::poll(fds.data(), fds.size(), 20);
    }
    const double t_poll = now_s();
    for (std::size_t i = 0; i < fds.size(); ++i) {
      Client& c = *who[i];
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
        for (int k = 0; k < 64 && c.m && mosquitto_socket(c.m) == fds[i].fd; ++k) {
          if (mosquitto_loop_read(c.m, 1) != MOSQ_ERR_SUCCESS) break;
          pollfd p{fds[i].fd, POLLIN, 0};
          if (::poll(&p, 1, 0) <= 0) break;
        }
      }
      if (c.m && mosquitto_socket(c.m) == fds[i].fd && mosquitto_want_write(c.m)) mosquitto_loop_write(c.m, 1);
    }
    for (Client* c : mine) {
      if (c->m && mosquitto_socket(c->m) >= 0) mosquitto_loop_misc(c->m);
      // A socket gone without a callback (loop error): treat as closed.
      if (c->m && mosquitto_socket(c->m) < 0 && !c->need_destroy &&
          (c->phase == kConnecting || c->phase == kConnected || c->phase == kClosing)) {
        on_disconnect(c->m, c, MOSQ_ERR_CONN_LOST, nullptr);
      }
    }
    for (Client* c : mine) {
      // Deadlines only for clients whose socket has nothing left unread.
      if (c->phase == kConnected && c->m) {
        const int s = mosquitto_socket(c->m);
        pollfd p{s, POLLIN, 0};
        if (s >= 0 && ::poll(&p, 1, 0) > 0) continue;
      }
      if (g_stop_clients && (c->phase == kIdle || c->phase == kWaitCred || c->phase == kRetry)) {
        destroy(*c);
        continue;
      }
      step(*c, t_poll);
      if (c->phase != kIdle && c->phase != kWaitCred && c->phase != kRetry) all_idle = false;
    }
    if (g_stop_clients && all_idle) break;
  }
  for (Client* c : mine) destroy(*c);
}

// ---------------------------------------------------------------------------
// Revoker: DELETE /v2/tokens/<id> of random live tokend sessions.

void revoker_thread(unsigned seed) {
  support::HttpClient http("http://127.0.0.1:" + std::to_string(g_tokend_port), 3000);
  std::mt19937 rng(seed);
  auto next = Clock::now();
  while (!g_stop_clients) {
    next += std::chrono::milliseconds(static_cast<int>(g_args.revoke_interval_s * 1000));
    std::this_thread::sleep_until(next);
    if (now_s() > g_args.seconds - 6) continue;  // let the last deadlines settle before the end
    for (int tries = 0; tries < 20; ++tries) {
      Client& c = *g_clients[std::uniform_int_distribution<std::size_t>(0, g_clients.size() - 1)(rng)];
      std::string token, key;
      std::uint64_t gen = 0;
      {
        std::lock_guard l(c.mu);
        const double t = now_s();
        if (c.phase != kConnected || c.closing || !c.cred.from_tokend || c.revoke_pending || c.revoked_at >= 0 ||
            c.revoke_uncertain || c.cred.expires - t < 5 || (!c.hold && c.session_end - t < 3)) {
          continue;
        }
        c.revoke_pending = true;
        token = c.cred.token_id;
        gen = c.gen;
        key = g_orgs[static_cast<std::size_t>(c.org_i)].api_key;
      }
      auto r = http.request("DELETE", "/v2/tokens/" + token, {}, {"Authorization: Bearer " + key});
      const double t = now_s();
      std::lock_guard l(c.mu);
      if (r.status == 204) {
        g_c.revoke_ok++;
        c.revoked_gens.insert(gen);
        if (c.gen == gen) c.revoked_at = t;
      } else if (r.status == 404) {
        g_c.revoke_notfound++;
        if (c.gen == gen) c.revoke_uncertain = true;
      } else {
        g_c.revoke_fail++;
        // A 503 or a transport error may still have revoked it (a frozen
        // Redis runs the command when it thaws): no bound, no will check.
        if (c.gen == gen) c.revoke_uncertain = true;
      }
      if (c.gen == gen) c.revoke_pending = false;
      break;
    }
  }
}

// ---------------------------------------------------------------------------
// Prober: CONNECT with a long-lived credential, every 150 ms during a Redis
// outage, every 2 s otherwise.

void prober_thread(Cred cred) {
  int n = 0;
  while (!g_stop_clients) {
    const bool outage = g_faults.redis_outage_now();
    support::MqttClient::Options o;
    o.client_id = "probe-" + std::to_string(n);
    o.username = cred.username;
    o.password = cred.password;
    support::MqttClient mc(o);
    const double t0 = now_s();
    const int rc = mc.connect(g_broker_port[n % 2], 5s);
    const double t1 = now_s();
    ++n;
    const bool in_outage = g_faults.redis_outage_overlaps(t0, t1);
    if (rc == 0) {
      if (!in_outage) g_probe_ok_normal.add(t1 - t0);
      mc.disconnect();
    } else if (in_outage && rc != support::MqttClient::kTimeout) {
      g_refusal_probe.add(t1 - t0);
    } else if (!in_outage) {
      g_find.anomaly("prober refused outside a Redis outage", "rc " + std::to_string(rc));
    }
    std::this_thread::sleep_for(outage ? 150ms : 2000ms);
  }
}

// ---------------------------------------------------------------------------
// /proc sampling

struct Sample {
  double t;
  double rss_kb;
  double fds;
};
struct Series {
  std::string name;
  double started = 0;
  std::vector<Sample> s;
};

std::optional<Sample> sample_proc(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream st("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  double rss = -1;
  while (std::getline(st, line)) {
    if (starts_with(line, "VmRSS:")) rss = std::atof(line.c_str() + 6);
  }
  if (rss < 0) return std::nullopt;
  std::error_code ec;
  double fds = 0;
  for (auto it = fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    ++fds;
  }
  return Sample{now_s(), rss, fds};
}

// Least-squares slope per minute of y over t, for t >= from.
double slope_per_min(const std::vector<Sample>& v, double from, double Sample::*y, std::size_t* n_out) {
  double n = 0, st = 0, sy = 0, stt = 0, sty = 0;
  for (const auto& s : v) {
    if (s.t < from) continue;
    n += 1;
    st += s.t;
    sy += s.*y;
    stt += s.t * s.t;
    sty += s.t * (s.*y);
  }
  if (n_out) *n_out = static_cast<std::size_t>(n);
  const double d = n * stt - st * st;
  if (n < 3 || d <= 0) return 0;
  return (n * sty - st * sy) / d * 60.0;
}

// ---------------------------------------------------------------------------
// The servers

class Servers {
 public:
  Servers() : dir_("shortcred-soak") {}

  void start_redis() {
    redis_.spawn({"redis-server", "--port", std::to_string(g_redis_port), "--bind", "127.0.0.1", "--dir",
                  dir_.path().string(), "--appendonly", "yes", "--appendfsync", "always", "--save", "",
                  "--daemonize", "no", "--protected-mode", "no"},
                 dir_ / "redis.log");
    const bool up = support::wait_until(
        [&] {
          shortcred::RedisEndpoint ep;
          ep.port = g_redis_port;
          std::string err;
          auto c = shortcred::redis::Connection::open(ep, 200ms, err);
          if (!c.ok()) return false;
          auto r = c.command({"PING"});
          return r != nullptr && r->type == REDIS_REPLY_STATUS;
        },
        20s, 10ms);
    if (!up) throw std::runtime_error("redis-server did not start; see " + (dir_ / "redis.log").string());
  }

  bool start_tokend() {
    for (int attempt = 0; attempt < 20; ++attempt) {
      tokend_.spawn({g_args.tokend, "--listen", "127.0.0.1:" + std::to_string(g_tokend_port), "--redis",
                     redis_url(), "--issue-rate", "0", "--threads", "16", "--redis-timeout-ms", "200"},
                    dir_ / "tokend.log");
      const bool up = support::wait_until([&] { return !tokend_.running() || support::port_open(g_tokend_port); },
                                          10s, 10ms);
      if (up && tokend_.running()) {
        tokend_series_.push_back({"tokend#" + std::to_string(tokend_.spawns()), now_s(), {}});
        return true;
      }
      std::this_thread::sleep_for(250ms);  // e.g. the port is not free yet
    }
    return false;
  }

  void start_broker(int i) {
    const fs::path conf = dir_ / ("mosquitto" + std::to_string(i) + ".conf");
    std::string c;
    c += "user root\npersistence false\n";
    c += "log_dest file " + (dir_ / ("mosquitto" + std::to_string(i) + ".log")).string() + "\n";
    c += "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n";
    c += "log_timestamp_format %H:%M:%S\n";
    c += "persistent_client_expiration 2m\n";
    c += "listener " + std::to_string(g_broker_port[i]) + " 127.0.0.1\n";
    c += "allow_anonymous false\n";
    c += "plugin " + g_args.plugin + "\n";
    c += "plugin_opt_redis_url " + redis_url() + "\n";
    c += "plugin_opt_revalidate_interval_s " + std::to_string(g_args.revalidate_s) + "\n";
    c += "plugin_opt_sys_interval 10\n";
    support::write_file(conf, c);
    broker_[i].spawn({support::mosquitto_binary(), "-c", conf.string()},
                     dir_ / ("mosquitto" + std::to_string(i) + ".stderr"));
    const bool up = support::wait_until(
        [&] { return !broker_[i].running() || support::port_open(g_broker_port[i]); }, 10s, 10ms);
    if (!up || !broker_[i].running()) {
      throw std::runtime_error("broker " + std::to_string(i) + " did not start:\n" + log_tail(i));
    }
    broker_series_[i].push_back({"broker" + std::to_string(i) + "#" + std::to_string(broker_[i].spawns()), now_s(), {}});
  }

  std::string log_tail(int i) const {
    return tail(dir_ / ("mosquitto" + std::to_string(i) + ".log"), 30) +
           tail(dir_ / ("mosquitto" + std::to_string(i) + ".stderr"), 30);
  }

  std::string redis_url() const { return "redis://127.0.0.1:" + std::to_string(g_redis_port) + "/0"; }

  support::RunResult ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {g_args.ctl, "--redis", redis_url()});
    return support::run(args);
  }

  // Checks every child; restarts what died unexpectedly (counted as a crash).
  void watch() {
    for (int i = 0; i < 2; ++i) {
      if (!broker_[i].running()) {
        g_find.violation(3, "broker exited unexpectedly",
                         "broker " + std::to_string(i) + ": " + describe_status(broker_[i].status()) + "\n" +
                             log_tail(i));
        start_broker(i);
      }
    }
    if (!tokend_busy_ && !tokend_.running()) {
      g_find.violation(3, "tokend exited unexpectedly",
                       describe_status(tokend_.status()) + "\n" + tail(dir_ / "tokend.log", 20));
      start_tokend();
    }
    if (!redis_busy_ && !redis_.running()) {
      g_find.anomaly("redis-server exited unexpectedly", describe_status(redis_.status()));
      start_redis();
    }
  }

  void sample() {
    for (int i = 0; i < 2; ++i) {
      if (auto s = sample_proc(broker_[i].pid())) broker_series_[i].back().s.push_back(*s);
    }
    if (auto s = sample_proc(tokend_.pid()); s && !tokend_series_.empty()) tokend_series_.back().s.push_back(*s);
  }

  double broker_fds(int i) {
    auto s = sample_proc(broker_[i].pid());
    return s ? s->fds : -1;
  }

  // Sleeps `d` while watching the other children.
  void pause(double d) {
    const double until = now_s() + d;
    while (now_s() < until) {
      std::this_thread::sleep_for(50ms);
      watch();
    }
  }

  void fault(int n) {
    switch (n % 4) {
      case 0: {
        const int b = (n / 4) % 2;
        const auto w = g_faults.open("broker" + std::to_string(b) + " SIGHUP", false);
        broker_[b].signal(SIGHUP);
        pause(1.0);
        g_faults.close(w);
        break;
      }
      case 1: {
        const auto w = g_faults.open("redis SIGSTOP 2 s", true);
        redis_.signal(SIGSTOP);
        pause(2.0);
        redis_.signal(SIGCONT);
        g_faults.close(w);
        break;
      }
      case 2: {
        redis_busy_ = true;
        const auto w = g_faults.open("redis kill -9, restart after 1 s", true);
        redis_.kill9();
        pause(1.0);
        const double t = now_s();
        start_redis();
        redis_busy_ = false;
        char b[64];
        std::snprintf(b, sizeof b, "back in %.0f ms", (now_s() - t) * 1000);
        g_faults.close(w, b);
        break;
      }
      default: {
        tokend_busy_ = true;
        const auto w = g_faults.open("tokend SIGTERM + restart", false);
        const double t = now_s();
        bool killed = false;
        const int st = tokend_.stop(5000, &killed);
        if (killed || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
          g_find.violation(3, "tokend did not exit cleanly on SIGTERM",
                           (killed ? std::string("needed SIGKILL after 5 s; ") : std::string()) + describe_status(st) +
                               "\n" + tail(dir_ / "tokend.log", 10));
        }
        const double stopped = now_s() - t;
        if (!start_tokend()) throw std::runtime_error("tokend does not restart:\n" + tail(dir_ / "tokend.log", 20));
        tokend_busy_ = false;
        char b[96];
        std::snprintf(b, sizeof b, "stopped in %.0f ms, serving again %.0f ms later", stopped * 1000,
                      (now_s() - t - stopped) * 1000);
        g_faults.close(w, b);
        break;
      }
    }
  }

  // Final stop: brokers must exit 0 on SIGTERM.
  void stop_all() {
    for (int i = 0; i < 2; ++i) {
      if (!broker_[i].running()) {
        g_find.violation(3, "broker exited unexpectedly", "broker " + std::to_string(i) + ": " +
                                                              describe_status(broker_[i].status()));
        continue;
      }
      bool killed = false;
      const int st = broker_[i].stop(10000, &killed);
      if (killed || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        g_find.violation(3, "broker did not exit cleanly on SIGTERM",
                         "broker " + std::to_string(i) + ": " + (killed ? "needed SIGKILL; " : "") +
                             describe_status(st) + "\n" + log_tail(i));
      }
    }
    tokend_busy_ = true;
    if (tokend_.running()) {
      bool killed = false;
      const int st = tokend_.stop(5000, &killed);
      if (killed || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        g_find.violation(3, "tokend did not exit cleanly on SIGTERM", describe_status(st));
      }
    } else {
      g_find.violation(3, "tokend exited unexpectedly", describe_status(tokend_.status()));
    }
    redis_busy_ = true;
    redis_.stop(5000);
  }

  std::vector<Series> series() const {
    std::vector<Series> out(broker_series_[0].begin(), broker_series_[0].end());
    out.insert(out.end(), broker_series_[1].begin(), broker_series_[1].end());
    out.insert(out.end(), tokend_series_.begin(), tokend_series_.end());
    return out;
  }
  const fs::path& dir() const { return dir_.path(); }
  int restarts_tokend() const { return tokend_.spawns() - 1; }

 private:
  support::TempDir dir_;
  Child redis_, tokend_, broker_[2];
  bool tokend_busy_ = false, redis_busy_ = false;
  std::vector<Series> broker_series_[2], tokend_series_;
};

// ---------------------------------------------------------------------------

void usage() {
  std::cerr << "usage: soak [--minutes M | --seconds S] [--clients N] [--threads T] [--orgs O] [--users U]\n"
               "            [--fault-every S] [--slack-ms MS] [--publish-interval S] [--revoke-interval S]\n"
               "            [--revalidate S] [--seed N] [--check] [--report FILE]\n"
               "            [--tokend PATH] [--ctl PATH] [--plugin PATH]\n"
               "The broker is $SHORTCRED_MOSQUITTO (default: mosquitto on PATH).\n";
}

void on_signal(int) { g_interrupted = true; }

std::string fmt(const char* f, double a, double b = 0, double c = 0) {
  char buf[256];
  std::snprintf(buf, sizeof buf, f, a, b, c);
  return buf;
}

int run() {
  Servers srv;
  g_redis_port = support::free_port();
  g_tokend_port = support::free_port();
  g_broker_port[0] = support::free_port();
  g_broker_port[1] = support::free_port();
  srv.start_redis();

  for (int o = 0; o < g_args.orgs; ++o) {
    Org org{"org_soak" + std::to_string(o), {}};
    auto r = srv.ctl({"org", "create", "--id", org.id});
    if (r.exit_code != 0) throw std::runtime_error("org create: " + r.err);
    r = srv.ctl({"org", "set", org.id, "--max_tokens_per_user", "0"});
    if (r.exit_code != 0) throw std::runtime_error("org set: " + r.err);
    r = srv.ctl({"--json", "apikey", "create", "--org", org.id, "--name", "soak"});
    auto v = parse_json(r.out);
    if (r.exit_code != 0 || !v["api_key"].isString()) throw std::runtime_error("apikey create: " + r.err);
    org.api_key = v["api_key"].asString();
    g_orgs.push_back(org);
  }
  if (!srv.start_tokend()) throw std::runtime_error("tokend does not start");
  srv.start_broker(0);
  srv.start_broker(1);
  std::this_thread::sleep_for(1500ms);  // the plugin's tick detection, its Redis connections
  const double fds_before[2] = {srv.broker_fds(0), srv.broker_fds(1)};

  // The prober's credential.
  Cred probe;
  {
    support::HttpClient http("http://127.0.0.1:" + std::to_string(g_tokend_port), 3000);
    auto c = mint_tokend(http, g_orgs[0], "prober", 3600);
    if (!c) throw std::runtime_error("cannot mint the prober's credential");
    probe = *c;
  }

  std::mt19937 seed_rng(g_args.seed);
  for (int i = 0; i < g_args.clients; ++i) {
    auto c = std::make_unique<Client>();
    c->idx = i;
    c->org_i = i % g_args.orgs;
    c->user_i = (i / g_args.orgs) % g_args.users;
    c->org = g_orgs[static_cast<std::size_t>(c->org_i)].id;
    c->user = "u" + std::to_string(c->user_i);
    c->cid = "soak-" + std::to_string(i);
    c->rng.seed(seed_rng());
    c->protocol = (i % 5 == 4) ? 4 : 5;
    c->persistent = (i % 5 == 2) || (i % 10 == 9);
    c->bind = "127.0." + std::to_string(1 + i / 250) + "." + std::to_string(1 + i % 250);
    c->next_action = now_s() + 3.0 * i / g_args.clients;  // ramp up over 3 s
    g_clients.push_back(std::move(c));
  }
  const double warmup = std::min(20.0, std::max(5.0, g_args.seconds * 0.1));
  const double cooldown = 10;
  const double fault_span = g_args.seconds - warmup - cooldown;
  const double every = std::min(g_args.fault_every, std::max(2.0, fault_span / 4));
  std::printf("soak: %.0f s, %d clients on %d threads, %d orgs x %d users, brokers %s on %d/%d, tokend %d, "
              "redis %d, fault every %.1f s after %.0f s warm-up, dir %s\n",
              g_args.seconds, g_args.clients, g_args.threads, g_args.orgs, g_args.users,
              support::mosquitto_binary().c_str(), g_broker_port[0], g_broker_port[1], g_tokend_port, g_redis_port,
              every, warmup, srv.dir().c_str());
  std::fflush(stdout);

  std::vector<std::thread> threads;
  for (int k = 0; k < 2; ++k) threads.emplace_back(minter_thread, seed_rng());
  for (int k = 0; k < g_args.threads; ++k) {
    std::vector<Client*> mine;
    for (std::size_t i = static_cast<std::size_t>(k); i < g_clients.size(); i += static_cast<std::size_t>(g_args.threads)) {
      mine.push_back(g_clients[i].get());
    }
    threads.emplace_back(driver_thread, std::move(mine));
  }
  std::thread revoker(revoker_thread, seed_rng());
  std::thread prober(prober_thread, probe);

  int n_fault = 0;
  double next_fault = warmup + every / 2;
  double next_sample = 0, next_progress = 30;
  std::string fatal;
  while (now_s() < g_args.seconds && !g_interrupted && fatal.empty()) try {
    std::this_thread::sleep_for(100ms);
    srv.watch();
    const double t = now_s();
    if (t >= next_sample) {
      srv.sample();
      next_sample = t + 2;
    }
    if (t >= next_fault && t < g_args.seconds - cooldown) {
      srv.fault(n_fault++);
      next_fault += every;
    }
    if (t >= next_progress) {
      std::printf("soak: t=%.0f s connects %llu ok %llu, deliveries %llu, kicks expiry %llu revoked %llu, "
                  "faults %d, violations %llu\n",
                  t, static_cast<unsigned long long>(g_c.connect_attempts.load()),
                  static_cast<unsigned long long>(g_c.connect_ok.load()),
                  static_cast<unsigned long long>(g_c.delivered.load()),
                  static_cast<unsigned long long>(g_c.kicked_expiry.load()),
                  static_cast<unsigned long long>(g_c.kicked_revoked.load()), n_fault,
                  static_cast<unsigned long long>(g_find.total()));
      std::fflush(stdout);
      next_progress += 30;
    }
  } catch (const std::exception& e) {
    fatal = e.what();  // wind the clients down before giving up
  }
  // Wind down: every client disconnects, then the idle fd counts.
  g_stop_clients = true;
  {
    std::lock_guard l(g_mintq.mu);
    g_mintq.stop = true;
    g_mintq.cv.notify_all();
  }
  for (auto& th : threads) th.join();
  revoker.join();
  prober.join();
  if (!fatal.empty()) throw std::runtime_error(fatal);
  double fds_after[2] = {-1, -1};
  for (int i = 0; i < 2; ++i) {
    // Sockets close asynchronously; give the broker a few seconds.
    support::wait_until([&] { return srv.broker_fds(i) <= fds_before[i] + 2; }, 8s, 100ms);
    fds_after[i] = srv.broker_fds(i);
    if (fds_after[i] > fds_before[i] + 2) {
      g_find.violation(4, "broker fds not back to their idle count",
                       fmt("broker %.0f: %.0f fds before the first client, %.0f after the last left", i, fds_before[i],
                           fds_after[i]));
    }
  }
  srv.watch();
  const auto series = srv.series();
  srv.stop_all();

  // ---- report
  std::ostringstream o;
  const double ran = now_s();
  auto u = [](const std::atomic<std::uint64_t>& a) { return std::to_string(a.load()); };
  o << "== shortcred soak report\n";
  o << "  run: " << fmt("%.0f s", ran) << ", " << g_args.clients << " clients (" << g_args.threads
    << " poll threads), " << g_args.orgs << " orgs x " << g_args.users << " users, 2 brokers ("
    << support::mosquitto_binary() << "), revalidate_interval_s " << g_args.revalidate_s << ", slack "
    << g_args.slack_ms << " ms, seed " << g_args.seed << "\n";
  o << "  workload: connects " << u(g_c.connect_attempts) << " (ok " << u(g_c.connect_ok) << ", refused rc "
    << u(g_c.refused_rc) << ", closed without CONNACK " << u(g_c.refused_noconnack) << ", unanswered 10 s "
    << u(g_c.connect_timeout) << "), persistent sessions resumed " << u(g_c.resumed_sessions) << "\n";
  o << "    sessions ended by client: clean " << u(g_c.sessions_clean) << ", dropped (will) " << u(g_c.sessions_dropped)
    << "; kicked at expiry " << u(g_c.kicked_expiry) << ", on revocation " << u(g_c.kicked_revoked)
    << ", after an uncertain revocation " << u(g_c.kicked_revoke_uncertain) << ", unexplained "
    << u(g_c.kicked_unexplained) << "\n";
  o << "    credentials: tokend " << u(g_c.mint_tokend_ok) << " (failed " << u(g_c.mint_tokend_fail) << "), direct "
    << u(g_c.mint_direct_ok) << " (failed " << u(g_c.mint_direct_fail) << "), reused while minting failed "
    << u(g_c.cred_reused) << "; revocations 204 " << u(g_c.revoke_ok) << ", 404 " << u(g_c.revoke_notfound)
    << ", failed " << u(g_c.revoke_fail) << "\n";
  o << "    messages: published " << u(g_c.published) << ", delivered and checked " << u(g_c.delivered)
    << " (wills " << u(g_c.wills_received) << ")\n";
  o << "  faults:\n";
  std::map<std::string, int> per_kind;
  for (const auto& f : g_faults.all()) {
    ++per_kind[f.kind];
  }
  for (const auto& [k, n] : per_kind) o << "    " << k << ": " << n << "\n";
  for (const auto& f : g_faults.all()) {
    if (!f.note.empty()) o << "      " << fmt("t=%.1f s ", f.start) << f.kind << ": " << f.note << "\n";
  }
  const auto inv = [&](int i, const std::string& title) {
    o << "  (" << i << ") " << title << ": " << (g_find.count(i) == 0 ? "OK" : "VIOLATED") << "\n";
  };
  inv(1, "no delivery to an unauthorised client");
  o << "      " << u(g_c.delivered) << " deliveries checked; outside subscriptions refused "
    << u(g_c.outside_sub_refused) << ", outside QoS 1 publishes refused (MQTT 5) " << u(g_c.outside_pub_refused) << "\n";
  g_find.print(o, 1);
  inv(2, "no expired or revoked session alive past its bound");
  o << "      bound: 1 s + " << g_args.slack_ms << " ms; with a fault around: + " << g_args.revalidate_s
    << " s + fault duration + 2 s\n";
  o << "      expiry -> disconnect, no fault:   " << g_late_expiry.summary() << "\n";
  o << "      expiry -> disconnect, fault near: " << g_late_expiry_fault.summary() << "\n";
  o << "      revocation 204 -> disconnect, no fault:   " << g_late_revoke.summary() << "\n";
  o << "      revocation 204 -> disconnect, fault near: " << g_late_revoke_fault.summary() << "\n";
  g_find.print(o, 2);
  inv(3, "no broker or tokend crash");
  o << "      tokend restarts (scheduled): " << srv.restarts_tokend() << "\n";
  g_find.print(o, 3);
  inv(4, "RSS and fds flat after warm-up");
  const double from = std::max(warmup, ran * 0.2);
  for (const auto& s : series) {
    std::size_t n = 0;
    const double w = std::max(from, s.started + 10);
    const double rs = slope_per_min(s.s, w, &Sample::rss_kb, &n);
    const double fd = slope_per_min(s.s, w, &Sample::fds, nullptr);
    double rmin = 1e18, rmax = 0, fmin = 1e18, fmax = 0;
    for (const auto& x : s.s) {
      if (x.t < w) continue;
      rmin = std::min(rmin, x.rss_kb);
      rmax = std::max(rmax, x.rss_kb);
      fmin = std::min(fmin, x.fds);
      fmax = std::max(fmax, x.fds);
    }
    if (n < 3) {
      o << "      " << s.name << ": " << n << " samples after warm-up (too few for a slope)\n";
      continue;
    }
    o << "      " << s.name << fmt(": RSS %.0f..%.0f kB, slope %+.1f kB/min; ", rmin, rmax, rs)
      << fmt("fds %.0f..%.0f, slope %+.2f/min", fmin, fmax, fd) << " (" << n << " samples from t="
      << fmt("%.0f s)\n", w);
  }
  for (int i = 0; i < 2; ++i) {
    o << "      broker" << i << fmt(" idle fds: %.0f before the first client, %.0f after the last left\n", fds_before[i],
                                     fds_after[i]);
  }
  g_find.print(o, 4);
  o << "  (5) CONNECT refusal latency while Redis was down or frozen (reported only)\n";
  o << "      worker clients: " << g_refusal_worker.summary() << "\n";
  o << "      prober:         " << g_refusal_probe.summary() << "\n";
  o << "      (an outage counts until " << Faults::kRecovery << " s after Redis answers again; refusals of "
       "CONNECTs started after it answered: "
    << g_refusal_after_outage.summary(1, "s") << " after)\n";
  o << "      prober CONNACK 0 outside outages: " << g_probe_ok_normal.summary() << "\n";
  o << "  anomalies (not invariants):\n";
  g_find.print_anomalies(o);
  const std::uint64_t violations = g_find.total();
  const bool vacuous = g_c.connect_ok == 0 || g_c.delivered == 0 || g_c.kicked_expiry == 0 || g_c.revoke_ok == 0 ||
                       per_kind.size() < 4;
  o << "  result: " << violations << " violation(s)" << (vacuous ? "; the run was vacuous (no connect, delivery, "
                                                                   "expiry, revocation or not every fault)"
                                                                 : "")
    << "\n";
  std::cout << o.str() << std::flush;
  if (!g_args.report.empty()) support::write_file(g_args.report, o.str());
  if (g_interrupted) return 130;
  if (violations > 0) return 1;
  if (g_args.check && vacuous) return 1;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--check") {
      g_args.check = true;
      continue;
    }
    if (k == "-h" || k == "--help") {
      usage();
      return 0;
    }
    if (i + 1 >= argc) {
      usage();
      return 2;
    }
    const std::string v = argv[++i];
    try {
      if (k == "--minutes") g_args.seconds = std::stod(v) * 60;
      else if (k == "--seconds") g_args.seconds = std::stod(v);
      else if (k == "--clients") g_args.clients = std::stoi(v);
      else if (k == "--threads") g_args.threads = std::stoi(v);
      else if (k == "--orgs") g_args.orgs = std::stoi(v);
      else if (k == "--users") g_args.users = std::stoi(v);
      else if (k == "--fault-every") g_args.fault_every = std::stod(v);
      else if (k == "--slack-ms") g_args.slack_ms = std::stod(v);
      else if (k == "--publish-interval") g_args.publish_interval_s = std::stod(v);
      else if (k == "--revoke-interval") g_args.revoke_interval_s = std::stod(v);
      else if (k == "--revalidate") g_args.revalidate_s = std::stoi(v);
      else if (k == "--seed") g_args.seed = static_cast<unsigned>(std::stoul(v));
      else if (k == "--report") g_args.report = v;
      else if (k == "--tokend") g_args.tokend = v;
      else if (k == "--ctl") g_args.ctl = v;
      else if (k == "--plugin") g_args.plugin = v;
      else {
        usage();
        return 2;
      }
    } catch (const std::exception&) {
      std::cerr << "soak: bad value for " << k << ": " << v << "\n";
      return 2;
    }
  }
  if (g_args.seconds < 30 || g_args.clients < 1 || g_args.threads < 1 || g_args.orgs < 2 || g_args.users < 2 ||
      g_args.clients > 60000) {
    std::cerr << "soak: needs --seconds >= 30, --clients >= 1, --threads >= 1, --orgs >= 2, --users >= 2\n";
    return 2;
  }
  if (g_args.seed == 0) g_args.seed = static_cast<unsigned>(std::random_device{}());
  ::signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  mosquitto_lib_init();
  int rc = 0;
  try {
    rc = run();
  } catch (const std::exception& e) {
    std::cerr << "soak: " << e.what() << "\n";
    rc = 2;
  }
  mosquitto_lib_cleanup();
  // Threads may still be blocked (an exception mid-run): leave at once; the
  // children die with us (PR_SET_PDEATHSIG).
  std::fflush(stdout);
  _exit(rc);
}
