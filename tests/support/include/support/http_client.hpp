#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace support {

struct HttpResponse {
  long status = 0;  // 0: transport error (see error)
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string error;
};

// A libcurl easy handle (keep-alive across requests) for tests and benches.
class HttpClient {
 public:
  explicit HttpClient(std::string base_url, long timeout_ms = 5000);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // `headers` as "Name: value". A non-empty body with no Content-Type header
  // is sent as application/json.
  HttpResponse request(const std::string& method, const std::string& path,
                       const std::string& body = {},
                       const std::vector<std::string>& headers = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace support
