// The Prometheus text exposition format, version 0.0.4: a family is a
// `# HELP` and a `# TYPE` line followed by its samples,
//
//   # HELP shortcred_broker_kicks_total Clients disconnected by the plugin.
//   # TYPE shortcred_broker_kicks_total counter
//   shortcred_broker_kicks_total{reason="expired"} 3
//
// HELP text escapes `\` and newline; label values escape `\`, `"` and
// newline. Metric and label names are the caller's constants, not escaped.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace shortcred {

struct MetricLabel {
  std::string_view name;
  std::string_view value;
};

class PrometheusText {
 public:
  // `type`: counter, gauge, histogram, untyped.
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, std::initializer_list<MetricLabel> labels,
              std::uint64_t value);
  void sample(std::string_view name, std::initializer_list<MetricLabel> labels, double value);

  const std::string& text() const noexcept { return text_; }

 private:
  void series(std::string_view name, std::initializer_list<MetricLabel> labels);
  std::string text_;
};

}  // namespace shortcred
