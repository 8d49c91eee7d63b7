// The Redis Cluster side of redis::Client: the slot map from CLUSTER SLOTS,
// one lazily opened Connection per node, and every command routed by the
// slot of its keys.
//
// Pipelining works as on one server: append() sends each command to its
// node's connection, read_reply() answers in the order of the appends. All
// nodes' pipelines are flushed before the first read, so a pipeline spread
// over three masters costs one round trip of wall time, not three.
//
// Redirects are followed here, invisible to the caller:
// - `-MOVED`: the map is refreshed (CLUSTER SLOTS) and the command re-run on
//   the new master; `-ASK`: re-run once on the named node after ASKING;
//   `-TRYAGAIN` (a multi-key command while its slot migrates): re-run after
//   a short pause. At most kMaxAttempts runs per command.
// - MULTI … EXEC go to one node, the one serving the transaction's slot (or
//   the WATCH's). A redirect of a queued command aborts the transaction
//   (EXECABORT, nothing ran), so it is re-run whole on the right node; the
//   caller sees +QUEUED and the re-run's EXEC. Under WATCH it is not re-run
//   (the watch was on the old node): EXEC answers nil, the caller's
//   "watched key changed, try again" path, which then WATCHes on the new
//   node (after an -ASK, i.e. mid-migration, that answer waits 25 ms first,
//   so the caller's retries span the migration).
// Re-runs use a second, synchronous connection per node, so a re-run never
// reads a reply that belongs to the pipeline.
//
// The keys of one command, one transaction and one WATCH must share a slot
// (Redis's own rule); otherwise the command is answered with a CROSSSLOT
// error here and a transaction is discarded. A SCAN whose MATCH pattern has
// a literal hash tag goes to that tag's node; any other SCAN walks every
// master in turn behind one composite cursor (`<master>:<cursor>`).
//
// Any I/O error makes the client unusable (ok() false), like a Connection:
// the owner opens a new one, which reads a fresh map — after a failover it
// names the promoted replica.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shortcred/cluster_map.hpp"
#include "shortcred/redis/connection.hpp"
#include "shortcred/redis_url.hpp"

namespace shortcred::redis {

class Cluster {
 public:
  static constexpr int kMaxAttempts = 3;

  // Asks the seeds in turn for CLUSTER SLOTS. nullptr with `err` set when
  // none answers with a usable map.
  static std::unique_ptr<Cluster> open(const RedisEndpoint& ep,
                                       std::chrono::milliseconds timeout, std::string& err);

  bool ok() const noexcept { return !broken_; }
  const std::string& error() const noexcept { return error_; }
  bool timed_out() const noexcept { return timed_out_; }

  bool append(std::vector<std::string> argv);
  Reply read_reply();

 private:
  struct Node {
    RedisNode addr;
    Connection conn;  // the pipeline
    Connection side;  // synchronous re-runs and map refreshes
    bool unflushed = false;
  };
  enum class Role { plain, multi, queued, exec, scan_all, local_error };
  struct Pending {
    Role role = Role::plain;
    int node = -1;  // index into nodes_; -1: MULTI not sent yet
    std::vector<std::string> argv;
    std::vector<std::vector<std::string>> tx;  // exec: the queued commands
    bool watched = false;                      // exec: under WATCH
    bool lost_watch = false;  // exec: its WATCH was redirected (answers nil)
    std::string refusal;  // local_error; exec: why the transaction was discarded
    std::size_t master = 0;  // scan_all: which master this step scans

    static Pending sent(Role role, int node, std::vector<std::string> argv = {}) {
      Pending p;
      p.role = role;
      p.node = node;
      p.argv = std::move(argv);
      return p;
    }
    static Pending refused(std::string why) {
      Pending p;
      p.role = Role::local_error;
      p.refusal = std::move(why);
      return p;
    }
  };

  Cluster(RedisEndpoint ep, std::chrono::milliseconds timeout)
      : ep_(std::move(ep)), timeout_(timeout) {}

  int node_index(const RedisNode& addr);
  Connection* connection(int node, bool side, std::string& err);
  bool send(int node, const std::vector<std::string>& argv);
  bool refresh_map();
  bool load_map_from(int node, std::string& err);
  int node_for_slot(std::uint16_t slot);
  int any_node();
  // The one slot of `argv`'s keys; nullopt for a keyless command. Sets
  // `refusal` when the keys span several slots.
  std::optional<std::uint16_t> slot_of(const std::vector<std::string>& argv,
                                       std::string& refusal) const;

  bool append_in_transaction(std::vector<std::string> argv, const std::string& name);
  bool append_exec(const std::string& name);
  bool append_scan(std::vector<std::string> argv);
  bool start_transaction_on(int node);

  Reply read_from(int node);
  Reply read_plain(Pending& p);
  Reply read_queued(Pending& p);
  Reply read_exec(Pending& p);
  Reply read_scan_all(Pending& p);
  bool exec_pending() const;
  // Runs `argv` (or, for a transaction, MULTI + tx + EXEC) synchronously,
  // following redirects, starting from `first`. Returns the last reply.
  Reply rerun(const Redirect* first, int node, const std::vector<std::vector<std::string>>& cmds,
              bool transaction);
  void follow(const Redirect& r);
  // A slot is migrating (-ASK under WATCH, -TRYAGAIN): wait a little.
  void pause_for_migration();
  // Makes the client unusable; always returns nullptr.
  Reply fail(const std::string& what, bool timed_out = false);

  RedisEndpoint ep_;
  std::chrono::milliseconds timeout_;
  SlotMap map_;
  std::vector<Node> nodes_;  // by address; outlive map refreshes
  std::deque<Pending> pending_;
  bool broken_ = false;
  bool timed_out_ = false;
  std::string error_;
  std::chrono::steady_clock::time_point last_refresh_{};

  // The transaction being appended.
  bool in_tx_ = false;
  int tx_node_ = -1;
  std::optional<std::uint16_t> tx_slot_;
  std::vector<std::vector<std::string>> tx_cmds_;
  std::string tx_refusal_;
  // WATCH in force on this node (until EXEC, DISCARD or UNWATCH).
  int watch_node_ = -1;
  std::optional<std::uint16_t> watch_slot_;
  bool watch_lost_ = false;  // the WATCH was redirected
  // The transaction being read: the first redirect among its queued replies.
  std::optional<Redirect> read_tx_redirect_;
  bool read_tx_tryagain_ = false;
};

}  // namespace shortcred::redis
