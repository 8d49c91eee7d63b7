#include "shortcred/redis/connection.hpp"

#include <sys/time.h>

#include <cerrno>
#include <cstring>

namespace shortcred::redis {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

template <class Range>
Reply command_range(redisContext* ctx, const Range& argv) {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  ptrs.reserve(argv.size());
  lens.reserve(argv.size());
  for (const auto& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  return Reply(static_cast<redisReply*>(
      redisCommandArgv(ctx, static_cast<int>(ptrs.size()), ptrs.data(), lens.data())));
}

template <class Range>
bool append_range(redisContext* ctx, const Range& argv) {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  for (const auto& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  return redisAppendCommandArgv(ctx, static_cast<int>(ptrs.size()), ptrs.data(), lens.data()) ==
         REDIS_OK;
}

}  // namespace

Connection Connection::open(const RedisEndpoint& ep, std::chrono::milliseconds timeout,
                            std::string& err) {
  // Interim, until redis/ carries TLS and Sentinel: refuse rather than talk
  // plaintext to a server the URL says is TLS-only.
  if (ep.kind != RedisEndpoint::Kind::single || ep.tls.enabled) {
    err = "cannot connect to " + ep.redacted() + ": this build speaks only redis:// and unix://";
    return {};
  }
  const timeval tv = to_timeval(timeout);
  redisContext* raw = ep.unix_path.empty()
                          ? redisConnectWithTimeout(ep.host.c_str(), ep.port, tv)
                          : redisConnectUnixWithTimeout(ep.unix_path.c_str(), tv);
  if (raw == nullptr) {
    err = "cannot allocate a Redis context";
    return {};
  }
  Connection c(raw);
  if (raw->err != 0) {
    err = "cannot connect to " + ep.redacted() + ": " + raw->errstr;
    return {};
  }
  redisSetTimeout(raw, tv);
  if (!ep.password.empty()) {
    Reply r = ep.username.empty() ? c.command({"AUTH", ep.password})
                                  : c.command({"AUTH", ep.username, ep.password});
    if (!is_status_ok(r)) {
      // The server's text ("WRONGPASS …") never echoes the password.
      err = "authentication to " + ep.redacted() + " failed: " +
            (r ? to_string(r.get()) : c.error());
      return {};
    }
  }
  if (ep.db != 0) {
    Reply r = c.command({"SELECT", std::to_string(ep.db)});
    if (!is_status_ok(r)) {
      err = "SELECT " + std::to_string(ep.db) + " on " + ep.redacted() + " failed: " +
            (r ? to_string(r.get()) : c.error());
      return {};
    }
  }
  return c;
}

std::string Connection::error() const {
  if (!ctx_) return "not connected";
  return ctx_->err != 0 ? std::string(ctx_->errstr) : std::string();
}

Reply Connection::command(std::initializer_list<std::string_view> argv) {
  if (!ok()) return nullptr;
  return command_range(ctx_.get(), argv);
}

Reply Connection::command(const std::vector<std::string>& argv) {
  if (!ok()) return nullptr;
  return command_range(ctx_.get(), argv);
}

bool Connection::append(std::initializer_list<std::string_view> argv) {
  return ok() && append_range(ctx_.get(), argv);
}

bool Connection::append(const std::vector<std::string>& argv) {
  return ok() && append_range(ctx_.get(), argv);
}

Reply Connection::read_reply() {
  if (!ok()) return nullptr;
  void* r = nullptr;
  if (redisGetReply(ctx_.get(), &r) != REDIS_OK) return nullptr;
  return Reply(static_cast<redisReply*>(r));
}

bool Connection::flush() {
  if (!ok()) return false;
  int done = 0;
  while (done == 0) {
    if (redisBufferWrite(ctx_.get(), &done) != REDIS_OK) return false;
  }
  return true;
}

// hiredis 0.14 has no REDIS_ERR_TIMEOUT: a command that ran into the socket
// timeout fails as an I/O error carrying the text of EAGAIN.
bool Connection::timed_out() const {
  return ctx_ && ctx_->err == REDIS_ERR_IO && std::string_view(ctx_->errstr) == std::strerror(EAGAIN);
}

bool is_error(const Reply& r) noexcept { return !r || r->type == REDIS_REPLY_ERROR; }

bool is_status_ok(const Reply& r) noexcept {
  return r && r->type == REDIS_REPLY_STATUS && std::string_view(r->str, r->len) == "OK";
}

std::vector<std::pair<std::string, std::string>> to_pairs(const redisReply* r) {
  std::vector<std::pair<std::string, std::string>> out;
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY) return out;
  out.reserve(r->elements / 2);
  for (size_t i = 0; i + 1 < r->elements; i += 2) {
    out.emplace_back(to_string(r->element[i]), to_string(r->element[i + 1]));
  }
  return out;
}

std::string to_string(const redisReply* r) {
  if (r == nullptr) return {};
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      return std::string(r->str, r->len);
    default:
      return {};
  }
}

}  // namespace shortcred::redis
