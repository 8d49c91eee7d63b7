#include "cluster.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <utility>

#include "shortcred/cluster_slots.hpp"
#include "shortcred/command_keys.hpp"
#include "shortcred/redis/client.hpp"

namespace shortcred::redis {
namespace {

struct Counters {
  std::atomic<std::uint64_t> moved{0}, ask{0}, tryagain{0}, map_refreshes{0}, node_failures{0};
};
Counters g_counters;

// Between two CLUSTER SLOTS of one client; a MOVED in between only moves its
// own slot (a resharding sends many in a row).
constexpr auto kRefreshInterval = std::chrono::milliseconds(100);
// A multi-key command or transaction whose slot is migrating is refused with
// TRYAGAIN until its keys are on one node; MIGRATE moves them in batches.
constexpr auto kTryAgainPause = std::chrono::milliseconds(25);

constexpr std::string_view kCrossSlot = "CROSSSLOT Keys in request don't hash to the same slot";
constexpr std::string_view kSlotNotServed = "CLUSTERDOWN Hash slot not served";

// A reply made here, owned like one of hiredis's (freeReplyObject frees it).
Reply make_reply(int type, std::string_view text = {}) {
  auto* r = static_cast<redisReply*>(std::calloc(1, sizeof(redisReply)));
  if (r == nullptr) return nullptr;
  r->type = type;
  if (type == REDIS_REPLY_STATUS || type == REDIS_REPLY_ERROR || type == REDIS_REPLY_STRING) {
    r->str = static_cast<char*>(std::malloc(text.size() + 1));
    if (r->str == nullptr) {
      std::free(r);
      return nullptr;
    }
    std::memcpy(r->str, text.data(), text.size());
    r->str[text.size()] = '\0';
    r->len = text.size();
  }
  return Reply(r);
}

void replace_string(redisReply* r, const std::string& text) {
  char* s = static_cast<char*>(std::malloc(text.size() + 1));
  if (s == nullptr) return;
  std::memcpy(s, text.c_str(), text.size() + 1);
  std::free(r->str);
  r->str = s;
  r->len = text.size();
}

std::string_view error_text(const Reply& r) {
  return r && r->type == REDIS_REPLY_ERROR ? std::string_view(r->str, r->len) : std::string_view();
}

bool is_tryagain(const Reply& r) { return error_text(r).starts_with("TRYAGAIN"); }

// CLUSTER SLOTS: [[first, last, [host, port, id…], replicas…]…]. A master
// without an announced endpoint ("" or "?") is the node we asked.
std::optional<std::vector<SlotRange>> parse_cluster_slots(const redisReply* r,
                                                          const std::string& asked_host) {
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY) return std::nullopt;
  std::vector<SlotRange> ranges;
  for (std::size_t i = 0; i < r->elements; ++i) {
    const redisReply* e = r->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
        e->element[0]->type != REDIS_REPLY_INTEGER || e->element[1]->type != REDIS_REPLY_INTEGER) {
      return std::nullopt;
    }
    const redisReply* m = e->element[2];
    if (m->type != REDIS_REPLY_ARRAY || m->elements < 2 ||
        m->element[1]->type != REDIS_REPLY_INTEGER) {
      return std::nullopt;
    }
    std::string host = to_string(m->element[0]);
    if (host.empty() || host == "?") host = asked_host;
    ranges.push_back(SlotRange{static_cast<int>(e->element[0]->integer),
                               static_cast<int>(e->element[1]->integer),
                               RedisNode{host, static_cast<int>(m->element[1]->integer)}});
  }
  return ranges;
}

}  // namespace

ClusterStats cluster_stats() noexcept {
  return ClusterStats{g_counters.moved.load(), g_counters.ask.load(), g_counters.tryagain.load(),
                      g_counters.map_refreshes.load(), g_counters.node_failures.load()};
}

