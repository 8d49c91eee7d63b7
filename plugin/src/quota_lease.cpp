#include "quota_lease.hpp"

#include <chrono>

#include "shortcred/presence.hpp"

namespace shortcred::plugin {
namespace {

constexpr auto kIoTimeout = std::chrono::milliseconds(1000);

}  // namespace

QuotaLeaser::QuotaLeaser(RedisEndpoint ep, std::string prefix)
    : ep_(std::move(ep)), prefix_(std::move(prefix)), script_(kLeaseScript) {}

void QuotaLeaser::set_broker_id(std::string id) {
  std::lock_guard lock(mu_);
  broker_id_ = std::move(id);
}

void QuotaLeaser::post(LeaseRequest r) {
  std::lock_guard lock(mu_);
  requests_.push_back(std::move(r));
}

// Every request is answered, with 0 tokens when Redis could not be asked:
// the broker then asks again later (publishes of that org are refused
// meanwhile — a global budget fails closed).
void QuotaLeaser::run_due(std::vector<LeaseGrant>& grants, LeaseStats& stats, std::string& error) {
  std::vector<LeaseRequest> requests;
  std::string me;
  {
    std::lock_guard lock(mu_);
    requests.swap(requests_);
    me = broker_id_;
  }
  if (requests.empty()) return;
  const std::uint64_t loads_before = script_.loads();
  for (const LeaseRequest& r : requests) {
    ++stats.requests;
    LeaseGrant g{r.org, 0};
    if (!conn_.ok()) {
      std::string err;
      conn_ = redis::Client::open(ep_, kIoTimeout, err);
      if (!conn_.ok() && !failing_) error = "publish leases cannot reach Redis: " + err;
    }
    redis::Reply rep =
        conn_.ok() ? script_.run(conn_, {quota_key(prefix_, r.org)},
                                 {std::to_string(r.rate), std::to_string(r.burst),
                                  std::to_string(r.want), me})
                   : nullptr;
    if (rep && rep->type == REDIS_REPLY_INTEGER) {
      g.granted = rep->integer;
      stats.granted += static_cast<std::uint64_t>(rep->integer);
      failing_ = false;
    } else {
      ++stats.errors;
      if (!failing_ && error.empty()) {
        error = "publish lease for org " + r.org + " failed: " +
                (rep ? redis::to_string(rep.get()) : conn_.error());
      }
      failing_ = true;
      if (!rep) conn_ = {};
    }
    grants.push_back(std::move(g));
  }
  stats.script_loads += script_.loads() - loads_before;
}

}  // namespace shortcred::plugin
