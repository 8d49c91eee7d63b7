#include <catch2/catch.hpp>

#include "shortcred/client_owner.hpp"

using namespace shortcred;

TEST_CASE("a client id's owner key and value round-trip", "[client_owner]") {
  CHECK(client_owner_key("shortcred:", "app/1") == "shortcred:clientid:app/1");
  const std::string v = encode_client_owner("org_a", "alice@example.com");
  CHECK(v == "org_a\nalice@example.com");
  const auto o = parse_client_owner(v);
  REQUIRE(o);
  CHECK(o->org == "org_a");
  CHECK(o->user == "alice@example.com");
}

TEST_CASE("an owner value that is not an org and a user on two lines is rejected", "[client_owner]") {
  for (const char* bad : {"", "org_a", "\nalice", "org_a\n", "a\nb\nc"}) {
    INFO(bad);
    CHECK_FALSE(parse_client_owner(bad));
  }
}