std::unique_ptr<Cluster> Cluster::open(const RedisEndpoint& ep,
                                       std::chrono::milliseconds timeout, std::string& err) {
  std::unique_ptr<Cluster> c(new Cluster(ep, timeout));
  std::vector<RedisNode> seeds = ep.nodes;
  if (seeds.empty()) seeds.push_back(RedisNode{ep.host, ep.port});
  std::string last;
  for (const RedisNode& seed : seeds) {
    if (c->load_map_from(c->node_index(seed), last)) return c;
  }
  err = "no seed of " + ep.redacted() + " gave the cluster's slots: " + last;
  return nullptr;
}

int Cluster::node_index(const RedisNode& addr) {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (same_node(nodes_[i].addr, addr)) return static_cast<int>(i);
  }
  nodes_.push_back(Node{addr, {}, {}, false});
  return static_cast<int>(nodes_.size() - 1);
}

Connection* Cluster::connection(int node, bool side, std::string& err) {
  Node& n = nodes_[static_cast<std::size_t>(node)];
  Connection& c = side ? n.side : n.conn;
  if (!c.ok()) c = Connection::open(ep_.at(n.addr), timeout_, err);
  return c.ok() ? &c : nullptr;
}

bool Cluster::load_map_from(int node, std::string& err) {
  Connection* c = connection(node, true, err);
  if (c == nullptr) return false;
  const std::string name = node_name(nodes_[static_cast<std::size_t>(node)].addr);
  Reply r = c->command({"CLUSTER", "SLOTS"});
  if (!r || r->type == REDIS_REPLY_ERROR) {
    err = name + ": " + (r ? to_string(r.get()) : c->error());
    if (!r) *c = {};
    return false;
  }
  const auto ranges = parse_cluster_slots(r.get(), nodes_[static_cast<std::size_t>(node)].addr.host);
  if (!ranges || ranges->empty()) {
    err = name + ": CLUSTER SLOTS " + (ranges ? "assigns no slot" : "reply not understood");
    return false;
  }
  auto map = SlotMap::from_ranges(*ranges, err);
  if (!map) return false;
  map_ = std::move(*map);
  last_refresh_ = std::chrono::steady_clock::now();
  g_counters.map_refreshes.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool Cluster::refresh_map() {
  std::vector<RedisNode> candidates = map_.masters();
  for (const RedisNode& seed : ep_.nodes) candidates.push_back(seed);
  std::string err;
  for (const RedisNode& n : candidates) {
    if (load_map_from(node_index(n), err)) return true;
  }
  return false;
}

int Cluster::node_for_slot(std::uint16_t slot) {
  const RedisNode* m = map_.master_of(slot);
  return m == nullptr ? -1 : node_index(*m);
}

int Cluster::any_node() {
  if (watch_node_ >= 0) return watch_node_;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i].conn.ok()) continue;
    for (const RedisNode& m : map_.masters()) {
      if (same_node(m, nodes_[i].addr)) return static_cast<int>(i);
    }
  }
  return map_.masters().empty() ? 0 : node_index(map_.masters().front());
}

std::optional<std::uint16_t> Cluster::slot_of(const std::vector<std::string>& argv,
                                              std::string& refusal) const {
  const auto keys = key_positions(argv);
  if (keys.empty()) return std::nullopt;
  const std::uint16_t slot = key_slot(argv[keys.front()]);
  for (const std::size_t k : keys) {
    if (key_slot(argv[k]) != slot) refusal = kCrossSlot;
  }
  return slot;
}

bool Cluster::send(int node, const std::vector<std::string>& argv) {
  std::string err;
  Connection* c = connection(node, false, err);
  if (c == nullptr) {
    fail(err);
    return false;
  }
  if (!c->append(argv)) {
    fail("cannot queue a command for " + node_name(nodes_[static_cast<std::size_t>(node)].addr) +
         ": " + c->error());
    return false;
  }
  nodes_[static_cast<std::size_t>(node)].unflushed = true;
  return true;
}

Reply Cluster::fail(const std::string& what, bool timed_out) {
  broken_ = true;
  timed_out_ = timed_out;
  error_ = what;
  pending_.clear();
  nodes_.clear();
  g_counters.node_failures.fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}

