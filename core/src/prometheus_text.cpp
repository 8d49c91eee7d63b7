#include "shortcred/prometheus_text.hpp"

#include <cmath>
#include <cstdio>

namespace shortcred {
namespace {

void append_escaped(std::string& out, std::string_view s, bool quote) {
  for (const char ch : s) {
    if (ch == '\\') {
      out += "\\\\";
    } else if (ch == '\n') {
      out += "\\n";
    } else if (quote && ch == '"') {
      out += "\\\"";
    } else {
      out += ch;
    }
  }
}

}  // namespace

void PrometheusText::family(std::string_view name, std::string_view type, std::string_view help) {
  text_ += "# HELP ";
  text_ += name;
  text_ += ' ';
  append_escaped(text_, help, false);
  text_ += "\n# TYPE ";
  text_ += name;
  text_ += ' ';
  text_ += type;
  text_ += '\n';
}

void PrometheusText::series(std::string_view name, std::initializer_list<MetricLabel> labels) {
  text_ += name;
  if (labels.size() > 0) {
    char sep = '{';
    for (const MetricLabel& l : labels) {
      text_ += sep;
      text_ += l.name;
      text_ += "=\"";
      append_escaped(text_, l.value, true);
      text_ += '"';
      sep = ',';
    }
    text_ += '}';
  }
  text_ += ' ';
}

void PrometheusText::sample(std::string_view name, std::initializer_list<MetricLabel> labels,
                            std::uint64_t value) {
  series(name, labels);
  text_ += std::to_string(value);
  text_ += '\n';
}

void PrometheusText::sample(std::string_view name, std::initializer_list<MetricLabel> labels,
                            double value) {
  series(name, labels);
  if (std::isnan(value)) {
    text_ += "NaN";
  } else if (std::isinf(value)) {
    text_ += value > 0 ? "+Inf" : "-Inf";
  } else {
    char num[32];
    std::snprintf(num, sizeof num, "%.17g", value);
    text_ += num;
  }
  text_ += '\n';
}

}  // namespace shortcred
