// OpenSSL pieces of the transport: client contexts (one per distinct set of
// TLS options, built once and shared, since loading a CA bundle costs far
// more than a handshake) and per-connection sessions with hostname
// verification and SNI.
#pragma once

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "shortcred/redis_url.hpp"

namespace shortcred::redis {

struct SslCtxFree {
  void operator()(SSL_CTX* c) const noexcept { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const noexcept { SSL_free(s); }
};
using SslCtxPtr = std::shared_ptr<SSL_CTX>;
using SslPtr = std::unique_ptr<SSL, SslFree>;

// The shared context for `tls`, or null with `err` naming the file or
// setting that failed.
SslCtxPtr tls_client_context(const RedisTls& tls, std::string& err);

// A session on `fd` that verifies `name` (a DNS name or an IP address; SNI
// is sent for DNS names only, as RFC 6066 asks) unless `verify` is false.
SslPtr tls_session(SSL_CTX& ctx, int fd, const std::string& name, bool verify, std::string& err);

// Why an SSL call failed: the certificate verdict if verification failed,
// else OpenSSL's error queue, else the errno text.
std::string tls_failure_text(SSL* ssl, int ssl_error);

}  // namespace shortcred::redis
