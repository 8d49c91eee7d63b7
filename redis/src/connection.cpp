#include "shortcred/redis/connection.hpp"

#include "sentinel_discovery.hpp"
#include "shortcred/redis/sentinel.hpp"
#include "shortcred/redis/transport.hpp"


namespace shortcred::redis {
namespace {

struct ReaderDeleter {
  void operator()(redisReader* r) const noexcept { redisReaderFree(r); }
};

constexpr std::size_t kReadChunk = 16 * 1024;

// Replies by which a server says it is no longer the master Sentinel named:
// a demoted master (READONLY) or one cut off from its replicas (MASTERDOWN).
bool master_gone(const redisReply* r) {
  if (r->type != REDIS_REPLY_ERROR) return false;
  const std::string_view text(r->str, r->len);
  return text.starts_with("READONLY") || text.starts_with("MASTERDOWN");
}

}  // namespace

struct Connection::State {
  std::unique_ptr<Transport> transport;
  std::unique_ptr<redisReader, ReaderDeleter> reader{redisReaderCreate()};
  std::string queued;  // formatted commands not yet sent
  std::string error;   // set once; the connection is dead from then on
  bool timed_out = false;
  bool follows_sentinel = false;
  std::uint64_t generation = 0;  // sentinel_generation() when the master was found

