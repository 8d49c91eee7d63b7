// Which arguments of a command route it in a Redis Cluster.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "shortcred/command_keys.hpp"

using namespace shortcred;
using Argv = std::vector<std::string>;
using Positions = std::vector<std::size_t>;

TEST_CASE("most commands have their key at argv[1]", "[cluster]") {
  CHECK(key_positions({"HGETALL", "k"}) == Positions{1});
  CHECK(key_positions({"hset", "k", "f", "v"}) == Positions{1});
  CHECK(key_positions({"XADD", "s", "*", "f", "v"}) == Positions{1});
}

TEST_CASE("multi-key commands name every key", "[cluster]") {
  CHECK(key_positions({"DEL", "a", "b", "c"}) == Positions{1, 2, 3});
  CHECK(key_positions({"WATCH", "a", "b"}) == Positions{1, 2});
  CHECK(key_positions({"EXISTS", "a"}) == Positions{1});
  CHECK(key_positions({"MSET", "a", "1", "b", "2"}) == Positions{1, 3});
}

TEST_CASE("EVAL's keys follow numkeys", "[cluster]") {
  CHECK(key_positions({"EVAL", "return 1", "2", "a", "b", "argv1"}) == Positions{3, 4});
  CHECK(key_positions({"EVAL", "return 1", "0", "argv1"}).empty());
  CHECK(key_positions({"EVAL", "return 1", "x", "a"}).empty());
  CHECK(key_positions({"EVAL", "return 1", "5", "a"}) == Positions{3});
}

TEST_CASE("XREAD's keys are the first half after STREAMS", "[cluster]") {
  CHECK(key_positions({"XREAD", "BLOCK", "100", "STREAMS", "s1", "s2", "0", "0"}) ==
        Positions{4, 5});
  CHECK(key_positions({"XREAD", "COUNT", "1", "streams", "s", "$"}) == Positions{4});
}

TEST_CASE("keyless commands go to any node", "[cluster]") {
  for (const Argv& argv : {Argv{"MULTI"}, Argv{"EXEC"}, Argv{"PING"}, Argv{"PUBLISH", "ch", "m"},
                           Argv{"SCAN", "0"}, Argv{"INFO", "stats"}, Argv{"UNWATCH"}}) {
    INFO(argv.front());
    CHECK(key_positions(argv).empty());
  }
}

TEST_CASE("a SCAN whose pattern has a literal hash tag names the tag", "[cluster]") {
  CHECK(scan_match_tag({"SCAN", "0", "MATCH", "shortcred:{acme}:cred:*", "COUNT", "10"}) ==
        "acme");
  CHECK(scan_match_tag({"SCAN", "0", "COUNT", "10", "match", "p:{o}*"}) == "o");
  CHECK_FALSE(scan_match_tag({"SCAN", "0", "MATCH", "shortcred:{*}:org"}));
  CHECK_FALSE(scan_match_tag({"SCAN", "0", "MATCH", "*{acme}:x"}));
  CHECK_FALSE(scan_match_tag({"SCAN", "0", "MATCH", "p:{a\\*b}:x"}));
  CHECK_FALSE(scan_match_tag({"SCAN", "0", "MATCH", "p:{}:x"}));
  CHECK_FALSE(scan_match_tag({"SCAN", "0", "MATCH", "plain*"}));
  CHECK_FALSE(scan_match_tag({"SCAN", "0"}));
}
