// The plugin's background thread: all Redis work other than CONNECT.
//
// - SUBSCRIBE to `<prefix>revoked` on its own connection (poll(2) on the
//   socket, so stop() is honoured within ~100 ms and a quiet channel never
//   trips a read timeout); reconnects with backoff.
// - Every revalidate_interval_s, checks the live sessions the broker thread
//   posted (pipelined EXISTS, in chunks) and re-reads their orgs' hashes.
//
// - Presence (presence.hpp) and global publish leases (quota_lease.hpp):
//   what the broker thread posts is written at once (a post nudges the
//   poll through an eventfd), heartbeats every presence_interval_s.
//
// It never touches sessions or the Mosquitto API: results go into a
// mutex-protected mailbox that the broker thread empties at MOSQ_EVT_TICK.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "presence.hpp"
#include "quota_lease.hpp"
#include "shortcred/redis/client.hpp"
#include "shortcred/redis/sentinel.hpp"
#include "shortcred/redis_url.hpp"
#include "shortcred/schema.hpp"

namespace shortcred::plugin {

struct TokenRef {
  std::string org;
  std::string token_id;
};

// What the background thread hands to the broker thread.
struct BackgroundEvents {
  std::vector<Revocation> revocations;     // from the channel
  std::vector<TokenRef> missing;           // failed revalidation (key gone)
  std::vector<std::pair<std::string, OrgRecord>> orgs;  // refreshed org hashes
  std::vector<std::string> missing_orgs;                // org hash gone (deleted)
  std::vector<std::pair<int, std::string>> logs;        // (0 info | 1 warning, text)
  std::vector<LeaseGrant> leases;                       // answers to lease requests
  PresenceStats presence;
  LeaseStats lease;
  std::uint64_t redis_errors = 0;
  bool redis_up_again = false;  // a connection succeeded after a failure
  // The outcome of the thread's latest Redis exchange (subscribing, losing
  // the subscription, a revalidation, owner writes), if there was one: the
  // background half of the breaker state the plugin reports.
  std::optional<bool> redis_reachable;

  bool empty() const {
    return revocations.empty() && missing.empty() && orgs.empty() && missing_orgs.empty() &&
           logs.empty() && leases.empty() && presence.writes == 0 && presence.errors == 0 &&
           presence.trimmed == 0 && lease.requests == 0 && redis_errors == 0 && !redis_up_again &&
           !redis_reachable;
  }
};

class Background {
 public:
  static constexpr std::size_t kExistsChunk = 512;

  // presence_interval_s 0: no presence writes.
  Background(RedisEndpoint ep, std::string prefix, int presence_interval_s);
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  void start();
  void stop();

  // Broker thread: the live sessions to revalidate now (replaces any pending set).
  void post_snapshot(std::vector<TokenRef> tokens, std::vector<std::string> orgs);
  // Broker thread: record a client id's owner (SET key value EX ttl_s).
  void post_owner(std::string key, std::string value, int ttl_s);
  // Broker thread: the CONNECT breaker opened after a lookup of `key`
  // failed. Every 100 ms the thread asks Redis about that key (EXISTS, on a
  // connection of its own) and reports redis_up_again once it is answered,
  // so the next CONNECT probes at once instead of after the breaker's
  // backoff: on a Redis Cluster, within 100 ms of a replica taking over the
  // key's slot; elsewhere, of the server answering again.
  void post_probe(std::string key);
  // Broker thread: takes everything ready (a swap under a short lock).
  BackgroundEvents take();

  // Broker thread: this broker's id, once known (before the first join).
  void set_broker_id(const std::string& id);
  // Broker thread: presence (no-ops when presence is off) and leases; each
  // nudges the thread so it writes at once.
  void post_join(std::string org, std::string user, std::string client_id, std::string json);
  void post_leave(std::string org, std::string user, std::string client_id);
  void post_lease(LeaseRequest r);

 private:
  // The revocation subscriber's reconnection state.
  struct Reconnect {
    std::chrono::milliseconds backoff{100};
    std::chrono::steady_clock::time_point next_connect = std::chrono::steady_clock::now();
    bool had_failure = false;
  };
  void run();
  // (Re)connects the subscriber, with backoff; false while not subscribed.
  bool subscribe(redis::Connection& sub, const std::string& channel, Reconnect& rc);
  void push(BackgroundEvents&& e);
  void log(int level, std::string text);
  void revalidate(std::vector<TokenRef> tokens, std::vector<std::string> orgs);
  struct OwnerWrite {
    std::string key, value;
    int ttl_s;
  };
  void write_owners(std::vector<OwnerWrite> writes);
  // One pipelined SET per record on owners_conn_ (opened if needed): "" if
  // all were written, else why not. A failed connection is dropped.
  std::string send_owners(const std::vector<OwnerWrite>& writes);
  void probe_if_due();
  void nudge();
  // Waits for the subscriber's socket or a nudge, at most kPoll; returns
  // the socket's revents (0: nothing to read).
  int wait(int fd, short& revents);
  void presence_and_leases();

  RedisEndpoint ep_;
  std::string prefix_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> switched_{false};  // +switch-master: resubscribe without backoff
  std::unique_ptr<redis::SwitchMasterWatcher> watcher_;  // Sentinel endpoints only

  std::mutex mu_;
  BackgroundEvents out_;
  std::atomic<bool> pending_{false};  // out_ may be non-empty; set under mu_
  bool have_snapshot_ = false;
  std::vector<TokenRef> snap_tokens_;
  std::vector<std::string> snap_orgs_;
  std::string probe_key_;  // "" = none asked for
  std::chrono::steady_clock::time_point next_probe_{};
  std::vector<OwnerWrite> owners_;  // pending owner records
  redis::Client owners_conn_;       // this thread's, for owner records

  std::unique_ptr<PresenceWriter> presence_;  // null when presence is off
  QuotaLeaser leaser_;
  int nudge_fd_ = -1;  // eventfd
};

}  // namespace shortcred::plugin
