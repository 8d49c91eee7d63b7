// Key → slot as the Redis Cluster specification defines it.
#include <catch2/catch.hpp>

#include "shortcred/cluster_slots.hpp"
#include "shortcred/schema.hpp"

using namespace shortcred;

TEST_CASE("CRC16 is XMODEM: the specification's test vector", "[cluster]") {
  CHECK(crc16_xmodem("123456789") == 0x31C3);
  CHECK(crc16_xmodem("") == 0);
}

TEST_CASE("slots are CRC16 modulo 16384", "[cluster]") {
  // Values from CLUSTER KEYSLOT of redis-server 7.0.
  CHECK(key_slot("foo") == 12182);
  CHECK(key_slot("bar") == 5061);
  CHECK(key_slot("123456789") == 0x31C3 % 16384);
}

TEST_CASE("a hash tag hashes only the part between the first { and the next }", "[cluster]") {
  CHECK(key_slot("{user1000}.following") == key_slot("{user1000}.followers"));
  CHECK(key_slot("{user1000}.following") == key_slot("user1000"));
  CHECK(hash_tag("foo{bar}{zap}") == "bar");
  CHECK(hash_tag("foo{{bar}}zap") == "{bar");
  CHECK(key_slot("foo{{bar}}zap") == key_slot("{bar"));
}

TEST_CASE("an empty or unclosed tag hashes the whole key", "[cluster]") {
  CHECK(hash_tag("foo{}{bar}") == "foo{}{bar}");
  CHECK(key_slot("foo{}{bar}") == crc16_xmodem("foo{}{bar}") % 16384);
  CHECK(hash_tag("foo{bar") == "foo{bar");
  CHECK(hash_tag("foo}bar{") == "foo}bar{");
  CHECK(hash_tag("plain") == "plain");
}

TEST_CASE("every key of one org shares the org's slot", "[cluster]") {
  const auto slot = key_slot("acme");
  CHECK(key_slot(org_key("shortcred:", "acme")) == slot);
  CHECK(key_slot(cred_key("shortcred:", "acme", "tok1")) == slot);
  CHECK(key_slot(user_index_key("shortcred:", "acme", "alice")) == slot);
  CHECK(key_slot(audit_key("shortcred:", "acme")) == slot);
  CHECK(key_slot(org_apikeys_key("shortcred:", "acme")) == slot);
}