bool Cluster::append(std::vector<std::string> argv) {
  if (broken_) return false;
  const std::string name = command_name(argv);
  if (in_tx_) return append_in_transaction(std::move(argv), name);
  if (name == "MULTI") {
    in_tx_ = true;
    tx_node_ = -1;
    tx_slot_ = watch_slot_;
    tx_cmds_.clear();
    tx_refusal_.clear();
    pending_.push_back(Pending::sent(Role::multi, -1));
    return true;
  }
  if (name == "SCAN") return append_scan(std::move(argv));
  std::string refusal;
  const auto slot = slot_of(argv, refusal);
  if (name == "WATCH" && slot && watch_slot_ && *slot != *watch_slot_) refusal = kCrossSlot;
  const int node = name == "UNWATCH" || !slot ? any_node() : node_for_slot(*slot);
  if (refusal.empty() && node < 0) refusal = kSlotNotServed;
  if (!refusal.empty()) {
    pending_.push_back(Pending::refused(std::move(refusal)));
    return true;
  }
  if (name == "WATCH") {
    watch_node_ = node;
    watch_slot_ = slot;
  } else if (name == "UNWATCH") {
    watch_node_ = -1;
    watch_slot_.reset();
    watch_lost_ = false;
  }
  if (!send(node, argv)) return false;
  pending_.push_back(Pending::sent(Role::plain, node, std::move(argv)));
  return true;
}

bool Cluster::start_transaction_on(int node) {
  tx_node_ = node;
  for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
    if (it->role == Role::multi && it->node < 0) {
      it->node = node;
      break;
    }
  }
  return send(node, {"MULTI"});
}

bool Cluster::append_in_transaction(std::vector<std::string> argv, const std::string& name) {
  if (name == "EXEC" || name == "DISCARD") return append_exec(name);
  std::string refusal;
  if (name == "MULTI") refusal = "ERR MULTI calls can not be nested";
  const auto slot = slot_of(argv, refusal);
  if (slot && tx_slot_ && *slot != *tx_slot_) refusal = kCrossSlot;
  if (slot && !tx_slot_) tx_slot_ = slot;
  if (tx_node_ < 0) {
    int node = watch_node_ >= 0 ? watch_node_ : slot ? node_for_slot(*slot) : any_node();
    if (node < 0) {
      refusal = kSlotNotServed;
      node = any_node();
    }
    if (!start_transaction_on(node)) return false;
  }
  if (!refusal.empty()) {
    if (tx_refusal_.empty()) tx_refusal_ = refusal;
    pending_.push_back(Pending::refused(std::move(refusal)));
    return true;
  }
  if (!send(tx_node_, argv)) return false;
  tx_cmds_.push_back(argv);
  pending_.push_back(Pending::sent(Role::queued, tx_node_, std::move(argv)));
  return true;
}

bool Cluster::append_exec(const std::string& name) {
  if (tx_node_ < 0 && !start_transaction_on(any_node())) return false;
  Pending p = Pending::sent(Role::exec, tx_node_);
  p.tx = std::move(tx_cmds_);
  p.watched = watch_node_ >= 0;
  p.lost_watch = watch_lost_;
  p.refusal = tx_refusal_;
  const bool discard = name == "DISCARD" || !p.refusal.empty() || p.lost_watch;
  if (name == "DISCARD") p = Pending::sent(Role::plain, tx_node_);
  if (!send(tx_node_, {discard ? "DISCARD" : "EXEC"})) return false;
  pending_.push_back(std::move(p));
  in_tx_ = false;
  tx_node_ = -1;
  tx_slot_.reset();
  tx_cmds_.clear();
  tx_refusal_.clear();
  watch_node_ = -1;  // EXEC and DISCARD end every WATCH
  watch_slot_.reset();
  watch_lost_ = false;
  return true;
}

