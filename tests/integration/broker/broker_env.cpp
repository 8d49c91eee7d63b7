#include "broker_env.hpp"

#include <regex>
#include <stdexcept>

#include "shortcred/schema.hpp"
#include "shortcred/secrets.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"

namespace broker_test {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string ws_listener(int port, const support::TestCerts* tls) {
  std::string l = "listener " + std::to_string(port) + " 127.0.0.1\n";
  l += "protocol websockets\n";
  l += "socket_domain ipv4\n";
  if (tls != nullptr) l += "certfile " + tls->server_cert + "\nkeyfile " + tls->server_key + "\n";
  return l;
}

Listening start_listening(const std::function<std::vector<std::string>(int port)>& argv,
                          const std::function<std::string(int port)>& ready,
                          const std::filesystem::path& log,
                          const std::vector<std::string>& extra_env) {
  Listening l;
  for (int attempt = 0; attempt < 3 && l.port == 0; ++attempt) {
    const int p = support::free_port();
    l.proc = support::Process(argv(p), log, extra_env);
    const std::string line = ready(p);
    support::wait_until(
        [&] { return !l.proc.running() || support::read_file(log).find(line) != std::string::npos; },
        10s, 10ms);
    if (l.proc.running()) l.port = p;
  }
  if (l.port == 0) throw std::runtime_error("the server did not come up:\n" + support::read_file(log));
  return l;
}

Listening start_tokend(const std::string& redis_url, const std::filesystem::path& log) {
  return start_listening(
      [&](int p) {
        return std::vector<std::string>{SHORTCRED_TOKEND_PATH, "--listen",
                                        "127.0.0.1:" + std::to_string(p), "--redis", redis_url};
      },
      [](int p) { return "listening on 127.0.0.1:" + std::to_string(p); }, log);
}

BrokerEnv::BrokerEnv(support::RedisServerOptions redis_options, std::string plugin_opts,
                     std::string extra_conf)
    : redis(std::in_place, std::move(redis_options)) {
  init(plugin_opts, extra_conf, true, {}, "");
}

BrokerEnv::BrokerEnv(std::string plugin_opts, std::string extra_conf, bool expect_running,
                     const std::vector<Account>& accounts, std::string binary)
    : redis(std::in_place) {
  init(plugin_opts, extra_conf, expect_running, accounts, std::move(binary));
}

BrokerEnv::BrokerEnv(const support::RedisCluster& c, std::string plugin_opts) : cluster(&c) {
  std::string err;
  cluster_rc_ = shortcred::redis::Client::open(c.endpoint(), std::chrono::seconds(2), err);
  if (!cluster_rc_.ok()) throw std::runtime_error("cannot open the cluster: " + err);
  init(plugin_opts, "", true, {}, "");
}

std::string BrokerEnv::redis_url() const { return cluster != nullptr ? cluster->url() : redis->url(); }

shortcred::redis::Reply BrokerEnv::command(const std::vector<std::string>& argv) {
  return cluster != nullptr ? cluster_rc_.command(argv) : rc.command(argv);
}

void BrokerEnv::init(const std::string& plugin_opts, const std::string& extra_conf,
                     bool expect_running, const std::vector<Account>& accounts,
                     std::string binary) {
  const auto pw = files / "passwd";
  support::write_file(pw, "");
  std::vector<Account> all{{kServiceUser, kServicePassword, "topic readwrite #\ntopic read $SYS/#\n"}};
  all.insert(all.end(), accounts.begin(), accounts.end());
  std::string acl;
  for (const Account& a : all) {
    auto r = support::run({"mosquitto_passwd", "-b", pw.string(), a.user, a.password});
    if (r.exit_code != 0) throw std::runtime_error("mosquitto_passwd failed: " + r.err);
    acl += "user " + a.user + "\n" + a.acl;
  }
  support::write_file(files / "mosquitto.acl", acl);
  if (redis) rc = redis->connect();
  mosq = std::make_unique<support::MosquittoServer>(config(plugin_opts, extra_conf), true,
                                                    std::move(binary));
  if (expect_running && !mosq->running()) {
    throw std::runtime_error(mosq->binary() + " did not start:\n" + mosq->log());
  }
}

std::string BrokerEnv::config(const std::string& plugin_opts, const std::string& extra_conf) const {
  std::string c;
  c += extra_conf;
  if (!c.empty() && c.back() != '\n') c += '\n';
  c += "allow_anonymous false\n";
  c += "password_file " + (files / "passwd").string() + "\n";
  c += "acl_file " + (files / "mosquitto.acl").string() + "\n";
  c += "plugin " SHORTCRED_PLUGIN_PATH "\n";
  c += "plugin_opt_redis_url " + redis_url() + "\n";
  c += plugin_opts;
  if (!c.empty() && c.back() != '\n') c += '\n';
  return c;
}

Cred BrokerEnv::mint(const std::string& org, const std::string& user, const MintOptions& o) {
  const auto m = shortcred::mint_password(shortcred::openssl_random());
  shortcred::CredentialRecord rec;
  rec.user = user;
  rec.secret_sha256 = m.sha256_hex;
  rec.issued_at_ms = now_ms();
  rec.expires_at_ms = rec.issued_at_ms + o.ttl.count();
  rec.scope = o.scope;
  rec.client_id = o.client_id;
  const std::string key = shortcred::cred_key(shortcred::kDefaultKeyPrefix, org, m.id);
  std::vector<std::string> argv{"HSET", key};
  for (auto& [k, v] : shortcred::to_fields(rec)) {
    argv.push_back(k);
    argv.push_back(v);
  }
  // Every credential belongs to an existing org (a missing org hash refuses).
  command({"HSETNX", shortcred::org_key(shortcred::kDefaultKeyPrefix, org), "name", org});
  auto r1 = command(argv);
  auto r2 = o.redis_expiry ? command({"PEXPIREAT", key, std::to_string(rec.expires_at_ms)})
                           : command({"PERSIST", key});
  if (shortcred::redis::is_error(r1) || shortcred::redis::is_error(r2)) {
    throw std::runtime_error("cannot write credential");
  }
  minted_passwords.push_back(m.full);
  return {org, user, m.id, user + "@" + org, m.full, rec.expires_at_ms};
}

void BrokerEnv::set_org(const std::string& org,
                        const std::vector<std::pair<std::string, std::string>>& fields) {
  std::vector<std::string> argv{"HSET", shortcred::org_key(shortcred::kDefaultKeyPrefix, org),
                                "name", org};
  for (auto& [k, v] : fields) {
    argv.push_back(k);
    argv.push_back(v);
  }
  if (shortcred::redis::is_error(command(argv))) throw std::runtime_error("cannot write org");
}

shortcred::redis::Reply BrokerEnv::redis_cmd(std::initializer_list<std::string_view> argv) {
  return command(std::vector<std::string>(argv.begin(), argv.end()));
}

void BrokerEnv::redis_cmd_on_masters(const std::vector<std::string>& argv) {
  if (cluster == nullptr) {
    if (shortcred::redis::is_error(rc.command(argv))) throw std::runtime_error(argv[0] + " failed");
    return;
  }
  for (int m : cluster->masters()) {
    if (shortcred::redis::is_error(cluster->connect(m).command(argv))) {
      throw std::runtime_error(argv[0] + " failed on a cluster master");
    }
  }
}

support::MqttClient::Options BrokerEnv::client(const Cred& c, std::string client_id,
                                               int protocol) const {
  support::MqttClient::Options o;
  o.client_id = std::move(client_id);
  o.username = c.username;
  o.password = c.password;
  o.protocol = protocol;
  return o;
}

std::unique_ptr<support::MqttClient> BrokerEnv::connect(const Cred& c, std::string client_id,
                                                        int protocol, int* rc_out) {
  auto cl = std::make_unique<support::MqttClient>(client(c, std::move(client_id), protocol));
  const int rc_ = cl->connect(port());
  if (rc_out) *rc_out = rc_;
  return cl;
}

std::unique_ptr<support::MqttClient> BrokerEnv::observer(const std::string& filter) {
  support::MqttClient::Options o;
  static int n = 0;
  o.client_id = "observer-" + std::to_string(++n);
  o.username = kServiceUser;
  o.password = kServicePassword;
  auto cl = std::make_unique<support::MqttClient>(o);
  if (cl->connect(port()) != 0) throw std::runtime_error("observer cannot connect:\n" + mosq->log());
  if (cl->subscribe(filter, 1) > 2) throw std::runtime_error("observer cannot subscribe");
  return cl;
}

bool BrokerEnv::delayed_auth() const {
  return mosq->log().find("CONNECT lookups off the broker thread") != std::string::npos;
}

bool BrokerEnv::redis_refusal(int rc) const {
  return rc == support::MqttClient::kNoConnack || (delayed_auth() && rc == 0x87) ||
         (connack_reasons() && rc == 0x88);
}

bool BrokerEnv::connack_reasons() const {
  return mosq->log().find("(Mosquitto 2.1 or later: CONNECT lookups") != std::string::npos;
}

int BrokerEnv::refusal(int reason, int protocol, bool after_lookup) const {
  if (protocol != 5) return 5;
  if (!connack_reasons() || (after_lookup && delayed_auth())) return 0x87;
  return reason;
}

long BrokerEnv::last_counter(const std::string& counter) const {
  const std::string log = mosq->log();
  const std::regex re(" " + counter + "=([0-9]+)");
  long v = -1;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), re); it != std::sregex_iterator();
       ++it) {
    v = std::stol((*it)[1].str());
  }
  return v;
}

