// The whole flow on a Redis Cluster: orgs on each of the three masters,
// minted by tokend, connected and revoked through the broker, managed by
// shortcredctl; one org's slot migrated under traffic (ASK, then MOVED) —
// on a plain cluster and on a TLS-only one; one master killed and its
// replica promoted; a live redis-cli reshard.
#include <catch2/catch.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <string>
#include <vector>

#include "cluster_keys.hpp"
#include "cluster_stack.hpp"
#include "shortcred/cluster_slots.hpp"
#include "shortcred/redis/client.hpp"
#include "shortcred/schema.hpp"
#include "support/wait.hpp"

using namespace std::chrono_literals;
using cluster_test::ClusterStack;
using cluster_test::Minted;

namespace {

// CONNECTs, publishes to its own topic and sees the message come back.
void check_session(ClusterStack& s, const Minted& m, const std::string& client_id) {
  auto c = s.client(m, client_id);
  INFO(m.username << " " << s.broker->log());
  REQUIRE(c->connect(s.broker->port()) == 0);
  const std::string topic = m.org + "/users/" + m.user + "/t";
  REQUIRE(c->subscribe(topic) == 0);
  REQUIRE(c->publish(topic, "hi") == 0);
  CHECK(c->wait_message(topic, "hi"));
}

int connect_rc(ClusterStack& s, const Minted& m, const std::string& client_id) {
  auto c = s.client(m, client_id);
  return c->connect(s.broker->port());
}

// tokend, shortcredctl and the broker on orgs of every master, then through
// a migration of one org's slot: the same whatever the transport.
void serve_every_master(ClusterStack& s) {
  const std::vector<int> masters = s.cluster.masters();
  REQUIRE(masters.size() == 3);
  const auto orgs = cluster_test::one_per_master(s.cluster, "org");
  for (const auto& org : orgs) s.add_org(org);

  // Every org, whichever master holds it: mint, CONNECT, publish, revoke.
  for (const auto& org : orgs) {
    const Minted m = s.mint(org, "alice");
    check_session(s, m, "c-" + org);
    auto live = s.client(m, "live-" + org);
    REQUIRE(live->connect(s.broker->port()) == 0);
    CHECK(s.revoke(m) == 204);
    INFO(s.broker->log());
    CHECK(live->wait_disconnected(3s));
    CHECK(connect_rc(s, m, "again-" + org) != 0);
  }
  // shortcredctl over the cluster: org list walks every master.
  const auto listed = s.ctl({"org", "list"});
  REQUIRE(listed.exit_code == 0);
  for (const auto& org : orgs) CHECK(listed.out.find(org) != std::string::npos);

  // Revalidation (one pipeline over every master): credentials deleted by
  // hand, without a revocation message, end their sessions.
  std::vector<std::unique_ptr<support::MqttClient>> sessions;
  std::string err;
  auto admin = shortcred::redis::Client::open(s.cluster.endpoint(), 1000ms, err);
  REQUIRE(admin.ok());
  for (const auto& org : orgs) {
    const Minted m = s.mint(org, "erin");
    sessions.push_back(s.client(m, "erin-" + org));
    REQUIRE(sessions.back()->connect(s.broker->port()) == 0);
    REQUIRE(admin.command({"DEL", shortcred::cred_key("shortcred:", org, m.token_id)})->integer == 1);
  }
  for (auto& session : sessions) CHECK(session->wait_disconnected(3s));

  // Move orgs[0]'s slot to another master by hand, while it is in use.
  const std::string org = orgs[0];
  const std::uint16_t slot = shortcred::key_slot(org);
  const int from = masters[0];
  const int to = masters[1];
  const Minted early = s.mint(org, "bob");
  const Minted late = s.mint(org, "carol");
  s.cluster.begin_migration(slot, from, to);
  // Only bob's credential has moved yet: its lookup is answered -ASK, the
  // org hash is still on the source.
  s.cluster.migrate_keys(from, to, {shortcred::cred_key("shortcred:", org, early.token_id)});
  check_session(s, early, "bob-1");
  REQUIRE(support::wait_until([&] { return s.broker_counter("redis/cluster/ask") > 0; }, 3s));

  // Finished: the source answers -MOVED for everything of the org.
  s.cluster.migrate_keys(from, to, s.cluster.keys_in_slot(from, slot));
  s.cluster.finish_migration(slot, to);
  check_session(s, late, "carol-1");
  REQUIRE(support::wait_until([&] { return s.broker_counter("redis/cluster/moved") > 0; }, 3s));
  const Minted after = s.mint(org, "dave");
  check_session(s, after, "dave-1");
  CHECK(s.tokend_metric("shortcred_redis_cluster_redirects_total{kind=\"moved\"}") > 0);
  auto live = s.client(early, "bob-live");
  REQUIRE(live->connect(s.broker->port()) == 0);
  CHECK(s.revoke(early) == 204);
  CHECK(live->wait_disconnected(3s));
  CHECK(s.cluster.master_of(slot) == to);
  const auto tokens = s.ctl({"token", "list", "--org", org, "--user", "carol"});
  CHECK(tokens.exit_code == 0);
  CHECK(tokens.out.find(late.token_id) != std::string::npos);
}

}  // namespace

TEST_CASE("tokend, shortcredctl and the broker serve orgs on every master, through a migration") {
  ClusterStack s;
  serve_every_master(s);
}

