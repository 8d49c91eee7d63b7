#include "shortcred/jose/strict_json.hpp"

#include <json/reader.h>

#include <memory>
#include <stdexcept>

namespace shortcred::jose {
namespace {

// Every leniency jsoncpp offers is off and listed, so none depends on a
// library default.
const Json::CharReaderBuilder& strict_reader() {
  static const Json::CharReaderBuilder b = [] {
    Json::CharReaderBuilder r;
    r["collectComments"] = false;
    r["allowComments"] = false;
    r["allowTrailingCommas"] = false;
    r["strictRoot"] = false;
    r["allowDroppedNullPlaceholders"] = false;
    r["allowNumericKeys"] = false;
    r["allowSingleQuotes"] = false;
    r["stackLimit"] = 64;
    r["failIfExtra"] = true;
    r["rejectDupKeys"] = true;
    r["allowSpecialFloats"] = false;
    r["skipBom"] = false;
    Json::Value unknown;
    if (!r.validate(&unknown)) throw std::logic_error("jsoncpp rejects a reader setting");
    return r;
  }();
  return b;
}

// jsoncpp 1.9.5 skips a comment inside an object or array even with
// allowComments off. In JSON a '/' outside a string is never valid, so one
// such byte means a comment (or garbage): refuse it before parsing.
bool has_slash_outside_strings(std::string_view text) {
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '/') {
      return true;
    }
  }
  return false;
}

}  // namespace

JsonRefusal parse_strict_json_why(std::string_view text, Json::Value& out) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") return JsonRefusal::byte_order_mark;
  if (has_slash_outside_strings(text)) return JsonRefusal::comment;
  if (text.empty()) return JsonRefusal::malformed;
  std::unique_ptr<Json::CharReader> reader(strict_reader().newCharReader());
  std::string errs;
  try {
    return reader->parse(text.data(), text.data() + text.size(), &out, &errs)
               ? JsonRefusal::none
               : JsonRefusal::malformed;
  } catch (const Json::Exception&) {
    return JsonRefusal::malformed;  // nesting deeper than stackLimit throws instead of failing
  }
}

bool parse_strict_json(std::string_view text, Json::Value& out) {
  return parse_strict_json_why(text, out) == JsonRefusal::none;
}

}  // namespace shortcred::jose
