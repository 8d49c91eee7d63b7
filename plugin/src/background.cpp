#include "background.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>

#include "shortcred/redis/client.hpp"

namespace shortcred::plugin {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kIoTimeout = std::chrono::milliseconds(1000);
constexpr auto kPoll = std::chrono::milliseconds(100);
// A breaker probe asks one key; a server that takes longer is not back.
constexpr auto kProbeTimeout = std::chrono::milliseconds(300);
// A subscription that has heard nothing for this long is sent a PING: a
// Redis that froze, or a connection that died without a reset (a host gone,
// a partition), would otherwise go unnoticed — the background view of the
// breaker would stay "up" and revocations published meanwhile would be
// missed. No answer within kIoTimeout counts as a lost connection.
constexpr auto kQuietPing = std::chrono::seconds(2);

std::int64_t wall_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Parses every reply already received into `e`, counting them in `heard` (a
// PING's answer included); false if the connection failed.
bool drain(redis::Connection& sub, const std::string& channel, BackgroundEvents& e,
           std::size_t& heard) {
  while (redis::Reply r = sub.read_ready()) {
    ++heard;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) continue;
    if (redis::to_string(r->element[0]) != "message") continue;
    if (auto rev = parse_revocation(redis::to_string(r->element[2]))) {
      e.revocations.push_back(std::move(*rev));
    } else {
      e.logs.emplace_back(1, "shortcred: ignoring malformed message on " + channel);
    }
  }
  return sub.ok();
}

// Queues a PING on the subscriber and writes it out (a few bytes: one write).
bool send_ping(redis::Connection& sub) { return sub.append({"PING"}) && sub.flush(); }

}  // namespace

Background::Background(RedisEndpoint ep, std::string prefix, int presence_interval_s)
    : ep_(std::move(ep)),
      prefix_(std::move(prefix)),
      leaser_(ep_, prefix_),
      nudge_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (presence_interval_s > 0) {
    presence_ = std::make_unique<PresenceWriter>(ep_, prefix_, presence_interval_s);
  }
}

Background::~Background() {
  stop();
  if (nudge_fd_ >= 0) ::close(nudge_fd_);
}

void Background::nudge() {
  if (nudge_fd_ < 0) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(nudge_fd_, &one, sizeof one);
}

void Background::set_broker_id(const std::string& id) {
  if (presence_) presence_->set_broker_id(id);
  leaser_.set_broker_id(id);
}

void Background::post_join(std::string org, std::string user, std::string client_id,
                           std::string json) {
  if (!presence_) return;
  presence_->joined(std::move(org), std::move(user), std::move(client_id), std::move(json));
  nudge();
}

void Background::post_leave(std::string org, std::string user, std::string client_id) {
  if (!presence_) return;
  presence_->left(std::move(org), std::move(user), std::move(client_id));
  nudge();
}

void Background::post_lease(LeaseRequest r) {
  leaser_.post(std::move(r));
  nudge();
}

int Background::wait(int fd, short& revents) {
  pollfd p[2] = {{fd, POLLIN, 0}, {nudge_fd_, POLLIN, 0}};
  const int n = ::poll(p, nudge_fd_ >= 0 ? 2 : 1, static_cast<int>(kPoll.count()));
  if (n > 0 && nudge_fd_ >= 0 && (p[1].revents & POLLIN) != 0) {
    std::uint64_t v = 0;
    [[maybe_unused]] const ssize_t r = ::read(nudge_fd_, &v, sizeof v);
  }
  revents = n > 0 ? p[0].revents : 0;
  return revents;
}

void Background::presence_and_leases() {
  BackgroundEvents e;
  std::string presence_error, lease_error;
  if (presence_) presence_->run_due(wall_now_ms(), e.presence, presence_error);
  leaser_.run_due(e.leases, e.lease, lease_error);
  for (std::string* text : {&presence_error, &lease_error}) {
    if (!text->empty()) e.logs.emplace_back(1, "shortcred: " + *text);
  }
  e.redis_errors += e.presence.errors + e.lease.errors;
  if (!e.empty()) push(std::move(e));
}

