#include "support/tls_certs.hpp"

#include <stdexcept>
#include <vector>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace support {

namespace {
void openssl(std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  const RunResult r = run(args);
  if (r.exit_code != 0) {
    std::string cmd;
    for (const auto& a : args) cmd += a + " ";
    throw std::runtime_error("openssl failed (" + cmd + "):\n" + r.out + r.err);
  }
}
}  // namespace

TestCerts make_test_certs(const std::filesystem::path& dir) {
  const auto p = [&](const char* name) { return (dir / name).string(); };
  TestCerts c{p("ca.crt"), p("server.crt"), p("server.key"), p("client.crt"), p("client.key")};
  const std::vector<std::string> ec{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                    "-nodes"};
  auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  openssl(with({"req", "-x509", "-days", "2", "-subj", "/CN=shortcred test CA", "-keyout",
                p("ca.key"), "-out", c.ca_cert},
               ec));
  openssl(with({"req", "-subj", "/CN=localhost", "-keyout", c.server_key, "-out", p("server.csr")},
               ec));
  write_file(dir / "server.ext",
             "subjectAltName = IP:127.0.0.1, DNS:localhost\n"
             "basicConstraints = CA:FALSE\n"
             "keyUsage = digitalSignature\n"
             "extendedKeyUsage = serverAuth\n");
  openssl({"x509", "-req", "-days", "2", "-in", p("server.csr"), "-CA", c.ca_cert, "-CAkey",
           p("ca.key"), "-CAcreateserial", "-extfile", p("server.ext"), "-out", c.server_cert});
  openssl(with({"req", "-subj", "/CN=shortcred-client", "-keyout", c.client_key, "-out",
                p("client.csr")},
               ec));
  write_file(dir / "client.ext",
             "basicConstraints = CA:FALSE\n"
             "keyUsage = digitalSignature\n"
             "extendedKeyUsage = clientAuth\n");
  openssl({"x509", "-req", "-days", "2", "-in", p("client.csr"), "-CA", c.ca_cert, "-CAkey",
           p("ca.key"), "-CAcreateserial", "-extfile", p("client.ext"), "-out", c.client_cert});
  return c;
}

}  // namespace support
