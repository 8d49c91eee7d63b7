// The metrics endpoint's pure parts: option parsing, what a request head is
// answered, the series names a snapshot renders to, and the per-org top-N
// with the overflow slot.
#include <catch2/catch.hpp>

#include "metrics_server.hpp"
#include "metrics_snapshot.hpp"
#include "options.hpp"

using namespace shortcred;
using namespace shortcred::plugin;

TEST_CASE("metrics_listen takes an IPv4 or bracketed IPv6 address and a port", "[options][metrics]") {
  Options o;
  std::string err;
  REQUIRE(parse_options({}, o, err));
  CHECK(o.metrics_port == 0);  // off by default
  CHECK(o.metrics_top_orgs == 20);
  REQUIRE(parse_options({{"metrics_listen", "127.0.0.1:9234"}, {"metrics_top_orgs", "2"}}, o, err));
  CHECK(o.metrics_host == "127.0.0.1");
  CHECK(o.metrics_port == 9234);
  CHECK(o.metrics_top_orgs == 2);
  REQUIRE(parse_options({{"metrics_listen", "[::1]:9234"}}, o, err));
  CHECK(o.metrics_host == "::1");
  for (const char* bad : {"", "9234", ":9234", "localhost:9234", "127.0.0.1:", "127.0.0.1:0",
                          "127.0.0.1:65536", "127.0.0.1:+80", "127.0.0.1:80 ", "::1:9234",
                          "[::1]", "[127.0.0.1]:80", "1.2.3:80", "0x7f.0.0.1:80"}) {
    INFO(bad);
    CHECK_FALSE(parse_options({{"metrics_listen", bad}}, o, err));
    CHECK(err.find("plugin_opt_metrics_listen '") == 0);
    CHECK(err.find("e.g. 127.0.0.1:9234") != std::string::npos);
  }
  for (const char* bad : {"-1", "1001", "x", ""}) {
    INFO(bad);
    CHECK_FALSE(parse_options({{"metrics_top_orgs", bad}}, o, err));
    CHECK(err.find("plugin_opt_metrics_top_orgs") == 0);
  }
}

TEST_CASE("a request head is answered once complete: 200 for GET /metrics, else 404, 405, 400 "
          "or 431",
          "[metrics]") {
  const std::size_t max = MetricsServer::kMaxRequestBytes;
  CHECK(answer_request("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", max).status == 200);
  CHECK(answer_request("GET /metrics?name[]=x HTTP/1.0\r\n\r\n", max).status == 200);
  CHECK(answer_request("GET /metrics HTTP/1.1\r\nHost: x\r\n", max).status == 0);  // not yet
  CHECK(answer_request("GET / HTTP/1.1\r\n\r\n", max).status == 404);
  CHECK(answer_request("GET /metrics/ HTTP/1.1\r\n\r\n", max).status == 404);
  CHECK(answer_request("POST /metrics HTTP/1.1\r\n\r\n", max).status == 405);
  CHECK(answer_request("HEAD /metrics HTTP/1.1\r\n\r\n", max).status == 405);
  CHECK(answer_request("GET /metrics\r\n\r\n", max).status == 400);
  CHECK(answer_request("GET /metrics HTTP/1.1 x\r\n\r\n", max).status == 400);
  CHECK(answer_request("GET /metrics SPDY/3\r\n\r\n", max).status == 400);
  CHECK(answer_request(std::string(max, 'a'), max).status == 431);
  CHECK(answer_request("GET /metrics HTTP/1.1\r\nX: " + std::string(max, 'a') + "\r\n\r\n", max)
            .status == 431);
}