void Background::start() {
  stop_ = false;
  thread_ = std::thread([this] { run(); });
  if (ep_.kind == RedisEndpoint::Kind::sentinel) {
    // On the watcher's thread: only hands the news on. The generation it
    // moved already makes every connection of the plugin rediscover; here
    // the subscriber reconnects at once, the CONNECT breaker gets its hint
    // and live sessions are revalidated (a revocation published to the old
    // master during the failover may be lost).
    watcher_ = std::make_unique<redis::SwitchMasterWatcher>(ep_, [this](const std::string& what) {
      switched_ = true;
      BackgroundEvents e;
      e.logs.emplace_back(0, "shortcred: Sentinel +switch-master " + what + "; rediscovering");
      e.redis_up_again = true;
      push(std::move(e));
      std::lock_guard lock(mu_);
      have_snapshot_ = have_snapshot_ || !snap_tokens_.empty();
    });
  }
}

void Background::stop() {
  watcher_.reset();
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  // Owner records posted at the end (the broker's last disconnects, before a
  // restart with persistence) must not be lost.
  std::vector<OwnerWrite> owners;
  {
    std::lock_guard lock(mu_);
    owners.swap(owners_);
  }
  if (!owners.empty()) write_owners(std::move(owners));
}

void Background::post_snapshot(std::vector<TokenRef> tokens, std::vector<std::string> orgs) {
  std::lock_guard lock(mu_);
  snap_tokens_ = std::move(tokens);
  snap_orgs_ = std::move(orgs);
  have_snapshot_ = true;
}

void Background::post_owner(std::string key, std::string value, int ttl_s) {
  std::lock_guard lock(mu_);
  owners_.push_back({std::move(key), std::move(value), ttl_s});
}

// Runs at every tick, i.e. every pass of the broker's loop: with nothing
// pending (the usual case) it is one atomic load, no lock.
BackgroundEvents Background::take() {
  BackgroundEvents e;
  if (!pending_.load(std::memory_order_acquire)) return e;
  std::lock_guard lock(mu_);
  std::swap(e, out_);
  pending_.store(false, std::memory_order_relaxed);
  return e;
}

void Background::push(BackgroundEvents&& e) {
  std::lock_guard lock(mu_);
  for (auto& r : e.revocations) out_.revocations.push_back(std::move(r));
  for (auto& m : e.missing) out_.missing.push_back(std::move(m));
  for (auto& o : e.orgs) out_.orgs.push_back(std::move(o));
  for (auto& o : e.missing_orgs) out_.missing_orgs.push_back(std::move(o));
  for (auto& l : e.logs) out_.logs.push_back(std::move(l));
  for (auto& g : e.leases) out_.leases.push_back(std::move(g));
  out_.presence.writes += e.presence.writes;
  out_.presence.errors += e.presence.errors;
  out_.presence.trimmed += e.presence.trimmed;
  out_.lease.requests += e.lease.requests;
  out_.lease.granted += e.lease.granted;
  out_.lease.errors += e.lease.errors;
  out_.lease.script_loads += e.lease.script_loads;
  out_.redis_errors += e.redis_errors;
  out_.redis_up_again = out_.redis_up_again || e.redis_up_again;
  if (e.redis_reachable) out_.redis_reachable = e.redis_reachable;  // the latest wins
  pending_.store(true, std::memory_order_release);
}

void Background::log(int level, std::string text) {
  BackgroundEvents e;
  e.logs.emplace_back(level, std::move(text));
  push(std::move(e));
}

