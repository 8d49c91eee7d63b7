// Identifiers of DESIGN.md "Identifiers and secrets".
#include <catch2/catch.hpp>
#include <string>

#include "shortcred/errc.hpp"
#include "shortcred/ids.hpp"

using namespace shortcred;
using namespace std::string_literals;

namespace {

// One byte `c` at the start, middle and end of an otherwise valid id.
std::string with_byte(char c) {
  return "ab"s + c + "cd";
}

}  // namespace

TEST_CASE("org ids are 1 to 64 chars of [A-Za-z0-9_-]", "[ids]") {
  struct Case {
    std::string org;
    Errc expected;
  };
  const Case cases[] = {
      {"org_k7xm4pqr2n5t", Errc::ok},   {"A", Errc::ok},   {"Acme-Corp_2", Errc::ok},
      {std::string(64, 'a'), Errc::ok}, {"", Errc::empty}, {std::string(65, 'a'), Errc::too_long},
  };
  for (const auto& c : cases) {
    CAPTURE(c.org.size());
    CHECK(validate_org_id(c.org) == c.expected);
  }
}

TEST_CASE("org ids refuse every byte outside their alphabet", "[ids]") {
  // Separators, MQTT wildcards, Redis hash-tag braces, whitespace, control
  // bytes and anything non-ASCII.
  const std::string forbidden = "@.:/+#${} \t\n\r\x7f\x80\xff"s + '\0' + '\x01';
  for (char c : forbidden) {
    CAPTURE(static_cast<int>(static_cast<unsigned char>(c)));
    CHECK(validate_org_id(with_byte(c)) == Errc::bad_char);
  }
}

TEST_CASE("user ids are 1 to 128 bytes of [A-Za-z0-9._:@-]", "[ids]") {
  struct Case {
    std::string user;
    Errc expected;
  };
  const Case cases[] = {
      {"alice", Errc::ok},       {"alice@example.com", Errc::ok},
      {"urn:user:42", Errc::ok}, {"a.b_c-d:e@f", Errc::ok},
      {"7", Errc::ok},           {std::string(128, 'u'), Errc::ok},
      {"", Errc::empty},         {std::string(129, 'u'), Errc::too_long},
  };
  for (const auto& c : cases) {
    CAPTURE(c.user.size());
    CHECK(validate_user_id(c.user) == c.expected);
  }
}

TEST_CASE("user ids refuse topic wildcards, separators, spaces, control and non-ASCII bytes",
          "[ids]") {
  const std::string forbidden = "/+#$ {}%*?\"'\\\t\n\r\x7f\x80\xc3\xa9\xff"s + '\0' + '\x1f';
  for (char c : forbidden) {
    CAPTURE(static_cast<int>(static_cast<unsigned char>(c)));
    CHECK(validate_user_id(with_byte(c)) == Errc::bad_char);
  }
}

TEST_CASE("the length check applies before the alphabet", "[ids]") {
  CHECK(validate_org_id(std::string(65, '/')) == Errc::too_long);
  CHECK(validate_user_id(std::string(129, '/')) == Errc::too_long);
}

TEST_CASE("usernames split on the last @", "[ids]") {
  struct Case {
    std::string username, user, org;
  };
  const Case cases[] = {
      {"alice@org_x", "alice", "org_x"},
      {"alice@example.com@org_x", "alice@example.com", "org_x"},
      {"a@b@c@d", "a@b@c", "d"},
      {std::string(128, 'u') + "@" + std::string(64, 'o'), std::string(128, 'u'),
       std::string(64, 'o')},
  };
  for (const auto& c : cases) {
    Username out;
    CAPTURE(c.username);
    REQUIRE(parse_username(c.username, out) == Errc::ok);
    CHECK(out.user == c.user);
    CHECK(out.org == c.org);
  }
}

TEST_CASE("usernames without a valid user and org half are refused", "[ids]") {
  struct Case {
    std::string username;
    Errc expected;
  };
  const Case cases[] = {
      {"", Errc::bad_format},
      {"alice", Errc::bad_format},
      {"@org_x", Errc::empty},
      {"alice@", Errc::empty},
      {"@", Errc::empty},
      {"alice@org.x", Errc::bad_char},  // `.` is fine in users, not in orgs
      {"al ice@org_x", Errc::bad_char},
      {"alice/#@org_x", Errc::bad_char},
      {"alice@org_x ", Errc::bad_char},
      {std::string(129, 'u') + "@org_x", Errc::too_long},
      {"alice@" + std::string(65, 'o'), Errc::too_long},
  };
  for (const auto& c : cases) {
    CAPTURE(c.username);
    Username out{"untouched", "untouched"};
    CHECK(parse_username(c.username, out) == c.expected);
    CHECK(out.user == "untouched");
    CHECK(out.org == "untouched");
  }
}

TEST_CASE("error descriptions are short phrases that never quote the value", "[ids][errc]") {
  CHECK(describe(Errc::empty) == "is empty");
  CHECK(describe(Errc::too_long) == "is longer than allowed");
  CHECK(describe(Errc::bad_char) == "contains a character outside the allowed set");
  for (int e = 0; e <= static_cast<int>(Errc::bad_url); ++e) {
    CAPTURE(e);
    CHECK_FALSE(describe(static_cast<Errc>(e)).empty());
  }
}