TEST_CASE("counters render under their Prometheus names, with reasons as labels", "[metrics]") {
  MetricsSnapshot s;
  s.mosquitto = "2.0";
  s.counters.auth_ok = 4;
  s.counters.auth_failed_bad_secret = 2;
  s.counters.auth_throttled_token = 1;
  s.counters.acl_denied_deliver = 3;
  s.counters.kicked_expired = 5;
  s.counters.rate_limited = 6;
  s.counters.redis_errors = 7;
  s.series.push_back({"shortcred_broker_redis_up", "gauge", "h", "connection", "connect", 1});
  s.series.push_back({"shortcred_broker_redis_up", "gauge", "h", "connection", "background", 0});
  const std::string t = render_metrics(s);
  for (const char* line : {
           "shortcred_broker_build_info{version=\"" SHORTCRED_VERSION "\",mosquitto=\"2.0\"} 1\n",
           "# TYPE shortcred_broker_auth_ok_total counter\nshortcred_broker_auth_ok_total 4\n",
           "shortcred_broker_auth_failures_total{reason=\"bad_secret\"} 2\n",
           "shortcred_broker_auth_failures_total{reason=\"redis_unavailable\"} 0\n",
           "shortcred_broker_auth_throttled_total{by=\"token\"} 1\n",
           "shortcred_broker_acl_denials_total{access=\"deliver\"} 3\n",
           "shortcred_broker_kicks_total{reason=\"expired\"} 5\n",
           "shortcred_broker_rate_limited_total 6\n",
           "shortcred_broker_redis_errors_total 7\n",
           "# TYPE shortcred_broker_redis_up gauge\n"
           "shortcred_broker_redis_up{connection=\"connect\"} 1\n"
           "shortcred_broker_redis_up{connection=\"background\"} 0\n",
           "shortcred_broker_org_auth_failures_total{org=\"other\"} 0\n",
       }) {
    INFO(line);
    CHECK(t.find(line) != std::string::npos);
  }
  // One HELP/TYPE header per family.
  CHECK(t.find("# TYPE shortcred_broker_auth_failures_total counter\n") ==
        t.rfind("# TYPE shortcred_broker_auth_failures_total counter\n"));
}

TEST_CASE("per-org series keep the top orgs and count the rest and the overflow slot as other",
          "[metrics]") {
  OrgCounterTable table;
  table.slot("orgA").acl_denials = 3;
  table.slot("orgB").acl_denials = 2;
  table.slot("orgC").acl_denials = 1;
  table.slot("orgC").rate_limited = 9;
  // An org never seen in Redis has no slot of its own.
  ++table.slot_or_overflow("forged").auth_failures;
  CHECK(&table.slot_or_overflow("forged") == &table.slot_or_overflow(""));
  CHECK(&table.slot_or_overflow("orgA") == &table.slot("orgA"));
  MetricsSnapshot s;
  split_org_counts(table, 2, s);
  using Top = std::vector<std::pair<std::string, std::uint64_t>>;
  CHECK(s.org_acl_denials.top == Top{{"orgA", 3}, {"orgB", 2}});
  CHECK(s.org_acl_denials.other == 1);
  CHECK(s.org_rate_limited.top == Top{{"orgC", 9}});
  CHECK(s.org_rate_limited.other == 0);
  CHECK(s.org_auth_failures.top.empty());
  CHECK(s.org_auth_failures.other == 1);
  const std::string t = render_metrics(s);
  CHECK(t.find("shortcred_broker_org_acl_denials_total{org=\"orgA\"} 3\n"
               "shortcred_broker_org_acl_denials_total{org=\"orgB\"} 2\n"
               "shortcred_broker_org_acl_denials_total{org=\"other\"} 1\n") != std::string::npos);
}

TEST_CASE("the org counter table gives at most kMaxTracked orgs a slot of their own", "[metrics]") {
  OrgCounterTable table;
  for (std::size_t i = 0; i < OrgCounterTable::kMaxTracked; ++i) table.slot("o" + std::to_string(i));
  OrgCounts* first = &table.slot("o0");
  CHECK(&table.slot("one-too-many") == &table.slot_or_overflow(""));
  CHECK(table.size() == OrgCounterTable::kMaxTracked);
  CHECK(&table.slot("o0") == first);  // slots never move
}