bool Background::subscribe(redis::Connection& sub, const std::string& channel, Reconnect& rc) {
  if (switched_.exchange(false)) {
    rc.next_connect = Clock::now();
    rc.backoff = std::chrono::milliseconds(100);
  }
  if (Clock::now() < rc.next_connect) {
    std::this_thread::sleep_for(std::min<Clock::duration>(kPoll, rc.next_connect - Clock::now()));
    return false;
  }
  std::string err;
  sub = redis::open_subscriber(ep_, kIoTimeout, err);
  redis::Reply r = sub.ok() ? sub.command({"SUBSCRIBE", channel}) : nullptr;
  if (!r || r->type != REDIS_REPLY_ARRAY) {
    if (!rc.had_failure) {
      log(1, "shortcred: revocation subscriber cannot reach Redis: " +
                 (err.empty() ? sub.error() : err) + "; retrying");
    }
    BackgroundEvents e;
    e.redis_errors = 1;
    e.redis_reachable = false;
    push(std::move(e));
    sub = {};
    rc.had_failure = true;
    rc.next_connect = Clock::now() + rc.backoff;
    rc.backoff = std::min(rc.backoff * 2, std::chrono::milliseconds(2000));
    return false;
  }
  rc.backoff = std::chrono::milliseconds(100);
  BackgroundEvents up;
  up.logs.emplace_back(0, "shortcred: subscribed to " + channel);
  up.redis_reachable = true;
  push(std::move(up));
  if (rc.had_failure) {
    // Messages published while we were away are lost: revalidate every
    // live session at once instead of waiting for the next interval.
    BackgroundEvents e;
    e.redis_up_again = true;
    push(std::move(e));
    std::lock_guard lock(mu_);
    have_snapshot_ = have_snapshot_ || !snap_tokens_.empty();
  }
  rc.had_failure = false;
  return true;
}

void Background::run() {
  const std::string channel = revoked_channel(prefix_);
  redis::Connection sub;
  Reconnect reconnect;

  Clock::time_point last_heard;
  std::optional<Clock::time_point> ping_sent;  // while a PING is unanswered

  while (!stop_) {
    if (!sub.ok()) {
      if (!subscribe(sub, channel, reconnect)) continue;
      last_heard = Clock::now();
      ping_sent.reset();
    }

    // Replies already received (the SUBSCRIBE confirmation may arrive in one
    // read with messages published right after it, and TLS may hold
    // decrypted bytes) would otherwise wait for the next network data: drain
    // them before polling.
    BackgroundEvents e;
    std::size_t heard = 0;
    bool failed = !drain(sub, channel, e, heard);
    if (!failed && e.revocations.empty() && e.logs.empty()) {
      short revents = 0;
      if (wait(sub.fd(), revents) != 0) {
        failed = (revents & POLLNVAL) != 0 || !drain(sub, channel, e, heard);
      }
    }
    const auto now = Clock::now();
    if (heard > 0) {
      last_heard = now;
      ping_sent.reset();
    }
    std::string lost = sub.error();
    if (!failed && ping_sent && now - *ping_sent >= kIoTimeout) {
      failed = true;
      lost = "no answer to PING within 1 s";
    } else if (!failed && !ping_sent && now - last_heard >= kQuietPing) {
      failed = !send_ping(sub);
      ping_sent = now;
    }
    if (failed) {
      e.logs.emplace_back(1, "shortcred: revocation subscriber lost Redis: " +
                                 (lost.empty() ? sub.error() : lost));
      e.redis_errors += 1;
      e.redis_reachable = false;
      sub = {};
      reconnect.had_failure = true;
      reconnect.next_connect = Clock::now();
    }
    if (!e.empty()) push(std::move(e));

    std::vector<OwnerWrite> owners;
    {
      std::lock_guard lock(mu_);
      owners.swap(owners_);
    }
    if (!owners.empty()) write_owners(std::move(owners));
    presence_and_leases();

    probe_if_due();

    std::vector<TokenRef> tokens;
    std::vector<std::string> orgs;
    {
      std::lock_guard lock(mu_);
      if (!have_snapshot_) continue;
      have_snapshot_ = false;
      tokens = snap_tokens_;
      orgs = snap_orgs_;
    }
    revalidate(std::move(tokens), std::move(orgs));
  }
}

void Background::post_probe(std::string key) {
  std::lock_guard lock(mu_);
  probe_key_ = std::move(key);
}

void Background::probe_if_due() {
  std::string key;
  {
    std::lock_guard lock(mu_);
    if (probe_key_.empty() || Clock::now() < next_probe_) return;
    key = probe_key_;
    next_probe_ = Clock::now() + kPoll;
  }
  std::string err;
  redis::Client c = redis::Client::open(ep_, kProbeTimeout, err);
  redis::Reply r = c.ok() ? c.command({"EXISTS", key}) : nullptr;
  if (!r || r->type != REDIS_REPLY_INTEGER) return;
  {
    std::lock_guard lock(mu_);
    if (probe_key_ == key) probe_key_.clear();
  }
  BackgroundEvents e;
  e.redis_up_again = true;
  e.redis_reachable = true;
  push(std::move(e));
}