  void fail(std::string why, bool timeout = false) {
    if (!error.empty()) return;
    error = std::move(why);
    timed_out = timeout;
    // Any lost connection to a Sentinel master may be the failover starting:
    // every connection of this process rediscovers (a timeout is not: one
    // slow command must not cost every connection a reconnect).
    if (follows_sentinel && !timeout) note_master_lost();
  }
};

Connection::Connection() = default;
Connection::~Connection() = default;
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::Connection(std::unique_ptr<State> s) : s_(std::move(s)) {}

Connection Connection::open(const RedisEndpoint& ep, std::chrono::milliseconds timeout,
                            std::string& err) {
  if (ep.kind == RedisEndpoint::Kind::sentinel) {
    // Read before asking: a switch announced during discovery makes this
    // connection stale at once rather than never.
    const std::uint64_t generation = sentinel_generation();
    Connection c = discover_master(ep, timeout, err);
    if (c.s_) {
      c.s_->follows_sentinel = true;
      c.s_->generation = generation;
    }
    return c;
  }
  if (ep.kind == RedisEndpoint::Kind::cluster) {
    std::string reasons;
    for (const RedisNode& n : ep.nodes) {
      std::string e;
      Connection c = open(ep.at(n), timeout, e);
      if (c.ok()) return c;
      reasons += (reasons.empty() ? "" : "; ") + e;
    }
    err = "no seed of " + ep.redacted() + " answered: " + reasons;
    return {};
  }

  auto state = std::make_unique<State>();
  if (!state->reader) {
    err = "cannot allocate a Redis reply reader";
    return {};
  }
  state->transport = Transport::open(ep, timeout, err);
  if (!state->transport) return {};
  Connection c(std::move(state));
  const std::string where = ep.unix_path.empty() ? ep.at({ep.host, ep.port}).redacted()
                                                 : ep.redacted();
  bool asked = false;
  if (!ep.password.empty()) {
    asked = true;
    Reply r = ep.username.empty() ? c.command({"AUTH", ep.password})
                                  : c.command({"AUTH", ep.username, ep.password});
    if (!is_status_ok(r)) {
      // The server's text ("WRONGPASS …") never echoes the password.
      err = "authentication to " + where + " failed: " + (r ? to_string(r.get()) : c.error());
      return {};
    }
  }
  if (ep.db != 0) {
    asked = true;
    Reply r = c.command({"SELECT", std::to_string(ep.db)});
    if (!is_status_ok(r)) {
      err = "SELECT " + std::to_string(ep.db) + " on " + where + " failed: " +
            (r ? to_string(r.get()) : c.error());
      return {};
    }
  }
  // Under TLS 1.3 a server that refuses our certificate (or its absence)
  // says so only after the handshake: one PING makes that an open() error.
  if (ep.tls.enabled && !asked) {
    Reply r = c.command({"PING"});
    if (!r || r->type == REDIS_REPLY_ERROR) {
      err = "TLS session with " + where + " failed: " + (r ? to_string(r.get()) : c.error());
      return {};
    }
  }
  return c;
}

bool Connection::ok() const noexcept {
  return s_ && s_->error.empty() &&
         (!s_->follows_sentinel || s_->generation == sentinel_generation());
}

std::string Connection::error() const {
  if (!s_) return "not connected";
  if (!s_->error.empty()) return s_->error;
  if (!ok()) return "the Sentinel master changed: rediscovering";
  return {};
}

bool Connection::timed_out() const noexcept { return s_ && s_->timed_out; }

int Connection::fd() const noexcept { return s_ && s_->transport ? s_->transport->fd() : -1; }

namespace {

template <class Range>
bool format_into(std::string& out, const Range& argv) {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  ptrs.reserve(argv.size());
  lens.reserve(argv.size());
  for (const auto& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  char* cmd = nullptr;
  const int len = redisFormatCommandArgv(&cmd, static_cast<int>(ptrs.size()), ptrs.data(),
                                         lens.data());
  if (len < 0) return false;
  out.append(cmd, static_cast<std::size_t>(len));
  redisFreeCommand(cmd);
  return true;
}

}  // namespace

bool Connection::append(std::initializer_list<std::string_view> argv) {
  if (!ok()) return false;
  if (!format_into(s_->queued, argv)) s_->fail("cannot format a command (out of memory)");
  return ok();
}

bool Connection::append(const std::vector<std::string>& argv) {
  if (!ok()) return false;
  if (!format_into(s_->queued, argv)) s_->fail("cannot format a command (out of memory)");
  return ok();
}

Reply Connection::command(std::initializer_list<std::string_view> argv) {
  return append(argv) ? read_reply() : nullptr;
}

Reply Connection::command(const std::vector<std::string>& argv) {
  return append(argv) ? read_reply() : nullptr;
}

bool Connection::send_pending() {
  if (s_->queued.empty()) return true;
  if (!s_->transport->send(s_->queued)) {
    s_->fail(s_->transport->error(), s_->transport->failure() == Transport::Failure::timeout);
    return false;
  }
  s_->queued.clear();
  return true;
}

Reply Connection::read_reply() {
  if (!ok() || !send_pending()) return nullptr;
  char buf[kReadChunk];
  while (true) {
    void* raw = nullptr;
    if (redisReaderGetReply(s_->reader.get(), &raw) != REDIS_OK) {
      s_->fail(std::string("protocol error: ") + s_->reader->errstr);
      return nullptr;
    }
    if (raw != nullptr) {
      Reply r(static_cast<redisReply*>(raw));
      if (s_->follows_sentinel && master_gone(r.get())) {
        s_->fail("the server is no longer the master (" + to_string(r.get()).substr(0, 10) +
                 "): rediscovering");
      }
      return r;
    }
    const std::size_t n = s_->transport->receive(buf, sizeof(buf));
    if (n == 0) {
      s_->fail(s_->transport->error(), s_->transport->failure() == Transport::Failure::timeout);
      return nullptr;
    }
    redisReaderFeed(s_->reader.get(), buf, n);
  }
}

Reply Connection::read_ready() {
  if (!ok() || !send_pending()) return nullptr;
  char buf[kReadChunk];
  while (true) {
    void* raw = nullptr;
    if (redisReaderGetReply(s_->reader.get(), &raw) != REDIS_OK) {
      s_->fail(std::string("protocol error: ") + s_->reader->errstr);
      return nullptr;
    }
    if (raw != nullptr) return Reply(static_cast<redisReply*>(raw));
    const std::size_t n = s_->transport->receive_ready(buf, sizeof(buf));
    if (n == 0) {
      if (s_->transport->failure() != Transport::Failure::none) s_->fail(s_->transport->error());
      return nullptr;
    }
    redisReaderFeed(s_->reader.get(), buf, n);
  }
}

bool Connection::flush() { return ok() && send_pending(); }

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
