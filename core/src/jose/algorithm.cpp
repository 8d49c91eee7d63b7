#include "shortcred/jose/algorithm.hpp"

#include <array>

namespace shortcred::jose {
namespace {

constexpr std::array<std::string_view, kAlgCount> kNames = {
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<Alg> parse_alg(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<Alg>(i);
  }
  return std::nullopt;
}

std::string_view alg_name(Alg a) noexcept { return kNames[static_cast<std::size_t>(a)]; }

AlgSet AlgSet::defaults() noexcept {
  AlgSet s;
  s.add(Alg::RS256);
  s.add(Alg::ES256);
  return s;
}

std::string AlgSet::to_string() const {
  std::string out;
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (!has(static_cast<Alg>(i))) continue;
    if (!out.empty()) out += ',';
    out += kNames[i];
  }
  return out;
}

bool parse_alg_list(std::string_view text, AlgSet& out, std::string& error) {
  AlgSet set;
  std::size_t pos = 0;
  for (;;) {
    const auto comma = text.find(',', pos);
    const std::string_view name = trim(text.substr(pos, comma - pos));
    if (name.empty()) {
      error = "algorithms has an empty entry; expected a comma-separated list such as RS256,ES256";
      return false;
    }
    if (name == "none" || (name.size() >= 2 && (name.substr(0, 2) == "HS" || name.substr(0, 2) == "hs"))) {
      error = "algorithms: " + std::string(name.substr(0, 16)) +
              " is never accepted (a provider signs with a private key; none and HMAC prove nothing)";
      return false;
    }
    const auto alg = parse_alg(name);
    if (!alg) {
      error = "algorithms: unknown algorithm '" + std::string(name.substr(0, 16)) +
              "'; allowed: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA";
      return false;
    }
    set.add(*alg);
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  out = set;
  return true;
}

}  // namespace shortcred::jose
