#include "shortcred/tokens/jwks_cache.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>

#include "shortcred/schema.hpp"

namespace shortcred::tokens {
namespace {

constexpr std::int64_t kMinCacheS = 60;
constexpr std::int64_t kMaxCacheS = 86400;
constexpr std::int64_t kDefaultCacheS = 300;
constexpr auto kRefetchInterval = std::chrono::seconds(10);
constexpr auto kRetryWithoutKeys = std::chrono::seconds(1);

struct CurlFree {
  void operator()(CURL* c) const noexcept { curl_easy_cleanup(c); }
};

struct Response {
  std::string body;
  std::string cache_control;
  bool too_large = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* r = static_cast<Response*>(user);
  const std::size_t len = size * n;
  if (r->body.size() + len > jose::kMaxJwksBytes) {
    r->too_large = true;
    return 0;  // aborts the transfer
  }
  r->body.append(data, len);
  return len;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto* r = static_cast<Response*>(user);
  const std::size_t len = size * n;
  std::string line(data, len);
  constexpr std::string_view kName = "cache-control:";
  if (line.size() > kName.size()) {
    bool match = true;
    for (std::size_t i = 0; i < kName.size() && match; ++i) {
      match = std::tolower(static_cast<unsigned char>(line[i])) == kName[i];
    }
    if (match) r->cache_control = line.substr(kName.size());
  }
  return len;
}

// One GET of `url`; empty string on success, else why not.
std::string http_get(const std::string& url, const JwksFetchOptions& opts, Response& out) {
  static const bool initialised = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  if (!initialised) return "libcurl failed to initialise";
  std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
  if (!curl) return "libcurl failed to initialise";
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  // The provider check let http through only for loopback hosts.
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, url.rfind("http://", 0) == 0 ? "http" : "https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(opts.timeout_ms));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opts.timeout_ms));
  curl_easy_setopt(c, CURLOPT_USERAGENT, "shortcred-tokend");
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
  if (!opts.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, opts.ca_file.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &out);
  const CURLcode rc = curl_easy_perform(c);
  if (out.too_large) return "the key set is larger than " + std::to_string(jose::kMaxJwksBytes) + " bytes";
  if (rc != CURLE_OK) return std::string("fetch failed: ") + curl_easy_strerror(rc);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) return "the key set URL answered HTTP " + std::to_string(status);
  return {};
}

}  // namespace

std::int64_t jwks_cache_seconds(const std::string& cache_control) {
  std::string cc;
  for (char ch : cache_control) cc.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
  if (cc.find("no-store") != std::string::npos || cc.find("no-cache") != std::string::npos) {
    return kMinCacheS;
  }
  const auto pos = cc.find("max-age=");
  if (pos == std::string::npos || (pos > 0 && cc[pos - 1] == '-')) return kDefaultCacheS;  // s-maxage
  std::size_t end = pos + 8;
  while (end < cc.size() && std::isdigit(static_cast<unsigned char>(cc[end]))) ++end;
  std::uint64_t v = 0;
  const std::string digits = cc.substr(pos + 8, std::min<std::size_t>(end - pos - 8, 12));
  if (!parse_u64(digits, v)) return kDefaultCacheS;
  return std::clamp(static_cast<std::int64_t>(v), kMinCacheS, kMaxCacheS);
}

JwksCache::JwksCache(JwksFetchOptions opts, FetchObserver observer)
    : opts_(std::move(opts)), observer_(std::move(observer)) {}

bool JwksCache::fetch_due(const Entry& e, const std::string& kid, jose::Alg alg,
                          Clock::time_point now) const {
  const auto since_attempt = [&](auto interval) {
    return !e.last_attempt || now - *e.last_attempt >= interval;
  };
  if (!e.keys) return since_attempt(kRetryWithoutKeys);
  if (now >= e.fresh_until) return since_attempt(kRefetchInterval);
  return jose::find_key(*e.keys, kid, alg) == nullptr && since_attempt(kRefetchInterval);
}

void JwksCache::fetch_into(const std::string& url, Entry& e) {
  Response r;
  std::string why = http_get(url, opts_, r);
  auto keys = std::make_shared<jose::Jwks>();
  if (why.empty() && !jose::parse_jwks(r.body, *keys, why)) {
    // why is set by parse_jwks
  }
  const bool ok = why.empty();
  {
    std::lock_guard lock(mu_);
    e.last_attempt = Clock::now();
    if (ok) {
      e.keys = std::move(keys);
      e.fresh_until = *e.last_attempt + std::chrono::seconds(jwks_cache_seconds(r.cache_control));
      e.last_error.clear();
    } else {
      e.last_error = why;
    }
  }
  if (observer_) observer_(ok);
}

JwksCache::Lookup JwksCache::find(const std::string& url, const std::string& kid, jose::Alg alg) {
  Entry* e = nullptr;
  bool due = false;
  {
    std::lock_guard lock(mu_);
    auto& slot = entries_[url];
    if (!slot) slot = std::make_unique<Entry>();
    e = slot.get();  // entries are never erased: the pointer stays valid
    due = fetch_due(*e, kid, alg, Clock::now());
  }
  if (due) {
    std::unique_lock fetch(e->fetching, std::defer_lock);
    if (fetch.try_lock_for(std::chrono::milliseconds(opts_.timeout_ms))) {
      bool still_due = false;
      {
        std::lock_guard lock(mu_);
        still_due = fetch_due(*e, kid, alg, Clock::now());  // another request may just have
      }
      if (still_due) fetch_into(url, *e);
    }
  }
  Lookup out;
  std::lock_guard lock(mu_);
  out.keys = e->keys;
  if (!out.keys) {
    out.outcome = Outcome::unavailable;
    out.error = e->last_error.empty() ? "the key set is being fetched" : e->last_error;
    return out;
  }
  out.key = jose::find_key(*out.keys, kid, alg);
  out.outcome = out.key ? Outcome::found : Outcome::unknown_kid;
  return out;
}

}  // namespace shortcred::tokens
