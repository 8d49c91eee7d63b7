#include "shortcred/redis/script.hpp"

namespace shortcred::redis {
namespace {

bool is_noscript(const Reply& r) {
  return r && r->type == REDIS_REPLY_ERROR && std::string_view(r->str, r->len).starts_with("NOSCRIPT");
}

}  // namespace

Reply Script::load(Client& c) {
  Reply r = c.command({"SCRIPT", "LOAD", body_});
  if (r && r->type == REDIS_REPLY_STRING) {
    sha_.assign(r->str, r->len);
    ++loads_;
  }
  return r;
}

Reply Script::run(Client& c, const std::vector<std::string>& keys,
                  const std::vector<std::string>& args) {
  if (sha_.empty()) {
    Reply l = load(c);
    if (!l || l->type != REDIS_REPLY_STRING) return l;
  }
  std::vector<std::string> argv{"EVALSHA", sha_, std::to_string(keys.size())};
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  Reply r = c.command(argv);
  if (!is_noscript(r)) return r;
  Reply l = load(c);
  if (!l || l->type != REDIS_REPLY_STRING) return l;
  argv[1] = sha_;
  r = c.command(argv);
  if (!is_noscript(r)) return r;
  argv[0] = "EVAL";
  argv[1] = body_;
  ++loads_;
  return c.command(argv);
}

}  // namespace shortcred::redis