// TLS everywhere: clients to nodes (client certificates required), the
// cluster bus and replication; no replicas, as nothing here fails over.
TEST_CASE("the same over a TLS-only cluster: rediss-cluster:// with client certificates") {
  ClusterStack s(0, support::ClusterTransport::tls);
  REQUIRE(s.cluster.url().rfind("rediss-cluster://", 0) == 0);
  // TLS only: a plain client gets no answer from any node.
  for (int node = 0; node < s.cluster.size(); ++node) {
    shortcred::RedisEndpoint plain;
    plain.port = s.cluster.port(node);
    std::string err;
    auto c = shortcred::redis::Connection::open(plain, 500ms, err);
    CHECK_FALSE(shortcred::redis::to_string(c.command({"PING"}).get()) == "PONG");
  }
  serve_every_master(s);
}

TEST_CASE("a master killed: its replica takes over and mints and CONNECTs resume within 1 s") {
  ClusterStack s;
  const std::vector<int> masters = s.cluster.masters();
  const auto orgs = cluster_test::one_per_master(s.cluster, "org");
  for (const auto& org : orgs) s.add_org(org);
  const std::string org = orgs[0];
  const int victim = masters[0];
  const int heir = s.cluster.replica_of(victim);
  REQUIRE(heir >= 0);

  // Sessions of the org and of another master's org stay connected.
  const Minted held = s.mint(org, "alice");
  const Minted other = s.mint(orgs[1], "alice");
  auto held_live = s.client(held, "held");
  auto other_live = s.client(other, "other");
  REQUIRE(held_live->connect(s.broker->port()) == 0);
  REQUIRE(other_live->connect(s.broker->port()) == 0);

  s.cluster.kill_hard(victim);
  // CONNECTs keep being tried during the failover, as clients would.
  const bool promoted = support::wait_until(
      [&] {
        connect_rc(s, held, "during");
        auto r = s.cluster.connect(heir).command({"ROLE"});
        return r && r->type == REDIS_REPLY_ARRAY &&
               shortcred::redis::to_string(r->element[0]) == "master";
      },
      15s, 50ms);
  REQUIRE(promoted);
  const auto t0 = std::chrono::steady_clock::now();
  Minted fresh;
  const bool minted = support::wait_until(
      [&] {
        long status = 0;
        fresh = s.mint(org, "bob", &status);
        return status == 201;
      },
      5s, 20ms);
  const auto mint_took = std::chrono::steady_clock::now() - t0;
  REQUIRE(minted);
  const bool connected =
      support::wait_until([&] { return connect_rc(s, fresh, "after") == 0; }, 5s, 20ms);
  const auto connect_took = std::chrono::steady_clock::now() - t0;
  INFO(s.logs());
  REQUIRE(connected);
  CHECK(mint_took <= 1s);
  CHECK(connect_took <= 1s);
  WARN("failover: first mint " << std::chrono::duration_cast<std::chrono::milliseconds>(mint_took).count()
                               << " ms, first CONNECT "
                               << std::chrono::duration_cast<std::chrono::milliseconds>(connect_took).count()
                               << " ms after the replica became master");

  // No session was dropped, and a revocation still reaches the broker.
  for (auto* live : {held_live.get(), other_live.get()}) {
    const std::string topic = (live == held_live.get() ? org : orgs[1]) + "/users/alice/t";
    REQUIRE(live->subscribe(topic) == 0);
    REQUIRE(live->publish(topic, "still") == 0);
    CHECK(live->wait_message(topic, "still"));
  }
  CHECK(s.revoke(held) == 204);
  CHECK(held_live->wait_disconnected(3s));
}

TEST_CASE("redis-cli --cluster reshard moves an org's slot while it mints and connects") {
  ClusterStack s;
  // reshard takes the lowest slots of the source first: an org among them.
  const int from = s.cluster.master_of(0);
  int to = -1;
  for (int m : s.cluster.masters()) {
    if (m != from) to = m;
  }
  std::string org;
  for (int n = 0; org.empty(); ++n) {
    if (shortcred::key_slot("r" + std::to_string(n)) < 20) org = "r" + std::to_string(n);
  }
  s.add_org(org);

  std::atomic<bool> stop{false};
  std::vector<Minted> kept;
  int mints = 0, mint_failures = 0, connects = 0, connect_failures = 0;
  std::thread traffic([&] {
    for (int i = 0; !stop; ++i) {
      long status = 0;
      const Minted m = s.mint(org, "u" + std::to_string(i % 5), &status);
      ++mints;
      if (status != 201) {
        ++mint_failures;
        continue;
      }
      ++connects;
      if (connect_rc(s, m, "t" + std::to_string(i)) != 0) ++connect_failures;
      kept.push_back(m);
    }
  });
  std::this_thread::sleep_for(200ms);  // traffic before the reshard, not a deadline
  const auto r = support::run({"redis-cli", "--cluster", "reshard",
                               "127.0.0.1:" + std::to_string(s.cluster.port(from)), "--cluster-from",
                               s.cluster.node_id(from), "--cluster-to", s.cluster.node_id(to),
                               "--cluster-slots", "20", "--cluster-yes"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  REQUIRE(s.cluster.wait_converged(10s));
  std::this_thread::sleep_for(200ms);  // and after it
  stop = true;
  traffic.join();

  CHECK(s.cluster.master_of(shortcred::key_slot(org)) == to);
  WARN("reshard under traffic: " << mints << " mints (" << mint_failures << " failed), "
                                 << connects << " CONNECTs (" << connect_failures << " failed)");
  CHECK(mint_failures == 0);
  CHECK(connect_failures == 0);
  // Every credential that got a 201 authenticates on the new master.
  REQUIRE(!kept.empty());
  for (std::size_t i = 0; i < kept.size(); i += std::max<std::size_t>(1, kept.size() / 10)) {
    CHECK(connect_rc(s, kept[i], "check" + std::to_string(i)) == 0);
  }
  CHECK(s.tokend_metric("shortcred_redis_cluster_redirects_total{kind=\"moved\"}") > 0);
  CHECK(support::wait_until([&] { return s.broker_counter("redis/cluster/moved") > 0; }, 3s));
}