// Owner records are best effort: a write lost to an outage leaves the id
// unrecorded until that client's next CONNECT or disconnect. They go over
// one kept connection: every CONNECT nudges this thread (presence), so
// batches hold one or two records, and a connection per batch was a TCP
// (with rediss:// a TLS) setup per CONNECT.
void Background::write_owners(std::vector<OwnerWrite> writes) {
  const bool reused = owners_conn_.ok();
  std::string why = send_owners(writes);
  // A connection idle since a Redis restart fails on first use; SET again
  // is harmless.
  if (!why.empty() && reused && !owners_conn_.ok()) why = send_owners(writes);
  BackgroundEvents e;
  e.redis_reachable = why.empty();
  if (!why.empty()) {
    e.redis_errors += 1;
    e.logs.emplace_back(1, "shortcred: could not record client-id owners: " + why);
  }
  push(std::move(e));
}

std::string Background::send_owners(const std::vector<OwnerWrite>& writes) {
  auto drop = [this](std::string why) {
    owners_conn_ = {};
    return why;
  };
  std::string err;
  if (!owners_conn_.ok()) owners_conn_ = redis::Client::open(ep_, kIoTimeout, err);
  if (!owners_conn_.ok()) return drop(err.empty() ? owners_conn_.error() : err);
  for (const OwnerWrite& w : writes) {
    if (!owners_conn_.append({"SET", w.key, w.value, "EX", std::to_string(w.ttl_s)})) {
      return drop(owners_conn_.error());
    }
  }
  // Every reply is read, error replies included, so the kept connection
  // stays in step with its commands.
  std::string refused;
  for (std::size_t i = 0; i < writes.size(); ++i) {
    const redis::Reply r = owners_conn_.read_reply();
    if (!r) return drop(owners_conn_.error());
    if (r->type == REDIS_REPLY_ERROR && refused.empty()) refused = redis::to_string(r.get());
  }
  return refused;
}

void Background::revalidate(std::vector<TokenRef> tokens, std::vector<std::string> orgs) {
  std::string err;
  redis::Client c = redis::Client::open(ep_, kIoTimeout, err);
  BackgroundEvents e;
  auto fail = [&](const std::string& what) {
    e.redis_errors += 1;
    e.redis_reachable = false;
    e.logs.emplace_back(1, "shortcred: revalidation skipped (live sessions keep their rights "
                           "until expiry): " + what);
    push(std::move(e));
  };
  if (!c.ok()) return fail(err);
  for (std::size_t i = 0; i < tokens.size(); i += kExistsChunk) {
    const std::size_t end = std::min(tokens.size(), i + kExistsChunk);
    for (std::size_t j = i; j < end; ++j) {
      if (!c.append({"EXISTS", cred_key(prefix_, tokens[j].org, tokens[j].token_id)})) {
        return fail(c.error());
      }
    }
    for (std::size_t j = i; j < end; ++j) {
      redis::Reply r = c.read_reply();
      if (!r) return fail(c.error());
      // Only a definite 0 revokes: an error reply is "could not ask".
      if (r->type == REDIS_REPLY_INTEGER && r->integer == 0) e.missing.push_back(tokens[j]);
    }
  }
  for (const auto& org : orgs) {
    if (!c.append({"HGETALL", org_key(prefix_, org)})) return fail(c.error());
  }
  for (const auto& org : orgs) {
    redis::Reply r = c.read_reply();
    if (!r) return fail(c.error());
    if (r->type != REDIS_REPLY_ARRAY) continue;  // an error reply is "could not ask"
    if (r->elements == 0) {
      e.missing_orgs.push_back(org);
    } else {
      e.orgs.emplace_back(org, org_from_fields(redis::to_pairs(r.get())));
    }
  }
  e.redis_reachable = true;
  push(std::move(e));
}

}  // namespace shortcred::plugin
