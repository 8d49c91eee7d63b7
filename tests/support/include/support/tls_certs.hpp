#pragma once

#include <filesystem>
#include <string>

namespace support {

// A throwaway CA and a server certificate it signed for 127.0.0.1 and
// localhost (subjectAltName IP and DNS), EC P-256 keys, made with the openssl
// CLI in `dir`, and a client certificate (CN shortcred-client, clientAuth)
// from the same CA. PEM file paths; throws if openssl fails.
struct TestCerts {
  std::string ca_cert;      // trust anchor for clients (mosquitto `cafile`)
  std::string server_cert;  // mosquitto `certfile`
  std::string server_key;   // mosquitto `keyfile`
  std::string client_cert;  // signed by the same CA for TLS client authentication
  std::string client_key;
};
TestCerts make_test_certs(const std::filesystem::path& dir);

}  // namespace support
