// The whole system on a Redis Cluster: a RedisCluster (3 masters, each with
// `replicas` replicas, plain or TLS only), shortcred-tokend and a mosquitto
// loading the plugin (revalidating every second), both given the cluster URL
// (rediss-cluster://…?ca_file=… for TLS), and orgs with API keys made by
// shortcredctl.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/http_client.hpp"
#include "support/mosquitto_server.hpp"
#include "support/mqtt_client.hpp"
#include "support/process.hpp"
#include "support/redis_cluster.hpp"
#include "support/temp_dir.hpp"

namespace cluster_test {

struct Minted {
  std::string org, user, token_id, username, password;
};

class ClusterStack {
 public:
  explicit ClusterStack(int replicas = 1,
                        support::ClusterTransport transport = support::ClusterTransport::plain);
  ~ClusterStack();

  support::RunResult ctl(std::vector<std::string> args) const;
  // Creates `org` and an API key for it (shortcredctl).
  void add_org(const std::string& org);
  support::HttpResponse call(const std::string& org, const std::string& method,
                             const std::string& path, const std::string& body = {});
  // POST /v2/tokens for `user`; status 201 or the response's status in `status`.
  Minted mint(const std::string& org, const std::string& user, long* status = nullptr);
  long revoke(const Minted& m);
  std::unique_ptr<support::MqttClient> client(const Minted& m, const std::string& client_id);

  // The last value of `counter` in the plugin's counters log line, or -1.
  long broker_counter(const std::string& counter) const;
  // A sample of tokend's /metrics (`name{labels}` as written), or -1.
  long tokend_metric(const std::string& series);
  std::string logs() const;

  support::RedisCluster cluster;
  support::TempDir dir{"shortcred-cluster-stack"};
  int tokend_port = 0;
  support::Process tokend;
  std::unique_ptr<support::MosquittoServer> broker;

 private:
  std::map<std::string, std::string> api_keys_;  // org → sk_…
  std::unique_ptr<support::HttpClient> http_;
};

}  // namespace cluster_test