bool Cluster::append_scan(std::vector<std::string> argv) {
  if (const auto tag = scan_match_tag(argv)) {
    const int node = node_for_slot(key_slot(*tag));
    if (node < 0) {
      pending_.push_back(
          Pending::refused(std::string(kSlotNotServed)));
      return true;
    }
    if (!send(node, argv)) return false;
    pending_.push_back(Pending::sent(Role::plain, node, std::move(argv)));
    return true;
  }
  // A composite cursor: `<master>:<cursor>`, "0" for the start and the end.
  std::size_t master = 0;
  std::string cursor = argv.size() > 1 ? argv[1] : "0";
  if (cursor != "0") {
    const auto colon = cursor.find(':');
    char* end = nullptr;
    master = colon == std::string::npos ? map_.masters().size()
                                        : std::strtoul(cursor.c_str(), &end, 10);
    if (end != cursor.c_str() + colon) master = map_.masters().size();
    cursor = colon == std::string::npos ? "" : cursor.substr(colon + 1);
  }
  if (master >= map_.masters().size() || cursor.empty()) {
    pending_.push_back(Pending::refused("ERR invalid cursor"));
    return true;
  }
  const int node = node_index(map_.masters()[master]);
  argv[1] = cursor;
  if (!send(node, argv)) return false;
  Pending p = Pending::sent(Role::scan_all, node, std::move(argv));
  p.master = master;
  pending_.push_back(std::move(p));
  return true;
}

Reply Cluster::read_reply() {
  if (broken_) return nullptr;
  if (pending_.empty()) return fail("no Redis reply is pending");
  Pending p = std::move(pending_.front());
  pending_.pop_front();
  switch (p.role) {
    case Role::local_error:
      return make_reply(REDIS_REPLY_ERROR, p.refusal);
    case Role::multi:
      read_tx_redirect_.reset();
      read_tx_tryagain_ = false;
      if (p.node < 0) {  // read before any command of it was appended
        p.node = any_node();
        tx_node_ = p.node;
        if (!send(p.node, {"MULTI"})) return nullptr;
      }
      return read_from(p.node);
    case Role::plain:
      return read_plain(p);
    case Role::queued:
      return read_queued(p);
    case Role::exec:
      return read_exec(p);
    case Role::scan_all:
      return read_scan_all(p);
  }
  return nullptr;
}

Reply Cluster::read_from(int node) {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i].unflushed) continue;
    nodes_[i].unflushed = false;
    if (!nodes_[i].conn.flush()) {
      return fail(node_name(nodes_[i].addr) + ": " + nodes_[i].conn.error(),
                  nodes_[i].conn.timed_out());
    }
  }
  Node& n = nodes_[static_cast<std::size_t>(node)];
  Reply r = n.conn.read_reply();
  if (!r) return fail(node_name(n.addr) + ": " + n.conn.error(), n.conn.timed_out());
  return r;
}

