// redis::Client on a real Redis Cluster: routing, pipelines over several
// masters, transactions, SCAN, refusals, MOVED and ASK during a slot
// migration, and a master killed and replaced by its replica.
#include <catch2/catch.hpp>
#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "cluster_keys.hpp"
#include "shortcred/cluster_slots.hpp"
#include "shortcred/redis/client.hpp"
#include "support/redis_cluster.hpp"
#include "support/wait.hpp"

using namespace std::chrono_literals;
using shortcred::key_slot;
using shortcred::redis::Client;
using shortcred::redis::to_string;

namespace {

Client open_client(const support::RedisCluster& cluster) {
  std::string err;
  Client c = Client::open(cluster.endpoint(), 1000ms, err);
  INFO(err);
  REQUIRE(c.ok());
  REQUIRE(c.is_cluster());
  return c;
}

std::string get_on(const support::RedisCluster& cluster, int node, const std::string& key) {
  auto c = cluster.connect(node);
  c.command({"READONLY"});  // lets a replica answer too
  c.command({"ASKING"});    // and an importing master
  return to_string(c.command({"GET", key}).get());
}

std::string error_of(const shortcred::redis::Reply& r) {
  REQUIRE(r);
  return r->type == REDIS_REPLY_ERROR ? to_string(r.get()) : std::string();
}

}  // namespace

TEST_CASE("a cluster client routes, pipelines, transacts and follows MOVED and ASK") {
  support::RedisCluster cluster;
  const std::vector<int> masters = cluster.masters();
  REQUIRE(masters.size() == 3);
  const auto tags = cluster_test::one_per_master(cluster, "t");
  Client c = open_client(cluster);

  // One pipeline over all three masters; replies come back in order.
  for (std::size_t i = 0; i < tags.size(); ++i) {
    REQUIRE(c.append({"SET", "{" + tags[i] + "}:k", "v" + std::to_string(i)}));
  }
  for (const auto& tag : tags) REQUIRE(c.append({"GET", "{" + tag + "}:k"}));
  for (std::size_t i = 0; i < tags.size(); ++i) CHECK(shortcred::redis::is_status_ok(c.read_reply()));
  for (std::size_t i = 0; i < tags.size(); ++i) {
    CHECK(to_string(c.read_reply().get()) == "v" + std::to_string(i));
  }
  // Each key lives on the master of its slot.
  for (std::size_t i = 0; i < tags.size(); ++i) {
    CHECK(get_on(cluster, masters[i], "{" + tags[i] + "}:k") == "v" + std::to_string(i));
  }

  // Keys of several slots in one command or one transaction are refused,
  // and nothing of the transaction runs.
  CHECK(error_of(c.command({"DEL", "{" + tags[0] + "}:k", "{" + tags[1] + "}:k"}))
            .starts_with("CROSSSLOT"));
  REQUIRE(c.append({"MULTI"}));
  REQUIRE(c.append({"SET", "{" + tags[0] + "}:tx", "1"}));
  REQUIRE(c.append({"SET", "{" + tags[1] + "}:tx", "1"}));
  REQUIRE(c.append({"EXEC"}));
  CHECK(shortcred::redis::is_status_ok(c.read_reply()));
  CHECK(to_string(c.read_reply().get()) == "QUEUED");
  CHECK(error_of(c.read_reply()).starts_with("CROSSSLOT"));
  CHECK(error_of(c.read_reply()).starts_with("EXECABORT"));
  CHECK(c.ok());
  CHECK(c.command({"EXISTS", "{" + tags[0] + "}:tx"})->integer == 0);

  // A transaction of one slot runs on its master, PUBLISH included.
  REQUIRE(c.append({"MULTI"}));
  REQUIRE(c.append({"HSET", "{" + tags[2] + "}:h", "f", "v"}));
  REQUIRE(c.append({"INCR", "{" + tags[2] + "}:n"}));
  REQUIRE(c.append({"PUBLISH", "chan", "m"}));
  REQUIRE(c.append({"EXEC"}));
  for (int i = 0; i < 4; ++i) REQUIRE_FALSE(shortcred::redis::is_error(c.read_reply()));
  auto exec = c.read_reply();
  REQUIRE(exec->type == REDIS_REPLY_ARRAY);
  CHECK(exec->elements == 3);
  CHECK(get_on(cluster, masters[2], "{" + tags[2] + "}:n") == "1");

  // SCAN with a tagged pattern asks that tag's master; any other SCAN walks
  // every master behind one cursor.
  auto tagged = c.command({"SCAN", "0", "MATCH", "{" + tags[2] + "}:*", "COUNT", "1000"});
  REQUIRE(tagged->type == REDIS_REPLY_ARRAY);
  CHECK(to_string(tagged->element[0]) == "0");
  CHECK(tagged->element[1]->elements == 3);
  std::vector<std::string> all;
  std::string cursor = "0";
  int steps = 0;
  do {
    auto r = c.command({"SCAN", cursor, "MATCH", "*:k", "COUNT", "1"});
    REQUIRE(r->type == REDIS_REPLY_ARRAY);
    cursor = to_string(r->element[0]);
    for (std::size_t i = 0; i < r->element[1]->elements; ++i) {
      all.push_back(to_string(r->element[1]->element[i]));
    }
    REQUIRE(++steps < 100);
  } while (cursor != "0");
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  CHECK(all.size() == 3);
  CHECK(error_of(c.command({"SCAN", "7:0"})).starts_with("ERR invalid cursor"));

  // Migrate tags[0]'s slot from its master to the second one, by hand.
  const std::uint16_t slot = key_slot(tags[0]);
  const int from = masters[0];
  const int to = masters[1];
  const std::string moved_key = "{" + tags[0] + "}:k";
  const std::string staying_key = "{" + tags[0] + "}:stays";
  REQUIRE(shortcred::redis::is_status_ok(c.command({"SET", staying_key, "s"})));
  cluster.begin_migration(slot, from, to);
  cluster.migrate_keys(from, to, {moved_key});
  const auto before = shortcred::redis::cluster_stats();

  // A key already moved: the source answers -ASK, the client asks the target.
  CHECK(to_string(c.command({"GET", moved_key}).get()) == "v0");
  CHECK(shortcred::redis::cluster_stats().ask > before.ask);
  CHECK(to_string(c.command({"GET", staying_key}).get()) == "s");
  // In one pipeline with other masters' keys.
  REQUIRE(c.append({"GET", moved_key}));
  REQUIRE(c.append({"GET", "{" + tags[1] + "}:k"}));
  REQUIRE(c.append({"GET", staying_key}));
  CHECK(to_string(c.read_reply().get()) == "v0");
  CHECK(to_string(c.read_reply().get()) == "v1");
  CHECK(to_string(c.read_reply().get()) == "s");
  // A transaction on a new key of the migrating slot runs on the target.
  REQUIRE(c.append({"MULTI"}));
  REQUIRE(c.append({"SET", "{" + tags[0] + "}:new", "n"}));
  REQUIRE(c.append({"EXEC"}));
  CHECK(shortcred::redis::is_status_ok(c.read_reply()));
  CHECK(to_string(c.read_reply().get()) == "QUEUED");
  exec = c.read_reply();
  INFO(to_string(exec.get()));
  REQUIRE(exec->type == REDIS_REPLY_ARRAY);
  CHECK(get_on(cluster, to, "{" + tags[0] + "}:new") == "n");

  // Under WATCH a transaction redirected to the target cannot keep the
  // watch: EXEC answers nil ("watched key changed"), nothing ran.
  auto watched_set = [&](const std::string& value) {
    REQUIRE(c.append({"WATCH", staying_key}));
    REQUIRE(c.append({"MULTI"}));
    REQUIRE(c.append({"SET", "{" + tags[0] + "}:w", value}));
    REQUIRE(c.append({"EXEC"}));
    CHECK(shortcred::redis::is_status_ok(c.read_reply()));
    CHECK(shortcred::redis::is_status_ok(c.read_reply()));
    CHECK(to_string(c.read_reply().get()) == "QUEUED");
    return c.read_reply();
  };
  CHECK(watched_set("1")->type == REDIS_REPLY_NIL);
  CHECK(get_on(cluster, to, "{" + tags[0] + "}:w").empty());
  CHECK(get_on(cluster, from, "{" + tags[0] + "}:w").find("ASK") == 0);

  // Finished: the old master answers -MOVED, once: the map is updated. A
  // WATCH that went to the old master answers nil the same way; the next
  // attempt watches on the new one.
  cluster.migrate_keys(from, to, cluster.keys_in_slot(from, slot));
  cluster.finish_migration(slot, to);
  const auto mid = shortcred::redis::cluster_stats();
  CHECK(watched_set("2")->type == REDIS_REPLY_NIL);
  const auto watched = shortcred::redis::cluster_stats();
  CHECK(watched.moved > mid.moved);
  exec = watched_set("3");
  REQUIRE(exec->type == REDIS_REPLY_ARRAY);
  CHECK(get_on(cluster, to, "{" + tags[0] + "}:w") == "3");
  CHECK(to_string(c.command({"GET", staying_key}).get()) == "s");
  CHECK(to_string(c.command({"GET", moved_key}).get()) == "v0");
  CHECK(shortcred::redis::cluster_stats().moved == watched.moved);  // straight to the new owner
  CHECK(c.ok());
}

