#include "tls_context.hpp"

#include <arpa/inet.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>

namespace shortcred::redis {
namespace {

std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

bool readable(const std::string& option, const std::string& path, std::string& err) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    err = option + " '" + path + "' cannot be read: " + std::strerror(errno);
    return false;
  }
  std::fclose(f);
  return true;
}

// A socket BIO whose writes use MSG_NOSIGNAL: a server that went away must
// not kill a process that leaves SIGPIPE at its default (shortcredctl, the
// tests), as OpenSSL's own socket BIO (write(2)) would.
struct SocketState {
  int fd;
  bool eof = false;
};

int bio_write(BIO* b, const char* data, int len) {
  auto* st = static_cast<SocketState*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  const ssize_t n = ::send(st->fd, data, static_cast<std::size_t>(len), MSG_NOSIGNAL);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) BIO_set_retry_write(b);
  return static_cast<int>(n);
}

int bio_read(BIO* b, char* data, int len) {
  auto* st = static_cast<SocketState*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  const ssize_t n = ::recv(st->fd, data, static_cast<std::size_t>(len), 0);
  if (n == 0) st->eof = true;
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) BIO_set_retry_read(b);
  return static_cast<int>(n);
}

long bio_ctrl(BIO* b, int cmd, long, void*) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_EOF:
      return static_cast<SocketState*>(BIO_get_data(b))->eof ? 1 : 0;
    default:
      return 0;
  }
}

int bio_destroy(BIO* b) {
  delete static_cast<SocketState*>(BIO_get_data(b));
  BIO_set_data(b, nullptr);
  return 1;
}

const BIO_METHOD* socket_method() {
  static const BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "shortcred socket");
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_destroy(m, bio_destroy);
    return m;
  }();
  return method;
}

SSL_CTX* build_context(const RedisTls& tls, std::string& err) {
  for (const auto& [option, path] : {std::pair<const char*, const std::string&>{"ca_file", tls.ca_file},
                                     {"cert_file", tls.cert_file},
                                     {"key_file", tls.key_file}}) {
    if (!path.empty() && !readable(option, path, err)) return nullptr;
  }
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    err = "cannot create a TLS context: " + openssl_error();
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // A close without close_notify is an ordinary "server closed the
  // connection" to us, not a protocol error.
  SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_verify(ctx.get(), tls.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  if (tls.verify) {
    const bool loaded = tls.ca_file.empty()
                            ? SSL_CTX_set_default_verify_paths(ctx.get()) == 1
                            : SSL_CTX_load_verify_locations(ctx.get(), tls.ca_file.c_str(), nullptr) == 1;
    if (!loaded) {
      err = (tls.ca_file.empty() ? std::string("the system trust store")
                                 : "ca_file '" + tls.ca_file + "'") +
            " cannot be loaded: " + openssl_error();
      return nullptr;
    }
  }
  if (!tls.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), tls.cert_file.c_str()) != 1) {
      err = "cert_file '" + tls.cert_file + "' cannot be loaded: " + openssl_error();
      return nullptr;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      err = "key_file '" + tls.key_file + "' cannot be loaded: " + openssl_error();
      return nullptr;
    }
    if (SSL_CTX_check_private_key(ctx.get()) != 1) {
      err = "key_file '" + tls.key_file + "' does not match cert_file '" + tls.cert_file + "'";
      return nullptr;
    }
  }
  return ctx.release();
}

bool is_ip_address(const std::string& name) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

}  // namespace

SslCtxPtr tls_client_context(const RedisTls& tls, std::string& err) {
  // Contexts live for the process: there are as many as distinct TLS option
  // sets in its configuration, usually one. A changed file on disk is read
  // at the next start.
  static std::mutex mu;
  static std::map<std::string, SslCtxPtr> cache;
  const std::string key = tls.ca_file + '\n' + tls.cert_file + '\n' + tls.key_file + '\n' +
                          (tls.verify ? "full" : "none");
  std::lock_guard lock(mu);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  SSL_CTX* raw = build_context(tls, err);
  if (raw == nullptr) return nullptr;
  SslCtxPtr ctx(raw, SslCtxFree{});
  cache.emplace(key, ctx);
  return ctx;
}

SslPtr tls_session(SSL_CTX& ctx, int fd, const std::string& name, bool verify, std::string& err) {
  SslPtr ssl(SSL_new(&ctx));
  BIO* bio = BIO_new(socket_method());
  if (!ssl || bio == nullptr) {
    BIO_free(bio);
    err = "cannot create a TLS session: " + openssl_error();
    return nullptr;
  }
  BIO_set_data(bio, new SocketState{fd});
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl.get(), bio, bio);  // the session owns the BIO now
  const bool ip = is_ip_address(name);
  if (!ip && SSL_set_tlsext_host_name(ssl.get(), name.c_str()) != 1) {
    err = "server name '" + name + "' cannot be sent (SNI): " + openssl_error();
    return nullptr;
  }
  if (verify) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                      : SSL_set1_host(ssl.get(), name.c_str());
    if (ok != 1) {
      err = "server name '" + name + "' cannot be verified: " + openssl_error();
      return nullptr;
    }
  }
  return ssl;
}

std::string tls_failure_text(SSL* ssl, int ssl_error) {
  const long verdict = SSL_get_verify_result(ssl);
  if (verdict != X509_V_OK) {
    return std::string("certificate verification failed: ") +
           X509_verify_cert_error_string(verdict);
  }
  if (ERR_peek_error() != 0) return openssl_error();
  if (ssl_error == SSL_ERROR_SYSCALL && errno != 0) return std::strerror(errno);
  return "the connection was closed during the TLS exchange";
}

}  // namespace shortcred::redis