void Cluster::follow(const Redirect& r) {
  if (r.kind == Redirect::Kind::ask) {
    g_counters.ask.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  g_counters.moved.fetch_add(1, std::memory_order_relaxed);
  map_.assign(r.slot, r.node);
  if (std::chrono::steady_clock::now() - last_refresh_ >= kRefreshInterval) refresh_map();
}

Reply Cluster::read_plain(Pending& p) {
  Reply r = read_from(p.node);
  const std::string_view text = error_text(r);
  if (text.empty()) return r;
  const auto redirect = parse_redirect(text, nodes_[static_cast<std::size_t>(p.node)].addr.host);
  if (!redirect && !is_tryagain(r)) return r;
  if (command_name(p.argv) == "WATCH") {
    // The watch belongs on the pipeline's connection of the right node;
    // instead, the transaction it guards answers "watched key changed". An
    // EXEC already sent went to the old node: its commands are redirected
    // too, which read_exec answers the same way.
    if (redirect) follow(*redirect);
    // ASK: the slot is migrating; give it time before the caller's retry.
    if (!redirect || redirect->kind == Redirect::Kind::ask) pause_for_migration();
    const bool exec_sent = std::any_of(pending_.begin(), pending_.end(),
                                       [](const Pending& q) { return q.role == Role::exec; });
    if (!exec_sent) watch_lost_ = true;
    return make_reply(REDIS_REPLY_STATUS, "OK");
  }
  return rerun(redirect ? &*redirect : nullptr, p.node, {p.argv}, false);
}

bool Cluster::exec_pending() const {
  for (const Pending& p : pending_) {
    if (p.role == Role::exec) return true;
    if (p.role == Role::multi) return false;
  }
  return false;
}

Reply Cluster::read_queued(Pending& p) {
  Reply r = read_from(p.node);
  const std::string_view text = error_text(r);
  if (text.empty() || !exec_pending()) return r;
  const auto redirect = parse_redirect(text, nodes_[static_cast<std::size_t>(p.node)].addr.host);
  if (!redirect && !is_tryagain(r)) return r;
  // EXEC will abort: nothing of the transaction runs; it is re-run below.
  if (redirect && !read_tx_redirect_) read_tx_redirect_ = redirect;
  if (!redirect) read_tx_tryagain_ = true;
  return make_reply(REDIS_REPLY_STATUS, "QUEUED");
}

Reply Cluster::read_exec(Pending& p) {
  Reply r = read_from(p.node);
  if (!r) return r;
  const auto redirect = std::exchange(read_tx_redirect_, std::nullopt);
  const bool tryagain = std::exchange(read_tx_tryagain_, false);
  if (!p.refusal.empty()) {
    return make_reply(REDIS_REPLY_ERROR,
                      "EXECABORT Transaction discarded because of previous errors: " + p.refusal);
  }
  if (p.lost_watch) return make_reply(REDIS_REPLY_NIL);
  if ((!redirect && !tryagain) || !error_text(r).starts_with("EXECABORT")) return r;
  if (p.watched) {
    if (redirect) follow(*redirect);
    if (!redirect || redirect->kind == Redirect::Kind::ask) pause_for_migration();
    return make_reply(REDIS_REPLY_NIL);
  }
  return rerun(redirect ? &*redirect : nullptr, p.node, p.tx, true);
}

Reply Cluster::read_scan_all(Pending& p) {
  Reply r = read_from(p.node);
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
      r->element[0]->type != REDIS_REPLY_STRING) {
    return r;
  }
  const std::string cursor = to_string(r->element[0]);
  std::string next = "0";
  if (cursor != "0") {
    next = std::to_string(p.master) + ":" + cursor;
  } else if (p.master + 1 < map_.masters().size()) {
    next = std::to_string(p.master + 1) + ":0";
  }
  replace_string(r->element[0], next);
  return r;
}

void Cluster::pause_for_migration() {
  g_counters.tryagain.fetch_add(1, std::memory_order_relaxed);
  std::this_thread::sleep_for(kTryAgainPause);
}

Reply Cluster::rerun(const Redirect* first, int node,
                     const std::vector<std::vector<std::string>>& cmds, bool transaction) {
  std::optional<Redirect> redirect;
  if (first != nullptr) redirect = *first;
  Reply last;
  bool asking = false;  // a TRYAGAIN re-run goes where the last run went
  for (int attempt = 1; attempt < kMaxAttempts + 1; ++attempt) {
    if (redirect) {
      follow(*redirect);
      node = node_index(redirect->node);
      asking = redirect->kind == Redirect::Kind::ask;
    } else {
      pause_for_migration();
    }
    std::string err;
    Connection* c = connection(node, true, err);
    if (c == nullptr) return fail(err);
    bool ok = !asking || c->append({"ASKING"});
    ok = ok && (!transaction || c->append({"MULTI"}));
    for (const auto& cmd : cmds) ok = ok && c->append(cmd);
    ok = ok && (!transaction || c->append({"EXEC"}));
    const std::size_t replies = (asking ? 1 : 0) + (transaction ? 2 : 0) + cmds.size();
    redirect.reset();
    bool tryagain = false;
    for (std::size_t i = 0; ok && i < replies; ++i) {
      last = c->read_reply();
      ok = last != nullptr;
      const std::string_view text = error_text(last);
      if (!ok || text.empty() || redirect) continue;
      redirect = parse_redirect(text, nodes_[static_cast<std::size_t>(node)].addr.host);
      tryagain = tryagain || is_tryagain(last);
    }
    if (!ok) {
      const std::string what = node_name(nodes_[static_cast<std::size_t>(node)].addr) + ": " +
                               c->error();
      return fail(what, c->timed_out());
    }
    if (!redirect && !tryagain) return last;
    if (transaction && !error_text(last).starts_with("EXECABORT")) return last;
  }
  return last;
}

}  // namespace shortcred::redis
