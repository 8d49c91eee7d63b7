// Transport of shortcred-tokend: cpp-httplib setup, limits and timeouts
// (workers, deadlines and per-address limits in connection_watchdog.hpp),
// JSON for every error httplib produces itself, the access log and metrics.
// The API handlers live in routes.cpp.
#include "shortcred/tokens/http_server.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

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

// Whether our content reader (below) reads this request's body. httplib 0.11
// reads nothing for GET, HEAD, OPTIONS and the like, and nothing for a DELETE
// without Content-Length (a chunked DELETE body stays in the socket).
bool body_is_read(const httplib::Request& req) {
  const std::string& m = req.method;
  if (m == "POST" || m == "PUT" || m == "PATCH") return true;
  return m == "DELETE" && req.has_header("Content-Length");
}

// Checks that need only the request head: unknown route (404), wrong method
// (405), declared body over 16 KiB (413), wrong Content-Type (415). Returns
// true when `res` is the answer.
bool reject_early(const RouteMatch& route, const httplib::Request& req, httplib::Response& res) {
  if (route.id == RouteId::none) {
    send_error(res, 404, "not_found", "no such route");
  } else if (!route.method_ok) {
    res.set_header("Allow", route.allow);
    send_error(res, 405, "method_not_allowed",
               std::string("this route accepts ") + route.allow);
  } else if (declares_large_body(req)) {
    send_error(res, 413, "payload_too_large", "the request body exceeds 16384 bytes");
  } else if (req.method == "POST" && (route.id == RouteId::create || route.id == RouteId::exchange || has_body(req)) &&
             !is_json_content_type(req.get_header_value("Content-Type"))) {
    send_error(res, 415, "unsupported_media_type", "send Content-Type: application/json");
  } else {
    return false;
  }
  return true;
}

// Sends `res` (an error with a JSON body) and then closes the connection
// without reading what is left of the request.
//
// Why this is needed: a body we refuse to read (announced as 10 MB, chunked
// past 16 KiB, or sent where httplib never reads one) is still in the socket,
// and on a kept-alive connection httplib would parse it as the next request: a
// desync, and a way to smuggle requests past a proxy. cpp-httplib 0.11.4 has
// no API to close a connection from a handler. It closes when
//   (a) the request said `Connection: close` or was HTTP/1.0 without
//       keep-alive — decided once, right after the head is parsed, before any
//       handler runs — or the keep-alive count/idle timeout ran out; or
//   (b) writing the response failed (process_request returns false, its
//       keep-alive loop ends, the socket is shut down and closed).
// Setting `Connection: close` on the response does not count for (a): httplib
// adds its own `Connection`/`Keep-Alive` header from the *request* in
// write_response_core. So:
//   1. the request (a non-const local in httplib's process_request, handed to
//      us as const) is marked `Connection: close`, which only makes httplib
//      write `Connection: close` instead of `Keep-Alive: …`;
//   2. the body goes out through a content provider that writes all of it and
//      then returns false ("cancel"), so the response is complete on the wire
//      and httplib takes path (b).
// Not covered: HEAD (httplib writes no body, so never calls the provider).
void send_and_close(const httplib::Request& req, httplib::Response& res) {
  auto& writable = const_cast<httplib::Request&>(req);  // see 1. above
  writable.headers.erase("Connection");
  writable.set_header("Connection", "close");
  auto body = std::make_shared<std::string>(std::move(res.body));
  res.body.clear();
  if (body->empty()) *body = "{}";  // set_content_provider needs a length > 0
  const std::string type = "application/json";
  res.headers.erase("Content-Type");
  res.set_content_provider(body->size(), type,
                           [body](size_t offset, size_t length, httplib::DataSink& sink) {
                             sink.write(body->data() + offset, length);
                             return false;  // see 2. above: ends the connection
                           });
}

