// The encodings under every identity-provider token: base64url and strict
// JSON (shortcred/jose).
#include <catch2/catch.hpp>
#include <string>

#include "shortcred/jose/base64url.hpp"
#include "shortcred/jose/strict_json.hpp"

using namespace shortcred::jose;
using namespace std::string_literals;

TEST_CASE("base64url round-trips every length without padding", "[jose]") {
  std::string bytes;
  for (int i = 0; i < 70; ++i) {
    bytes.push_back(static_cast<char>(i * 37 + 250));
    const std::string enc = base64url_encode(bytes);
    CHECK(enc.find_first_of("=+/") == std::string::npos);
    const auto dec = base64url_decode(enc);
    REQUIRE(dec);
    CHECK(*dec == bytes);
  }
  CHECK(base64url_encode("\xfb\xff") == "-_8");
  CHECK(base64url_decode("")->empty());
}

TEST_CASE("base64url refuses every other spelling of the same bytes", "[jose]") {
  // Padding, the standard alphabet, whitespace, a length no byte string has,
  // and non-zero unused bits ("QR" decodes to the same byte as "QQ").
  for (const std::string& bad : {"QQ=="s, "QQ="s, "+/8"s, "ab/c"s, "QQ Q"s, "QQ\n"s, "Q"s, "QUJDR"s,
                                "QR"s, "QUJ"s, "Q\0Q"s}) {
    CAPTURE(bad);
    CHECK_FALSE(base64url_decode(bad));
  }
  CHECK(base64url_decode("QQ") == "A");
  CHECK(base64url_decode("QUI") == "AB");
  CHECK(base64url_decode("QUE") == "AA");
}

TEST_CASE("strict JSON refuses duplicate members, comments and leniencies", "[jose]") {
  Json::Value v;
  CHECK(parse_strict_json(R"({"alg":"RS256","kid":"a/b"})", v));
  CHECK(v["kid"].asString() == "a/b");
  for (const std::string bad :
       {R"({"alg":"RS256","alg":"none"})", R"({"a":1 /* c */})", R"({"a":1,})", "\xEF\xBB\xBF{}",
        R"({'a':1})", R"({"a":NaN})", R"({"a":1} x)", R"({"a":1}{})", "", "{", R"({1:2})"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_strict_json(bad, v));
  }
  CHECK_FALSE(parse_strict_json(std::string(100, '[') + std::string(100, ']'), v));  // too deep
}
