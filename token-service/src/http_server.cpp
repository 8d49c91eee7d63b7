// Transport of shortcred-tokend: cpp-httplib setup, limits and timeouts,
// JSON for every error httplib produces itself, the access log and metrics.
// The API handlers live in routes.cpp.
#include "shortcred/tokens/http_server.hpp"

#include <unistd.h>

#include <cstdlib>

#include "service_internal.hpp"
#include "shortcred/tokens/access_log.hpp"

namespace shortcred::tokens {
namespace {

thread_local RequestContext t_request;

std::string_view reason_code(int status) {
  switch (status) {
    case 400: return "bad_request";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 408: return "request_timeout";
    case 413: return "payload_too_large";
    case 414: return "uri_too_long";
    case 415: return "unsupported_media_type";
    case 416: return "range_not_satisfiable";
    default: return status >= 500 ? "internal_error" : "bad_request";
  }
}

bool is_json_content_type(const std::string& ct) {
  // `application/json`, optionally with parameters (`; charset=utf-8`).
  const std::string_view v(ct);
  const auto semi = v.find(';');
  std::string_view type = v.substr(0, semi);
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  if (type.size() != 16) return false;
  for (std::size_t i = 0; i < type.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(type[i])) != "application/json"[i]) return false;
  }
  return true;
}

bool declares_large_body(const httplib::Request& req) {
  if (!req.has_header("Content-Length")) return false;
  const std::string& v = req.get_header_value("Content-Length");
  char* end = nullptr;
  const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
  return end != v.c_str() && n > kMaxBodyBytes;
}

bool has_body(const httplib::Request& req) {
  if (req.has_header("Transfer-Encoding")) return true;
  return req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0";
}

// Checks that need only the request head: unknown route (404), wrong method
// (405), body over 16 KiB (413), wrong Content-Type (415). Returns true when
// `res` is the answer.
//
// Framing: cpp-httplib 0.11 cannot be told to close a connection from a
// handler, so a body that was announced must be consumed before we answer, or
// its bytes would be parsed as the next request (a desync; curl sends the body
// even after a final answer to `Expect: 100-continue`). So these checks run
// after httplib has read the body, which it never buffers beyond 16 KiB: a
// larger one gets httplib's own 413 (made JSON by the error handler) while the
// rest is read and discarded, each read bounded by --read-timeout.
bool reject_early(const RouteMatch& route, const httplib::Request& req, httplib::Response& res) {
  if (route.id == RouteId::none) {
    send_error(res, 404, "not_found", "no such route");
  } else if (!route.method_ok) {
    res.set_header("Allow", route.allow);
    send_error(res, 405, "method_not_allowed",
               std::string("this route accepts ") + route.allow);
  } else if (declares_large_body(req)) {
    send_error(res, 413, "payload_too_large", "the request body exceeds 16384 bytes");
  } else if (req.method == "POST" && (route.id == RouteId::create || has_body(req)) &&
             !is_json_content_type(req.get_header_value("Content-Type"))) {
    send_error(res, 415, "unsupported_media_type", "send Content-Type: application/json");
  } else {
    return false;
  }
  return true;
}

}  // namespace

RequestContext& current_request() { return t_request; }

HttpService::Impl::Impl(ServiceConfig c)
    : cfg(std::move(c)),
      pool(cfg.redis, std::chrono::milliseconds(cfg.redis_timeout_ms),
           [this] { metrics.add_redis_error(); }),
      limiter(cfg.issue_rate) {
  store.prefix = cfg.key_prefix;
  store.default_ttl = cfg.default_ttl;
  store.max_ttl = cfg.max_ttl;
}

HttpService::HttpService(ServiceConfig cfg) : impl_(std::make_unique<Impl>(std::move(cfg))) {}

HttpService::~HttpService() = default;

int HttpService::port() const { return impl_->port; }

bool HttpService::bind(std::string& err) {
  Impl& s = *impl_;
  if (!s.cfg.tls_cert.empty()) {
    auto tls = std::make_unique<httplib::SSLServer>(s.cfg.tls_cert.c_str(), s.cfg.tls_key.c_str());
    if (!tls->is_valid()) {
      err = "--tls-cert/--tls-key: cannot load the certificate and key";
      return false;
    }
    s.server = std::move(tls);
  } else {
    s.server = std::make_unique<httplib::Server>();
  }
  httplib::Server& svr = *s.server;
  const int threads = s.cfg.threads;
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  svr.set_payload_max_length(kMaxBodyBytes);
  svr.set_read_timeout(s.cfg.read_timeout_s, 0);
  svr.set_write_timeout(5, 0);
  svr.set_keep_alive_timeout(s.cfg.idle_timeout_s);
  svr.set_keep_alive_max_count(100000);
  svr.set_tcp_nodelay(true);

  // Every method reaches one dispatcher, so a known path with the wrong
  // method is a 405 (httplib alone would say 404 or 400).
  const httplib::Server::Handler api = [&s](const httplib::Request& req,
                                            httplib::Response& res) {
    const RouteMatch route = match_route(req.method, req.path);
    if (!reject_early(route, req, res)) handle_route(s, route, req, res);
  };
  // A request without a body is served here, before httplib's routing, which
  // answers 400 to a POST without Content-Length (`curl -X POST` sends none).
  svr.set_pre_routing_handler([api](const httplib::Request& req, httplib::Response& res) {
    t_request.start = std::chrono::steady_clock::now();
    t_request.route = match_route(req.method, req.path).name;
    if (has_body(req)) return httplib::Server::HandlerResponse::Unhandled;
    api(req, res);
    return httplib::Server::HandlerResponse::Handled;
  });
  svr.Get(".*", api);
  svr.Post(".*", api);
  svr.Put(".*", api);
  svr.Patch(".*", api);
  svr.Delete(".*", api);
  svr.Options(".*", api);
  // Errors httplib answers by itself (400, 413 on a chunked body, 414…) get
  // the same JSON shape as ours.
  svr.set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, res.status, reason_code(res.status),
               "the request was refused (HTTP " + std::to_string(res.status) + ")");
    return httplib::Server::HandlerResponse::Handled;
  }));
  // One place for unexpected exceptions: log the type of failure, answer 500.
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res,
                               std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    const std::string line = "shortcred-tokend: request failed: " + what + "\n";
    [[maybe_unused]] auto n = ::write(2, line.data(), line.size());
    send_error(res, 500, "internal_error", "internal error");
  });
  svr.set_logger([&s](const httplib::Request& req, const httplib::Response& res) {
    RequestContext& c = t_request;
    double ms = -1;
    if (c.start) {
      ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - *c.start)
               .count();
    }
    s.metrics.observe_request(c.route, res.status, ms < 0 ? 0 : ms / 1000);
    write_access(AccessRecord{req.method, c.route, res.status, ms, c.org, c.key_id, c.token_id,
                              req.remote_addr},
                 s.cfg.log_json);
    c = RequestContext{};
  });

  const int port = s.cfg.listen_port == 0 ? svr.bind_to_any_port(s.cfg.listen_host)
                                          : (svr.bind_to_port(s.cfg.listen_host, s.cfg.listen_port)
                                                 ? s.cfg.listen_port
                                                 : -1);
  if (port < 0) {
    err = "--listen " + s.cfg.listen_host + ":" + std::to_string(s.cfg.listen_port) +
          ": cannot bind (address in use or not local?)";
    return false;
  }
  s.port = port;
  return true;
}

void HttpService::run() { impl_->server->listen_after_bind(); }

void HttpService::stop() {
  if (impl_->server) impl_->server->stop();
}

}  // namespace shortcred::tokens