// Request bodies: only POST has one in this API. The head is checked first,
// in order:
//  - Expect: 100-continue with a declared body over 16 KiB: 413 instead of
//    `100 Continue`, connection closed, so the client never sends the body;
//  - Content-Length over 16 KiB (the pre-routing handler, which runs after
//    the head is parsed and before httplib reads any body): the early answer
//    (404, 405 or 413), connection closed, body never read;
//  - a body httplib would not read (GET with a body, chunked DELETE…): 400
//    (or the early answer), connection closed;
//  - otherwise the content reader reads the body itself, Content-Length or
//    chunked alike, and stops at 16 KiB: httplib 0.11 applies
//    set_payload_max_length only to Content-Length and buffers a chunked body
//    of any size. Over the limit → 413 and close; a body that cannot be read
//    (timeout, bad chunk framing) → 400 and close.
// A body within the limit is read whole before the early checks, so 404, 405
// and 415 answers keep the connection alive.
enum class Body { ok, too_large, unreadable };

Body read_body(const httplib::ContentReader& read, std::string& out) {
  bool too_large = false;
  const bool ok = read([&](const char* data, size_t n) {
    if (out.size() + n > kMaxBodyBytes) {
      too_large = true;
      return false;  // stop reading: the rest stays unread
    }
    out.append(data, n);
    return true;
  });
  if (too_large) return Body::too_large;
  return ok ? Body::ok : Body::unreadable;
}

// httplib's task queue: each accepted connection goes to the watchdog, which
// owns the workers (enqueue runs on the accept thread right after accept()).
class WatchedTaskQueue : public httplib::TaskQueue {
 public:
  explicit WatchedTaskQueue(ConnectionWatchdog& wd) : wd_(wd) {}
  void enqueue(std::function<void()> fn) override { wd_.admit(std::move(fn)); }
  void shutdown() override { wd_.stop_workers(); }

 private:
  ConnectionWatchdog& wd_;
};

// httplib reports only that binding failed; errno still holds why.
std::string bind_error(const char* flag, const std::string& host, int port, int error) {
  std::string e = std::string(flag) + " " + host_port(host, port) + ": ";
  if (error == EADDRINUSE && std::string_view(flag) == "--metrics-listen") {
    return e + "address already in use; pick another port";
  }
  if (error == EADDRINUSE) {
    return e + "address already in use (another shortcred-tokend?). Stop it, pick another " +
           "port, or start every process sharing the port with --reuse-port";
  }
  if (error == EADDRNOTAVAIL) return e + "not an address of this host";
  if (error == EACCES) return e + "permission denied (a port below 1024 needs privileges)";
  return e + "cannot bind" + (error != 0 ? std::string(" (") + std::strerror(error) + ")" : "");
}

// --- Request handlers: what httplib calls for each request ---

// Tells the watchdog the head is parsed (a body may still be arriving) and
// starts the access log record and the latency measurement.
void start_request(const httplib::Request& req) {
  ConnectionWatchdog::head_received();
  t_request.start = std::chrono::steady_clock::now();
  t_request.route = match_route(req.method, req.path).name;
}

// Every method reaches this one dispatcher, so a known path with the wrong
// method is a 405 (httplib alone would say 404 or 400).
void dispatch(HttpService::Impl& s, const httplib::Request& req, httplib::Response& res) {
  const RouteMatch route = match_route(req.method, req.path);
  if (!reject_early(route, req, res)) handle_route(s, route, req, res);
}

// Expect: 100-continue with a declared body over 16 KiB: the early answer
// instead of `100 Continue`, so the client never sends the body.
int answer_expect_continue(const httplib::Request& req, httplib::Response& res) {
  if (!declares_large_body(req)) return 100;
  start_request(req);
  reject_early(match_route(req.method, req.path), req, res);
  const std::size_t length = res.body.size();
  send_and_close(req, res);
  // httplib writes this answer with write_response, which (unlike the
  // routed path) adds no Content-Length for a content provider.
  res.set_header("Content-Length", std::to_string(length));
  return res.status;
}

