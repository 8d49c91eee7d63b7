#include "cluster_stack.hpp"

#include <json/json.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <regex>

#include "support/ports.hpp"
#include "support/wait.hpp"

namespace cluster_test {
namespace {

using namespace std::chrono_literals;

Json::Value parse_json(const std::string& text) {
  Json::Value v;
  Json::CharReaderBuilder b;
  std::string errs;
  std::unique_ptr<Json::CharReader> r(b.newCharReader());
  if (!r->parse(text.data(), text.data() + text.size(), &v, &errs)) return Json::Value();
  return v;
}

}  // namespace

ClusterStack::ClusterStack(int replicas, support::ClusterTransport transport)
    : cluster(3, replicas, transport) {
  tokend_port = support::free_port();
  tokend = support::Process(
      {SHORTCRED_TOKEND_PATH, "--listen", "127.0.0.1:" + std::to_string(tokend_port), "--redis",
       cluster.url(), "--threads", "8", "--redis-timeout-ms", "500"},
      dir / "tokend.log");
  if (!support::wait_until([&] { return support::port_open(tokend_port); }, 10s, 10ms)) {
    FAIL("shortcred-tokend did not start:\n" << logs());
  }
  http_ = std::make_unique<support::HttpClient>("http://127.0.0.1:" + std::to_string(tokend_port));
  broker = std::make_unique<support::MosquittoServer>(
      "allow_anonymous false\nplugin " SHORTCRED_PLUGIN_PATH "\nplugin_opt_redis_url " +
          cluster.url() + "\nplugin_opt_sys_interval 1\nplugin_opt_revalidate_interval_s 1\n",
      true);
  if (!broker->running()) FAIL("mosquitto did not start:\n" << broker->log());
}

ClusterStack::~ClusterStack() {
  broker.reset();
  tokend.stop();
}

support::RunResult ClusterStack::ctl(std::vector<std::string> args) const {
  args.insert(args.begin(), {SHORTCRED_CTL_PATH, "--redis", cluster.url()});
  return support::run(args);
}

void ClusterStack::add_org(const std::string& org) {
  const auto created = ctl({"org", "create", "--id", org});
  INFO(created.out << created.err);
  REQUIRE(created.exit_code == 0);
  const auto key = ctl({"--json", "apikey", "create", "--org", org, "--name", "test"});
  INFO(key.out << key.err);
  REQUIRE(key.exit_code == 0);
  api_keys_[org] = parse_json(key.out)["api_key"].asString();
}

support::HttpResponse ClusterStack::call(const std::string& org, const std::string& method,
                                         const std::string& path, const std::string& body) {
  return http_->request(method, path, body, {"Authorization: Bearer " + api_keys_.at(org)});
}

Minted ClusterStack::mint(const std::string& org, const std::string& user, long* status) {
  const auto r = call(org, "POST", "/v2/tokens", R"({"user_id":")" + user + R"(","ttl_seconds":600})");
  if (status != nullptr) *status = r.status;
  if (status == nullptr) {
    INFO(r.status << " " << r.body << r.error);
    REQUIRE(r.status == 201);
  }
  if (r.status != 201) return {};
  const Json::Value v = parse_json(r.body);
  return {org, user, v["token_id"].asString(), v["username"].asString(),
          v["password"].asString()};
}

long ClusterStack::revoke(const Minted& m) {
  return call(m.org, "DELETE", "/v2/tokens/" + m.token_id).status;
}

std::unique_ptr<support::MqttClient> ClusterStack::client(const Minted& m,
                                                          const std::string& client_id) {
  support::MqttClient::Options o;
  o.client_id = client_id;
  o.username = m.username;
  o.password = m.password;
  return std::make_unique<support::MqttClient>(o);
}

long ClusterStack::broker_counter(const std::string& counter) const {
  const std::string log = broker->log();
  const std::regex re(" " + counter + "=([0-9]+)");
  long v = -1;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), re); it != std::sregex_iterator();
       ++it) {
    v = std::stol((*it)[1].str());
  }
  return v;
}

long ClusterStack::tokend_metric(const std::string& series) {
  support::HttpClient h("http://127.0.0.1:" + std::to_string(tokend_port));
  const std::string text = h.request("GET", "/metrics").body;
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stol(text.substr(at + series.size() + 2));
}

std::string ClusterStack::logs() const {
  return support::read_file(dir / "tokend.log") + (broker ? broker->log() : std::string());
}

}  // namespace cluster_test
