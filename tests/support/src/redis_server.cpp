#include "support/redis_server.hpp"

#include <signal.h>

#include <chrono>
#include <stdexcept>

#include "support/ports.hpp"
#include "support/wait.hpp"

namespace support {

std::string info_field(shortcred::redis::Connection& c, const char* section,
                       const std::string& field) {
  const std::string text = shortcred::redis::to_string(c.command({"INFO", section}).get());
  // At the start of a line, not the end of a longer field name.
  const std::string key = field + ":";
  std::size_t at = text.rfind(key, 0) == 0 ? 0 : text.find("\n" + key);
  if (at == std::string::npos) return {};
  if (at != 0) at += 1;
  const auto from = at + key.size();
  return text.substr(from, text.find_first_of("\r\n", from) - from);
}

RedisServer::RedisServer() : RedisServer(RedisServerOptions{}) {}

RedisServer::RedisServer(RedisServerOptions options)
    : options_(std::move(options)), dir_("shortcred-redis"), port_(free_port()) {
  if (options_.tls) certs_ = make_test_certs(dir_.path());
  start();
}

RedisServer::~RedisServer() { stop(); }

void RedisServer::start() {
  std::vector<std::string> args{"redis-server", "--bind", "127.0.0.1", "--dir",
                                dir_.path().string(), "--save", "", "--appendonly", "no",
                                "--daemonize", "no", "--protected-mode", "no"};
  if (certs_) {
    args.insert(args.end(), {"--port", "0", "--tls-port", std::to_string(port_), "--tls-cert-file",
                             certs_->server_cert, "--tls-key-file", certs_->server_key,
                             "--tls-ca-cert-file", certs_->ca_cert, "--tls-auth-clients",
                             options_.require_client_cert ? "yes" : "no"});
  } else {
    args.insert(args.end(), {"--port", std::to_string(port_)});
  }
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  proc_ = Process(args, dir_ / "redis.log");
  const bool up = wait_until(
      [&] {
        auto c = connect();
        auto r = c.command({"PING"});
        return r != nullptr && r->type == REDIS_REPLY_STATUS;
      },
      std::chrono::seconds(10), std::chrono::milliseconds(10));
  if (!up) throw std::runtime_error("redis-server did not start; see " + (dir_ / "redis.log").string());
}

void RedisServer::stop() { proc_.stop(); }

void RedisServer::kill_hard() { proc_.kill_hard(); }

bool RedisServer::running() { return proc_.running(); }

void RedisServer::freeze() { proc_.signal(SIGSTOP); }

void RedisServer::thaw() { proc_.signal(SIGCONT); }

std::string RedisServer::url() const {
  if (!certs_) return "redis://127.0.0.1:" + std::to_string(port_) + "/0";
  return "rediss://127.0.0.1:" + std::to_string(port_) + "/0?ca_file=" + certs_->ca_cert +
         "&cert_file=" + certs_->client_cert + "&key_file=" + certs_->client_key;
}

shortcred::redis::Connection RedisServer::connect() const {
  shortcred::RedisEndpoint ep;
  std::string err;
  if (shortcred::parse_redis_url(url(), ep, err) != shortcred::Errc::ok) {
    throw std::runtime_error("fixture URL does not parse: " + err);
  }
  return shortcred::redis::Connection::open(ep, std::chrono::milliseconds(1000), err);
}

}  // namespace support