// Serves every request whose body we need not read, before httplib's
// routing (which would answer 400 to a POST without Content-Length, as
// `curl -X POST` sends) and before httplib reads any body.
httplib::Server::HandlerResponse serve_before_body(HttpService::Impl& s,
                                                   const httplib::Request& req,
                                                   httplib::Response& res) {
  start_request(req);
  if (has_body(req) && body_is_read(req) && !declares_large_body(req)) {
    return httplib::Server::HandlerResponse::Unhandled;  // serve_with_body reads it
  }
  ConnectionWatchdog::request_received();
  if (!has_body(req)) {
    dispatch(s, req, res);
  } else if (declares_large_body(req)) {
    reject_early(match_route(req.method, req.path), req, res);
    send_and_close(req, res);
  } else {  // a body httplib would not read
    if (!reject_early(match_route(req.method, req.path), req, res)) {
      send_error(res, 400, "bad_request", req.method + " requests take no body here");
    }
    send_and_close(req, res);
  }
  return httplib::Server::HandlerResponse::Handled;
}

// Reads the body with our own limit (see read_body), then dispatches; a body
// over the limit or unreadable closes the connection (see send_and_close).
void serve_with_body(HttpService::Impl& s, const httplib::Request& req, httplib::Response& res,
                     const httplib::ContentReader& read) {
  std::string body;
  const Body got = read_body(read, body);
  ConnectionWatchdog::request_received();
  switch (got) {
    case Body::ok:
      // httplib's own reader would have stored the body here too.
      const_cast<httplib::Request&>(req).body = std::move(body);
      return dispatch(s, req, res);
    case Body::too_large:
      send_error(res, 413, "payload_too_large", "the request body exceeds 16384 bytes");
      return send_and_close(req, res);
    case Body::unreadable:
      send_error(res, 400, "bad_request", "the request body could not be read");
      return send_and_close(req, res);
  }
}

// Errors httplib answers by itself (400 on a bad head, 414…) get the same
// JSON shape as ours. A response that already has content (a body, or the
// provider of send_and_close, which sets Content-Type) is ours: leave it.
httplib::Server::HandlerResponse answer_httplib_error(const httplib::Request&,
                                                      httplib::Response& res) {
  if (!res.body.empty() || res.has_header("Content-Type")) {
    return httplib::Server::HandlerResponse::Unhandled;
  }
  send_error(res, res.status, reason_code(res.status),
             "the request was refused (HTTP " + std::to_string(res.status) + ")");
  return httplib::Server::HandlerResponse::Handled;
}

// One place for unexpected exceptions: log the type of failure, answer a
// generic 500 (the detail stays in the log, never in the answer).
void answer_exception(const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  log_event("request_failed", "request failed: " + what);
  send_error(res, 500, "internal_error", "internal error");
}

// Runs once the response is written: the API key's last_used_at (if due),
// the access log line and the request metrics, then this thread's request
// context is cleared for the next one. The latency logged is the answer's,
// measured before the last_used_at write.
void log_request(HttpService::Impl& s, const httplib::Request& req, const httplib::Response& res) {
  ConnectionWatchdog::response_written();
  RequestContext& c = t_request;
  double ms = -1;
  if (c.start) {
    ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - *c.start)
             .count();
  }
  // Before the request is counted, so that a counted request's write is done.
  touch_last_used(s);
  s.metrics.observe_request(req.method, c.route, res.status, ms < 0 ? 0 : ms / 1000);
  write_access(AccessRecord{req.method, c.route, res.status, ms, c.org, c.key_id, c.token_id,
                            req.remote_addr},
               s.cfg.log_json);
  c = RequestContext{};
}

// --- Setup steps of HttpService::bind ---

// HTTPS when --tls-cert is given, else plain HTTP. Null, and `err`, when the
// certificate and key cannot be loaded.
std::unique_ptr<httplib::Server> make_server(const ServiceConfig& cfg, std::string& err) {
  if (cfg.tls_cert.empty()) return std::make_unique<httplib::Server>();
  auto tls = std::make_unique<httplib::SSLServer>(cfg.tls_cert.c_str(), cfg.tls_key.c_str());
  if (!tls->is_valid()) {
    err = "--tls-cert/--tls-key: cannot load the certificate and key";
    return nullptr;
  }
  return tls;
}

