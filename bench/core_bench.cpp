// Per-message cost of the compiled policy: the path every PUBLISH and every
// delivery takes in the broker. A counting global operator new proves the
// checks allocate nothing; each benchmark reports `allocs/check`, which must
// stay 0 (a non-zero value fails the run).
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "shortcred/policy.hpp"
#include "shortcred/rules.hpp"

namespace {

std::atomic<std::size_t> g_allocations{0};

}  // namespace

// Neither side is inlined: GCC 12 otherwise pairs the inlined `malloc` or
// `free` with the other side's operator and warns (-Wmismatched-new-delete),
// though the replacement pair does match.
[[gnu::noinline]] void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept {
  std::free(p);
}
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace {

using shortcred::Policy;
using shortcred::Rule;

constexpr std::int64_t kNow = 1'700'000'000'000;
constexpr std::int64_t kExpiry = kNow + 3'600'000;

std::vector<Rule> parse(const std::string& file) {
  std::vector<Rule> rules;
  std::vector<shortcred::RuleError> errors;
  if (!shortcred::parse_rule_file(file, rules, errors)) std::abort();
  return rules;
}

// A realistic session: 4 templates (a deny first, so every check scans past
// it) and a 2-rule scope, all with placeholders.
const Policy& session() {
  static const std::vector<Rule> templates = parse(
      "deny %o/shared/admin/#\n"
      "readwrite %o/users/%u/#\n"
      "read %o/shared/# max_qos=1\n"
      "write %o/telemetry/%c/+ retain=false\n");
  static const std::vector<Rule> scope = parse(
      "readwrite %o/users/%u/devices/+\n"
      "read %o/shared/+/announcements\n");
  static const Policy policy(templates, &scope,
                             {"org_k7xm4pqr2n5t", "alice@example.com", "sensor-0042"}, kExpiry);
  return policy;
}

// Set when a benchmark reports an error, so the process exits non-zero
// (Google Benchmark itself exits 0 after SkipWithError).
bool g_failed = false;

void fail(benchmark::State& state, const char* why) {
  g_failed = true;
  state.SkipWithError(why);
}

// Runs `check` in the timed loop and reports allocations per check.
template <class Check>
void measure(benchmark::State& state, bool expect_allowed, Check check) {
  if (check().allowed != expect_allowed) {
    fail(state, "unexpected decision");
    return;
  }
  const std::size_t before = g_allocations.load(std::memory_order_relaxed);
  for (auto _ : state) benchmark::DoNotOptimize(check());
  const std::size_t allocations = g_allocations.load(std::memory_order_relaxed) - before;
  state.counters["allocs/check"] =
      benchmark::Counter(static_cast<double>(allocations), benchmark::Counter::kAvgIterations);
  if (allocations != 0) fail(state, "a check allocated");
}

// 5-level topics. Allowed by template 1, then scope rule 0:
constexpr std::string_view kOwnTopic = "org_k7xm4pqr2n5t/users/alice@example.com/devices/42";
// Refused after scanning every template (no rule applies):
constexpr std::string_view kOtherTopic = "org_k7xm4pqr2n5t/users/bob@example.com/devices/42";
// Refused by the leading template deny:
constexpr std::string_view kAdminTopic = "org_k7xm4pqr2n5t/shared/admin/keys/rotate";

void BM_PublishAllowed(benchmark::State& state) {
  measure(state, true, [] { return session().check_publish(kOwnTopic, 1, false, kNow); });
}
void BM_PublishDenied(benchmark::State& state) {
  measure(state, false, [] { return session().check_publish(kOtherTopic, 1, false, kNow); });
}
void BM_DeliverAllowed(benchmark::State& state) {
  measure(state, true, [] { return session().check_deliver(kOwnTopic, kNow); });
}
void BM_DeliverDenied(benchmark::State& state) {
  measure(state, false, [] { return session().check_deliver(kAdminTopic, kNow); });
}
// The plugin's path: topic names Mosquitto has already validated.
constexpr auto kTrusted = shortcred::TopicTrust::broker_validated;
void BM_PublishAllowedBrokerValidated(benchmark::State& state) {
  measure(state, true, [] { return session().check_publish(kOwnTopic, 1, false, kNow, kTrusted); });
}
void BM_DeliverAllowedBrokerValidated(benchmark::State& state) {
  measure(state, true, [] { return session().check_deliver(kOwnTopic, kNow, kTrusted); });
}
void BM_SubscribeShared(benchmark::State& state) {
  measure(state, true, [] {
    return session().check_subscribe("$share/g/org_k7xm4pqr2n5t/shared/+/announcements", 1, kNow);
  });
}

}  // namespace

BENCHMARK(BM_PublishAllowed);
BENCHMARK(BM_PublishDenied);
BENCHMARK(BM_DeliverAllowed);
BENCHMARK(BM_DeliverDenied);
BENCHMARK(BM_PublishAllowedBrokerValidated);
BENCHMARK(BM_DeliverAllowedBrokerValidated);
BENCHMARK(BM_SubscribeShared);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return g_failed ? 1 : 0;
}
