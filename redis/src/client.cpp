#include "shortcred/redis/client.hpp"

#include "cluster.hpp"
#include "shortcred/cluster_map.hpp"

namespace shortcred::redis {

Client Client::open(const RedisEndpoint& ep, std::chrono::milliseconds timeout,
                    std::string& err) {
  Client c;
  if (ep.kind == RedisEndpoint::Kind::cluster) {
    c.cluster_ = Cluster::open(ep, timeout, err);
  } else {
    c.single_ = Connection::open(ep, timeout, err);
  }
  return c;
}

Client::Client() = default;
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

bool Client::ok() const noexcept { return cluster_ ? cluster_->ok() : single_.ok(); }

std::string Client::error() const { return cluster_ ? cluster_->error() : single_.error(); }

bool Client::timed_out() const { return cluster_ ? cluster_->timed_out() : single_.timed_out(); }

Reply Client::command(std::initializer_list<std::string_view> argv) {
  if (!cluster_) return single_.command(argv);
  return command(std::vector<std::string>(argv.begin(), argv.end()));
}

Reply Client::command(const std::vector<std::string>& argv) {
  if (!cluster_) return single_.command(argv);
  return cluster_->append(argv) ? cluster_->read_reply() : nullptr;
}

bool Client::append(std::initializer_list<std::string_view> argv) {
  if (!cluster_) return single_.append(argv);
  return cluster_->append(std::vector<std::string>(argv.begin(), argv.end()));
}

bool Client::append(const std::vector<std::string>& argv) {
  return cluster_ ? cluster_->append(argv) : single_.append(argv);
}

Reply Client::read_reply() { return cluster_ ? cluster_->read_reply() : single_.read_reply(); }

Connection open_subscriber(const RedisEndpoint& ep, std::chrono::milliseconds timeout,
                           std::string& err) {
  if (ep.kind != RedisEndpoint::Kind::cluster) return Connection::open(ep, timeout, err);
  for (const RedisNode& seed : ep.nodes) {
    std::string e;
    Connection c = Connection::open(ep.at(seed), timeout, e);
    if (c.ok()) return c;
    err = "no seed of " + ep.redacted() + " answered: " + e;
  }
  if (ep.nodes.empty()) err = "no cluster seed in " + ep.redacted();
  return {};
}

}  // namespace shortcred::redis
