#include "support/redis_cluster.hpp"

#include <filesystem>
#include <stdexcept>

#include "support/ports.hpp"
#include "support/redis_server.hpp"
#include "support/wait.hpp"

namespace support {

using shortcred::redis::to_string;

RedisCluster::RedisCluster(int masters, int replicas, ClusterTransport transport)
    : dir_("shortcred-cluster") {
  if (transport == ClusterTransport::tls) certs_ = make_test_certs(dir_.path());
  const int n = masters * (1 + replicas);
  std::vector<std::string> create = {"redis-cli"};
  for (auto& a : cli_tls_args()) create.push_back(std::move(a));
  create.insert(create.end(), {"--cluster", "create"});
  for (int i = 0; i < n; ++i) {
    const int port = support::free_port_pair(10000);
    const auto dir = dir_ / std::to_string(port);
    std::filesystem::create_directories(dir);
    ports_.push_back(port);
    std::vector<std::string> args{
        "redis-server", "--bind", "127.0.0.1", "--dir", dir.string(), "--save", "", "--appendonly",
        "no", "--daemonize", "no", "--protected-mode", "no", "--cluster-enabled", "yes",
        "--cluster-config-file", (dir / "nodes.conf").string(), "--cluster-node-timeout", "1000",
        // A replica may take over however long its link was down, and
        // syncs at once instead of after the default 5 s delay.
        "--cluster-replica-validity-factor", "0", "--repl-diskless-sync-delay", "0"};
    for (auto& a : transport_args(port)) args.push_back(std::move(a));
    procs_.emplace_back(args, dir / "redis.log");
    alive_.push_back(true);
    create.push_back("127.0.0.1:" + std::to_string(port));
  }
  for (int i = 0; i < n; ++i) {
    const bool up = wait_until(
        [&] { return to_string(connect(i).command({"PING"}).get()) == "PONG"; },
        std::chrono::seconds(10), std::chrono::milliseconds(10));
    if (!up) throw std::runtime_error("cluster node " + std::to_string(port(i)) + " did not start");
  }
  create.insert(create.end(), {"--cluster-replicas", std::to_string(replicas), "--cluster-yes"});
  const RunResult r = run(create);
  if (r.exit_code != 0) throw std::runtime_error("redis-cli --cluster create failed: " + r.out + r.err);
  const bool ready = wait_until(
      [&] {
        if (!wait_converged(std::chrono::milliseconds(0))) return false;
        for (int i = 0; i < n; ++i) {
          auto c = connect(i);
          if (info_field(c, "replication", "role") == "slave" &&
              info_field(c, "replication", "master_link_status") != "up") {
            return false;
          }
        }
        return true;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(50));
  if (!ready) throw std::runtime_error("the Redis Cluster did not converge; see " + dir_.path().string());
}

RedisCluster::~RedisCluster() {
  for (auto& p : procs_) p.stop();
}

std::vector<std::string> RedisCluster::transport_args(int port) const {
  if (!certs_) return {"--port", std::to_string(port)};
  return {"--port", "0", "--tls-port", std::to_string(port),
          // The cluster bus and replication over TLS too.
          "--tls-cluster", "yes", "--tls-replication", "yes", "--tls-cert-file",
          certs_->server_cert, "--tls-key-file", certs_->server_key,
          // What a node presents to the others: a clientAuth certificate.
          "--tls-client-cert-file", certs_->client_cert, "--tls-client-key-file",
          certs_->client_key, "--tls-ca-cert-file", certs_->ca_cert, "--tls-auth-clients", "yes"};
}

std::vector<std::string> RedisCluster::cli_tls_args() const {
  if (!certs_) return {};
  return {"--tls", "--cacert", certs_->ca_cert, "--cert", certs_->client_cert, "--key",
          certs_->client_key};
}

std::string RedisCluster::url() const {
  std::string url = certs_ ? "rediss-cluster://" : "redis-cluster://";
  for (std::size_t i = 0; i < ports_.size(); ++i) {
    url += (i == 0 ? "" : ",") + std::string("127.0.0.1:") + std::to_string(ports_[i]);
  }
  if (certs_) {
    url += "?ca_file=" + certs_->ca_cert + "&cert_file=" + certs_->client_cert +
           "&key_file=" + certs_->client_key;
  }
  return url;
}

shortcred::RedisEndpoint RedisCluster::endpoint() const {
  shortcred::RedisEndpoint ep;
  std::string err;
  if (shortcred::parse_redis_url(url(), ep, err) != shortcred::Errc::ok) {
    throw std::runtime_error("fixture URL does not parse: " + err);
  }
  return ep;
}

shortcred::redis::Connection RedisCluster::connect(int node) const {
  std::string err;
  return shortcred::redis::Connection::open(endpoint().at({"127.0.0.1", port(node)}),
                                            std::chrono::milliseconds(1000), err);
}

std::string RedisCluster::node_id(int node) const {
  return to_string(connect(node).command({"CLUSTER", "MYID"}).get());
}

int RedisCluster::master_of(std::uint16_t slot) const {
  for (int i = 0; i < size(); ++i) {
    if (!alive(i)) continue;
    auto c = connect(i);
    auto r = c.command({"CLUSTER", "SLOTS"});
    if (!r || r->type != REDIS_REPLY_ARRAY) continue;
    for (std::size_t k = 0; k < r->elements; ++k) {
      const redisReply* e = r->element[k];
      if (e->element[0]->integer > slot || e->element[1]->integer < slot) continue;
      const long long p = e->element[2]->element[1]->integer;
      for (int j = 0; j < size(); ++j) {
        if (port(j) == p) return j;
      }
    }
    return -1;
  }
  return -1;
}

std::vector<int> RedisCluster::masters() const {
  std::vector<int> out;
  for (int i = 0; i < size(); ++i) {
    if (!alive(i)) continue;
    auto c = connect(i);
    if (info_field(c, "replication", "role") == "master") out.push_back(i);
  }
  return out;
}

int RedisCluster::replica_of(int master) const {
  for (int i = 0; i < size(); ++i) {
    if (i == master || !alive(i)) continue;
    auto c = connect(i);
    if (info_field(c, "replication", "role") == "slave" &&
        std::stoi("0" + info_field(c, "replication", "master_port")) == port(master)) {
      return i;
    }
  }
  return -1;
}

void RedisCluster::begin_migration(std::uint16_t slot, int from, int to) const {
  const std::string s = std::to_string(slot);
  auto r1 = connect(to).command({"CLUSTER", "SETSLOT", s, "IMPORTING", node_id(from)});
  auto r2 = connect(from).command({"CLUSTER", "SETSLOT", s, "MIGRATING", node_id(to)});
  if (!shortcred::redis::is_status_ok(r1) || !shortcred::redis::is_status_ok(r2)) {
    throw std::runtime_error("CLUSTER SETSLOT IMPORTING/MIGRATING failed: " + to_string(r1.get()) +
                             " " + to_string(r2.get()));
  }
}

std::vector<std::string> RedisCluster::keys_in_slot(int node, std::uint16_t slot) const {
  auto r = connect(node).command({"CLUSTER", "GETKEYSINSLOT", std::to_string(slot), "1000"});
  std::vector<std::string> keys;
  for (std::size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; ++i) {
    keys.push_back(to_string(r->element[i]));
  }
  return keys;
}

void RedisCluster::migrate_keys(int from, int to, const std::vector<std::string>& keys) const {
  if (keys.empty()) return;
  std::vector<std::string> argv = {"MIGRATE", "127.0.0.1", std::to_string(port(to)), "", "0",
                                   "5000", "KEYS"};
  argv.insert(argv.end(), keys.begin(), keys.end());
  auto r = connect(from).command(argv);
  if (!shortcred::redis::is_status_ok(r)) {
    throw std::runtime_error("MIGRATE failed: " + to_string(r.get()));
  }
}

void RedisCluster::finish_migration(std::uint16_t slot, int to) const {
  const std::string id = node_id(to);
  // The new owner first, then the others (as redis-cli does), so no master
  // points back at the source.
  std::vector<int> order = {to};
  for (int m : masters()) {
    if (m != to) order.push_back(m);
  }
  for (int m : order) {
    auto r = connect(m).command({"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", id});
    if (!shortcred::redis::is_status_ok(r)) {
      throw std::runtime_error("CLUSTER SETSLOT NODE failed: " + to_string(r.get()));
    }
  }
}

void RedisCluster::kill_hard(int node) {
  procs_[static_cast<std::size_t>(node)].kill_hard();
  alive_[static_cast<std::size_t>(node)] = false;
}

bool RedisCluster::wait_converged(std::chrono::milliseconds timeout) const {
  return wait_until(
      [&] {
        std::vector<int> owners;
        for (int i = 0; i < size(); ++i) {
          if (!alive(i)) continue;
          auto c = connect(i);
          const std::string info = to_string(c.command({"CLUSTER", "INFO"}).get());
          if (info.find("cluster_state:ok") == std::string::npos) return false;
        }
        for (const std::uint16_t slot : {0, 5000, 10000, 16383}) {
          int first = -2;
          for (int i = 0; i < size(); ++i) {
            if (!alive(i)) continue;
            auto c = connect(i);
            auto r = c.command({"CLUSTER", "SLOTS"});
            if (!r || r->type != REDIS_REPLY_ARRAY) return false;
            int owner = -1;
            for (std::size_t k = 0; k < r->elements; ++k) {
              const redisReply* e = r->element[k];
              if (e->element[0]->integer <= slot && e->element[1]->integer >= slot) {
                owner = static_cast<int>(e->element[2]->element[1]->integer);
              }
            }
            if (owner < 0 || (first != -2 && owner != first)) return false;
            first = owner;
          }
        }
        return true;
      },
      timeout, std::chrono::milliseconds(50));
}

}  // namespace support