// Workers (the watchdog's, see WatchedTaskQueue), body size and timeouts.
void set_limits(httplib::Server& svr, HttpService::Impl& s) {
  svr.new_task_queue = [&s]() -> httplib::TaskQueue* { return new WatchedTaskQueue(*s.watchdog); };
  svr.set_payload_max_length(kMaxBodyBytes);
  svr.set_read_timeout(s.cfg.read_timeout_s, 0);
  svr.set_write_timeout(5, 0);
  svr.set_keep_alive_timeout(s.cfg.idle_timeout_s);
  svr.set_keep_alive_max_count(100000);
  svr.set_tcp_nodelay(true);
}

// The request path, in the order httplib runs it: Expect: 100-continue, the
// pre-routing handler (requests whose body we do not read), then the routes
// (only methods with a body read it, see the comment above read_body).
void set_handlers(httplib::Server& svr, HttpService::Impl& s) {
  svr.set_expect_100_continue_handler(answer_expect_continue);
  svr.set_pre_routing_handler([&s](const httplib::Request& req, httplib::Response& res) {
    return serve_before_body(s, req, res);
  });
  const httplib::Server::Handler api = [&s](const httplib::Request& req, httplib::Response& res) {
    dispatch(s, req, res);
  };
  const httplib::Server::HandlerWithContentReader with_body =
      [&s](const httplib::Request& req, httplib::Response& res,
           const httplib::ContentReader& read) { serve_with_body(s, req, res, read); };
  svr.Get(".*", api);
  svr.Post(".*", with_body);
  svr.Put(".*", with_body);
  svr.Patch(".*", with_body);
  svr.Delete(".*", with_body);
  svr.Options(".*", api);
  svr.set_error_handler(httplib::Server::HandlerWithResponse(answer_httplib_error));
  svr.set_exception_handler(answer_exception);
  svr.set_logger([&s](const httplib::Request& req, const httplib::Response& res) {
    log_request(s, req, res);
  });
}

// Binds --listen; returns the port (the kernel's choice for port 0), or -1
// with errno saying why.
int bind_listener(httplib::Server& svr, const ServiceConfig& cfg) {
  // httplib's default options set SO_REUSEPORT, which lets a second service
  // bind a port that is in use and take half its connections. SO_REUSEADDR
  // only (a restart need not wait for TIME_WAIT), unless --reuse-port asks.
  // httplib calls this only while binding, so `listening` outlives its use.
  const bool reuse_port = cfg.reuse_port;
  int listening = -1;  // the last socket httplib set up is the one it bound
  svr.set_socket_options([reuse_port, &listening](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (reuse_port) ::setsockopt(sock, SOL_SOCKET, SO_REUSEPORT, &yes, sizeof yes);
    listening = sock;
  });
  errno = 0;
  const int port =
      cfg.listen_port == 0
          ? svr.bind_to_any_port(cfg.listen_host)
          : (svr.bind_to_port(cfg.listen_host, cfg.listen_port) ? cfg.listen_port : -1);
  if (port < 0) return -1;
  // httplib 0.11 listens with a backlog of 5: a burst of connects from one
  // peer fills it and everyone else's handshakes are dropped (retried after
  // 1 s, 3 s…). listen(2) again on the bound socket raises it; the accept
  // thread drains it at once, and refuses what --max-conns-per-ip forbids.
  if (listening >= 0) ::listen(listening, SOMAXCONN);
  return port;
}

