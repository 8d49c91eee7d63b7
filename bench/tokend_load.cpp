// Load generator for shortcred-tokend: N keep-alive libcurl clients issue
// credentials (POST /v2/tokens) for a fixed time; reports tokens/s and the
// latency distribution. A benchmark, not a test: see run_tokend_bench.sh.
//
//   tokend_load --url http://127.0.0.1:8080 --api-key sk_... [--clients 32]
//               [--duration 20] [--users 1000]
#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Options {
  std::string url = "http://127.0.0.1:8080";
  std::string api_key;
  int clients = 32;
  int duration_s = 20;
  int users = 1000;
};

size_t discard(char*, size_t size, size_t n, void*) { return size * n; }

struct ClientResult {
  std::vector<double> latencies_ms;
  long errors = 0;
};

void client(const Options& o, int index, std::atomic<bool>& stop, ClientResult& out) {
  CURL* c = curl_easy_init();
  const std::string url = o.url + "/v2/tokens";
  const std::string auth = "Authorization: Bearer " + o.api_key;
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, auth.c_str());
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
  long n = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    const std::string body =
        R"({"user_id":"user)" + std::to_string((index * 7919 + n++) % o.users) + R"(","ttl_seconds":600})";
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    const auto t0 = std::chrono::steady_clock::now();
    const CURLcode rc = curl_easy_perform(c);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_OK && status == 201) {
      out.latencies_ms.push_back(ms);
    } else {
      ++out.errors;
    }
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1));
  return sorted[i];
}

int usage() {
  std::fprintf(stderr,
               "usage: tokend_load --api-key sk_... [--url URL] [--clients N] [--duration S] "
               "[--users N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const char* k = std::getenv("SHORTCRED_API_KEY")) o.api_key = k;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return usage();
    const std::string v = argv[++i];
    if (a == "--url") o.url = v;
    else if (a == "--api-key") o.api_key = v;
    else if (a == "--clients") o.clients = std::atoi(v.c_str());
    else if (a == "--duration") o.duration_s = std::atoi(v.c_str());
    else if (a == "--users") o.users = std::max(1, std::atoi(v.c_str()));
    else return usage();
  }
  if (o.api_key.empty() || o.clients < 1 || o.duration_s < 1) return usage();
  curl_global_init(CURL_GLOBAL_DEFAULT);

  std::atomic<bool> stop{false};
  std::vector<ClientResult> results(static_cast<std::size_t>(o.clients));
  std::vector<std::thread> threads;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < o.clients; ++i) {
    threads.emplace_back(client, std::cref(o), i, std::ref(stop), std::ref(results[i]));
  }
  std::this_thread::sleep_for(std::chrono::seconds(o.duration_s));
  stop = true;
  for (auto& t : threads) t.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::vector<double> all;
  long errors = 0;
  for (auto& r : results) {
    all.insert(all.end(), r.latencies_ms.begin(), r.latencies_ms.end());
    errors += r.errors;
  }
  std::sort(all.begin(), all.end());
  std::printf("clients=%d duration=%.1fs issued=%zu errors=%ld tokens/s=%.0f "
              "p50=%.2fms p90=%.2fms p99=%.2fms max=%.2fms\n",
              o.clients, secs, all.size(), errors, static_cast<double>(all.size()) / secs,
              percentile(all, 50), percentile(all, 90), percentile(all, 99),
              all.empty() ? 0.0 : all.back());
  curl_global_cleanup();
  return errors > 0 && all.empty() ? 1 : 0;
}
