// Fuzzes the topic matcher with three strings (filter A, filter B, topic)
// separated by LF, and checks the algebra the ACL relies on:
//   - validation never crashes and matching only runs on valid inputs;
//   - a valid filter is within itself, and a valid topic (as a filter) too;
//   - filter_within(a, b) && topic_matches(a, t)  =>  topic_matches(b, t);
//   - filter_within is transitive on what we can observe;
//   - a topic is within a filter exactly when the filter matches it;
//   - strip_shared output is a suffix of its input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "shortcred/topic.hpp"

namespace {

using shortcred::Errc;

// Aborts with a libFuzzer-visible crash when an invariant fails.
void require(bool ok) {
  if (!ok) std::abort();
}

std::string_view next_part(std::string_view& in) {
  const std::size_t nl = in.find('\n');
  const std::string_view part = in.substr(0, nl);
  in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  return part;
}

void check_topic(std::string_view topic) {
  if (shortcred::validate_topic(topic) != Errc::ok) return;
  // A valid topic name is also a valid filter that matches only itself,
  // unless it is a `$share` name, which validate_filter refuses on purpose.
  if (shortcred::validate_filter(topic) != Errc::ok) return;
  require(shortcred::topic_matches(topic, topic));
  require(shortcred::filter_within(topic, topic));
}

void check_filters(std::string_view a, std::string_view b, std::string_view t) {
  const bool a_ok = shortcred::validate_filter(a) == Errc::ok;
  const bool b_ok = shortcred::validate_filter(b) == Errc::ok;
  const bool t_ok = shortcred::validate_topic(t) == Errc::ok;
  if (a_ok) require(shortcred::filter_within(a, a));
  if (a_ok && t_ok && shortcred::validate_filter(t) == Errc::ok) {
    require(shortcred::filter_within(t, a) == shortcred::topic_matches(a, t));
  }
  if (!(a_ok && b_ok)) return;
  const bool within = shortcred::filter_within(a, b);
  if (t_ok && within && shortcred::topic_matches(a, t)) require(shortcred::topic_matches(b, t));
  if (within && t_ok && shortcred::validate_filter(t) == Errc::ok &&
      shortcred::filter_within(b, t)) {
    require(shortcred::filter_within(a, t));  // transitive
  }
}

void check_shared(std::string_view raw) {
  std::string_view filter;
  if (shortcred::strip_shared(raw, filter) != Errc::ok) return;
  require(!filter.empty() || raw.empty());
  require(raw.size() >= filter.size() && raw.substr(raw.size() - filter.size()) == filter);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::string_view a = next_part(in);
  const std::string_view b = next_part(in);
  const std::string_view t = next_part(in);
  check_topic(a);
  check_topic(t);
  check_filters(a, b, t);
  check_shared(a);
  return 0;
}