// --metrics-listen: a plain HTTP server answering GET /metrics and nothing
// else (404 in the API's JSON shape), on two threads of its own so a scrape
// never waits for an API worker. Scrapes here are neither logged nor counted
// in shortcred_http_requests_total (a scraper every 15 s would fill the log).
// No SO_REUSEPORT: a second process must not take half the scrapes.
bool bind_metrics(HttpService::Impl& s, std::string& err) {
  auto m = std::make_unique<httplib::Server>();
  m->new_task_queue = [] { return new httplib::ThreadPool(2); };
  m->set_read_timeout(5, 0);
  m->set_write_timeout(5, 0);
  m->set_keep_alive_timeout(5);
  m->set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  m->Get("/metrics", [&s](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_text(s), "text/plain; version=0.0.4");
  });
  m->set_error_handler(httplib::Server::HandlerWithResponse(answer_httplib_error));
  m->set_exception_handler(answer_exception);
  errno = 0;
  const ServiceConfig& c = s.cfg;
  const int port = c.metrics_port == 0
                       ? m->bind_to_any_port(c.metrics_host)
                       : (m->bind_to_port(c.metrics_host, c.metrics_port) ? c.metrics_port : -1);
  if (port < 0) {
    err = bind_error("--metrics-listen", c.metrics_host, c.metrics_port, errno);
    return false;
  }
  s.metrics_port = port;
  s.metrics_server = std::move(m);
  return true;
}

}  // namespace

RequestContext& current_request() { return t_request; }

std::string metrics_text(const HttpService::Impl& svc) {
  return svc.metrics.render(svc.pool.up());
}

HttpService::Impl::Impl(ServiceConfig c)
    : cfg(std::move(c)),
      // WAIT may block for --replica-timeout-ms: on top of the command
      // timeout, or a missing replica would read as a frozen Redis.
      pool(cfg.redis,
           std::chrono::milliseconds(cfg.redis_timeout_ms +
                                     (cfg.min_replicas > 0 ? cfg.replica_timeout_ms : 0)),
           [this] { metrics.add_redis_error(); }),
      limiter(cfg.issue_rate),
      jwks(JwksFetchOptions{cfg.jwks_ca_file, cfg.jwks_timeout_ms},
           [this](bool ok) { metrics.add_jwks_fetch(ok); }) {
  store.prefix = cfg.key_prefix;
  store.default_ttl = cfg.default_ttl;
  store.max_ttl = cfg.max_ttl;
  store.durability = {cfg.min_replicas, cfg.replica_timeout_ms};
  store.warn = [](const std::string& what) { log_event("stored_value", what); };
}

HttpService::HttpService(ServiceConfig cfg) : impl_(std::make_unique<Impl>(std::move(cfg))) {}

HttpService::~HttpService() = default;

int HttpService::port() const { return impl_->port; }

int HttpService::metrics_port() const {
  return impl_->metrics_port;
}

bool HttpService::bind(std::string& err) {
  Impl& s = *impl_;
  std::unique_ptr<httplib::Server> server = make_server(s.cfg, err);
  if (!server) return false;
  s.server = std::move(server);
  set_limits(*s.server, s);
  set_handlers(*s.server, s);
  const int port = bind_listener(*s.server, s.cfg);
  if (port < 0) {
    err = bind_error("--listen", s.cfg.listen_host, s.cfg.listen_port, errno);
    return false;
  }
  s.port = port;
  if (s.cfg.separate_metrics() && !bind_metrics(s, err)) return false;
  s.watchdog = std::make_unique<ConnectionWatchdog>(
      ConnectionLimits{std::chrono::seconds(s.cfg.read_timeout_s), s.cfg.threads,
                       s.cfg.max_conns_per_ip},
      port, [](const std::string& line) { log_event("connections_refused", line); });
  return true;
}

void HttpService::run() {
  Impl& s = *impl_;
  if (s.metrics_server)
    s.metrics_thread = std::thread([&s] { s.metrics_server->listen_after_bind(); });
  s.server->listen_after_bind();
  if (s.metrics_server) {
    s.metrics_server->stop();  // also when listening on the API port failed
    s.metrics_thread.join();
  }
}

void HttpService::stop() {
  if (!impl_->server) return;
  impl_->server->stop();
  if (impl_->metrics_server) impl_->metrics_server->stop();
  // httplib notices the stop only between requests, after a keep-alive
  // connection's idle wait (up to --idle-timeout): end idle ones now.
  if (impl_->watchdog) impl_->watchdog->close_idle();
}

}  // namespace shortcred::tokens