TEST_CASE("a cluster client survives a master killed and its replica promoted") {
  support::RedisCluster cluster;
  const std::vector<int> masters = cluster.masters();
  const auto tags = cluster_test::one_per_master(cluster, "f");
  const std::string key = "{" + tags[0] + "}:k";
  Client c = open_client(cluster);
  REQUIRE(shortcred::redis::is_status_ok(c.command({"SET", key, "before"})));
  const int victim = masters[0];
  const int heir = cluster.replica_of(victim);
  REQUIRE(heir >= 0);
  REQUIRE(support::wait_until([&] { return get_on(cluster, heir, key) == "before"; }, 5s));

  cluster.kill_hard(victim);
  // The old client's connection to the dead master fails: it is unusable,
  // like a Connection, and says which node.
  CHECK(c.command({"GET", key}) == nullptr);
  CHECK_FALSE(c.ok());
  CHECK(c.error().find(std::to_string(cluster.port(victim))) != std::string::npos);
  // The other masters keep serving a new client meanwhile.
  Client other = open_client(cluster);
  CHECK(shortcred::redis::is_status_ok(other.command({"SET", "{" + tags[1] + "}:k", "x"})));

  // The replica takes over; a new client works within 1 s of that.
  REQUIRE(support::wait_until(
      [&] {
        auto r = cluster.connect(heir).command({"ROLE"});
        return r && r->type == REDIS_REPLY_ARRAY && to_string(r->element[0]) == "master";
      },
      15s, 20ms));
  const auto promoted = std::chrono::steady_clock::now();
  const bool served = support::wait_until(
      [&] {
        std::string err;
        Client fresh = Client::open(cluster.endpoint(), 300ms, err);
        return fresh.ok() && to_string(fresh.command({"GET", key}).get()) == "before" &&
               shortcred::redis::is_status_ok(fresh.command({"SET", key, "after"}));
      },
      5s, 20ms);
  const auto took = std::chrono::steady_clock::now() - promoted;
  REQUIRE(served);
  CHECK(took <= 1s);
  CHECK(shortcred::redis::cluster_stats().node_failures >= 1);
}