std::uint64_t BrokerEnv::redis_calls(const std::string& command) {
  const auto calls = [&](shortcred::redis::Connection& c) -> std::uint64_t {
    auto r = c.command({"INFO", "commandstats"});
    if (!r) throw std::runtime_error("INFO commandstats failed");
    const std::string info = shortcred::redis::to_string(r.get());
    const std::string key = "cmdstat_" + command + ":calls=";
    const auto at = info.find(key);
    return at == std::string::npos ? 0 : std::stoull(info.substr(at + key.size()));
  };
  if (cluster == nullptr) return calls(rc);
  std::uint64_t sum = 0;
  for (int m : cluster->masters()) {
    auto c = cluster->connect(m);
    sum += calls(c);
  }
  return sum;
}

std::string BrokerEnv::secret_in_log(const std::vector<std::string>& also) const {
  static const std::regex kSecret("tkn_[0-9a-z]{16}_[0-9A-Za-z]{40}|(^|[^A-Za-z0-9])sk_[0-9A-Za-z_]*");
  const std::string log = mosq->log();
  std::smatch m;
  if (std::regex_search(log, m, kSecret)) return m.str(0);
  for (const auto* list : {&minted_passwords, &also}) {
    for (const std::string& s : *list) {
      // The secret part alone counts too (after the last `_`).
      const auto cut = s.find_last_of('_');
      const std::string tail = cut == std::string::npos ? s : s.substr(cut + 1);
      if (!s.empty() && !tail.empty() &&
          (log.find(s) != std::string::npos || log.find(tail) != std::string::npos)) {
        return s;
      }
    }
  }
  return {};
}

}  // namespace broker_test
