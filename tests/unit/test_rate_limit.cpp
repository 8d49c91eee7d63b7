// The per-org / per-user publish token bucket.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>

#include "shortcred/rate_limit.hpp"

using namespace shortcred;

namespace {

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr std::int64_t kMs = 1'000'000;

int take_all(TokenBucket& b, std::int64_t now) {
  int n = 0;
  while (b.try_take(now) && n < 1'000'000) ++n;
  return n;
}

}  // namespace

TEST_CASE("a new bucket starts full and allows its burst at once", "[rate]") {
  TokenBucket b(10, 5, 0);
  CHECK(take_all(b, 0) == 5);
  CHECK_FALSE(b.try_take(0));
}

TEST_CASE("an emptied bucket refills at its rate", "[rate]") {
  TokenBucket b(10, 5, 0);
  take_all(b, 0);
  CHECK_FALSE(b.try_take(99 * kMs));
  CHECK(b.try_take(100 * kMs));  // 10/s: one token per 100 ms
  CHECK_FALSE(b.try_take(100 * kMs));
  CHECK(take_all(b, 400 * kMs) == 3);
}

TEST_CASE("refill never exceeds the burst", "[rate]") {
  TokenBucket b(10, 5, 0);
  take_all(b, 0);
  CHECK(take_all(b, 3600 * kSecond) == 5);
}

TEST_CASE("fractional rates accumulate partial tokens", "[rate]") {
  TokenBucket b(0.5, 1, 0);  // one token every two seconds
  CHECK(b.try_take(0));
  CHECK_FALSE(b.try_take(1 * kSecond));
  CHECK_FALSE(b.try_take(1999 * kMs));
  CHECK(b.try_take(2 * kSecond));
}

TEST_CASE("a take of several tokens needs them all", "[rate]") {
  TokenBucket b(1, 4, 0);
  CHECK(b.try_take(0, 3));
  CHECK_FALSE(b.try_take(0, 2));
  CHECK(b.try_take(0, 1));
  CHECK(b.try_take(2 * kSecond, 2));
}

TEST_CASE("a non-positive rate means unlimited", "[rate]") {
  for (double rate : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN()}) {
    CAPTURE(rate);
    TokenBucket b(rate, 1, 0);
    CHECK(b.unlimited());
    CHECK(take_all(b, 0) == 1'000'000);
    CHECK(b.seconds_until(0, 1e9) == 0);
  }
  CHECK(TokenBucket().unlimited());
}

TEST_CASE("a non-positive burst defaults to max(1, rate)", "[rate]") {
  CHECK(TokenBucket(100, 0, 0).burst() == 100);
  CHECK(TokenBucket(0.2, 0, 0).burst() == 1);
  CHECK(TokenBucket(7, -3, 0).burst() == 7);
  TokenBucket b(3, 0, 0);
  CHECK(take_all(b, 0) == 3);
}

TEST_CASE("seconds_until reports the wait for the next tokens", "[rate]") {
  TokenBucket b(4, 2, 0);
  CHECK(b.seconds_until(0) == 0);
  take_all(b, 0);
  CHECK(b.seconds_until(0) == Approx(0.25));
  CHECK(b.seconds_until(0, 2) == Approx(0.5));
  CHECK(b.seconds_until(125 * kMs) == Approx(0.125));
  CHECK(b.seconds_until(250 * kMs) == 0);
  CHECK(std::isinf(b.seconds_until(250 * kMs, 3)));  // more than the burst: never
}

TEST_CASE("reconfigure keeps the fill, capped at the new burst", "[rate]") {
  TokenBucket b(10, 10, 0);
  CHECK(b.try_take(0, 4));  // 6 left
  SECTION("a larger burst does not add tokens") {
    b.reconfigure(10, 100, 0);
    CHECK(b.burst() == 100);
    CHECK(take_all(b, 0) == 6);
  }
  SECTION("a smaller burst caps the fill") {
    b.reconfigure(10, 2, 0);
    CHECK(take_all(b, 0) == 2);
  }
  SECTION("the new rate applies from now on") {
    take_all(b, 0);
    b.reconfigure(1, 10, 0);
    CHECK(b.rate() == 1);
    CHECK_FALSE(b.try_take(500 * kMs));
    CHECK(b.try_take(1 * kSecond));
  }
  SECTION("time before the change is credited at the old rate") {
    take_all(b, 0);
    b.reconfigure(1, 10, 500 * kMs);  // 5 tokens earned at 10/s
    CHECK(take_all(b, 500 * kMs) == 5);
  }
  SECTION("switching to unlimited and back starts full") {
    b.reconfigure(0, 0, 0);
    CHECK(b.unlimited());
    CHECK(b.try_take(0, 1e6));
    b.reconfigure(2, 3, 0);
    CHECK(take_all(b, 0) == 3);
  }
}

TEST_CASE("a clock going backwards neither credits nor stalls the bucket", "[rate]") {
  TokenBucket b(10, 5, 100 * kSecond);
  take_all(b, 100 * kSecond);
  CHECK_FALSE(b.try_take(50 * kSecond));  // no credit for negative time
  CHECK(b.seconds_until(50 * kSecond) == Approx(0.1));
  // Time moving forward again from the new reading refills as usual.
  CHECK(b.try_take(50 * kSecond + 100 * kMs));
}

TEST_CASE("extreme clock readings do not overflow", "[rate]") {
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  TokenBucket b(1, 2, kMin);
  take_all(b, kMin);
  CHECK(take_all(b, kMax) == 2);
  CHECK(take_all(b, kMin) == 0);
}
