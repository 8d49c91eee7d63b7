// The slot map from CLUSTER SLOTS, and MOVED / ASK redirects.
#include <catch2/catch.hpp>
#include <string>

#include "shortcred/cluster_map.hpp"

using namespace shortcred;

namespace {

RedisNode node(const std::string& host, int port) { return RedisNode{host, port}; }

SlotMap three_masters() {
  std::string err;
  auto map = SlotMap::from_ranges({{0, 5460, node("127.0.0.1", 7000)},
                                   {5461, 10922, node("127.0.0.1", 7001)},
                                   {10923, 16383, node("127.0.0.1", 7002)}},
                                  err);
  REQUIRE(map);
  return *map;
}

}  // namespace

TEST_CASE("the slot map names the master of every slot", "[cluster]") {
  const SlotMap map = three_masters();
  CHECK(map.covers_all_slots());
  REQUIRE(map.masters().size() == 3);
  CHECK(map.master_of(0)->port == 7000);
  CHECK(map.master_of(5460)->port == 7000);
  CHECK(map.master_of(5461)->port == 7001);
  CHECK(map.master_of(10922)->port == 7001);
  CHECK(map.master_of(16383)->port == 7002);
  CHECK(map.master_index(10923) == 2);
}

TEST_CASE("a master with several ranges is one node", "[cluster]") {
  std::string err;
  auto map = SlotMap::from_ranges({{0, 99, node("10.0.0.1", 6379)},
                                   {100, 199, node("10.0.0.2", 6379)},
                                   {200, 16383, node("10.0.0.1", 6379)}},
                                  err);
  REQUIRE(map);
  CHECK(map->masters().size() == 2);
  CHECK(map->master_index(0) == map->master_index(300));
  CHECK(map->covers_all_slots());
}

TEST_CASE("slots no range names are unassigned", "[cluster]") {
  std::string err;
  auto map = SlotMap::from_ranges({{0, 8000, node("127.0.0.1", 7000)}}, err);
  REQUIRE(map);
  CHECK_FALSE(map->covers_all_slots());
  CHECK(map->master_of(8001) == nullptr);
  CHECK(map->master_index(16383) == SlotMap::kUnassigned);
  CHECK(SlotMap().master_of(0) == nullptr);
}

TEST_CASE("a CLUSTER SLOTS reply we do not understand is refused whole", "[cluster]") {
  std::string err;
  CHECK_FALSE(SlotMap::from_ranges({{0, 16384, node("h", 1)}}, err));
  CHECK(err.find("0-16384") != std::string::npos);
  CHECK_FALSE(SlotMap::from_ranges({{10, 5, node("h", 1)}}, err));
  CHECK_FALSE(SlotMap::from_ranges({{-1, 5, node("h", 1)}}, err));
  CHECK_FALSE(SlotMap::from_ranges({{0, 10, node("h", 1)}, {10, 20, node("i", 2)}}, err));
  CHECK(err.find("slot 10 twice") != std::string::npos);
  CHECK_FALSE(SlotMap::from_ranges({{0, 10, node("", 1)}}, err));
  CHECK_FALSE(SlotMap::from_ranges({{0, 10, node("h", 0)}}, err));
}

TEST_CASE("a MOVED reassigns one slot", "[cluster]") {
  SlotMap map = three_masters();
  map.assign(3999, node("127.0.0.1", 7003));
  CHECK(map.master_of(3999)->port == 7003);
  CHECK(map.master_of(3998)->port == 7000);
  CHECK(map.masters().size() == 4);
  map.assign(4000, node("127.0.0.1", 7001));
  CHECK(map.masters().size() == 4);
  CHECK(map.master_index(4000) == 1);
}

TEST_CASE("MOVED and ASK redirects are parsed", "[cluster]") {
  auto moved = parse_redirect("MOVED 3999 127.0.0.1:6381", "10.0.0.9");
  REQUIRE(moved);
  CHECK(moved->kind == Redirect::Kind::moved);
  CHECK(moved->slot == 3999);
  CHECK(moved->node.host == "127.0.0.1");
  CHECK(moved->node.port == 6381);

  auto ask = parse_redirect("ASK 3999 127.0.0.1:6381", "10.0.0.9");
  REQUIRE(ask);
  CHECK(ask->kind == Redirect::Kind::ask);
  CHECK(ask->slot == 3999);
  CHECK(ask->node.port == 6381);
}

TEST_CASE("a redirect without a host names the node that answered", "[cluster]") {
  auto r = parse_redirect("MOVED 12 :7005", "10.0.0.9");
  REQUIRE(r);
  CHECK(r->node.host == "10.0.0.9");
  CHECK(r->node.port == 7005);
}

TEST_CASE("IPv6 redirects split the port at the last colon", "[cluster]") {
  auto r = parse_redirect("MOVED 1 ::1:7000", "h");
  REQUIRE(r);
  CHECK(r->node.host == "::1");
  CHECK(r->node.port == 7000);
  auto b = parse_redirect("ASK 1 [fe80::1]:7000", "h");
  REQUIRE(b);
  CHECK(b->node.host == "fe80::1");
  CHECK(node_name(b->node) == "[fe80::1]:7000");
  CHECK(node_name(RedisNode{"127.0.0.1", 7000}) == "127.0.0.1:7000");
}

TEST_CASE("other errors and malformed redirects are not redirects", "[cluster]") {
  for (const char* text :
       {"ERR unknown command", "WRONGTYPE Operation against a key", "MOVED", "MOVED 3999",
        "MOVED 16384 127.0.0.1:6381", "MOVED -1 127.0.0.1:6381", "MOVED +1 127.0.0.1:6381",
        "MOVED 1 127.0.0.1", "MOVED 1 127.0.0.1:0", "MOVED 1 127.0.0.1:65536",
        "MOVED 1 127.0.0.1:6x", "ASK x 127.0.0.1:6381", "MOVED 1 a b:1", "MOVED 1 :1", "TRYAGAIN"}) {
    INFO(text);
    CHECK_FALSE(parse_redirect(text, ""));
  }
}
