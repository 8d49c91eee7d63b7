#include "support/mqtt5_raw.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace support {
namespace {

// MQTT 5 wire format (OASIS MQTT 5.0, sections 1.5 and 2): a fixed header
// byte (type << 4 | flags), the remaining length as a variable byte integer
// (7 bits a byte, high bit = more), then the variable header and payload.
// Strings and binary data are a two-byte big-endian length plus the bytes;
// properties are a variable-byte length followed by (identifier, value) pairs.
void put_varint(std::string& out, std::size_t n) {
  do {
    auto b = static_cast<std::uint8_t>(n % 128);
    n /= 128;
    if (n > 0) b |= 0x80;
    out.push_back(static_cast<char>(b));
  } while (n > 0);
}
void put_u16(std::string& out, std::size_t n) {
  out.push_back(static_cast<char>((n >> 8) & 0xff));
  out.push_back(static_cast<char>(n & 0xff));
}
void put_str(std::string& out, std::string_view s) {
  put_u16(out, s.size());
  out.append(s);
}
std::string auth_properties(const std::string& method, const std::string& data) {
  std::string props;
  props.push_back(0x15);  // Authentication Method (UTF-8 string)
  put_str(props, method);
  props.push_back(0x16);  // Authentication Data (binary data)
  put_str(props, data);
  std::string out;
  put_varint(out, props.size());
  return out + props;
}

}  // namespace

Mqtt5Raw::~Mqtt5Raw() {
  if (fd_ >= 0) ::close(fd_);
}

bool Mqtt5Raw::send_packet(std::uint8_t first, const std::string& body) {
  std::string pkt(1, static_cast<char>(first));
  put_varint(pkt, body.size());
  pkt += body;
  std::size_t off = 0;
  while (off < pkt.size()) {
    const ssize_t n = ::send(fd_, pkt.data() + off, pkt.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

bool Mqtt5Raw::read_exact(void* buf, std::size_t n, std::chrono::steady_clock::time_point deadline,
                          bool& timed_out) {
  auto* p = static_cast<char*>(buf);
  std::size_t got = 0;
  while (got < n) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      return false;
    }
    pollfd pfd{fd_, POLLIN, 0};
    const int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;  // re-check the deadline
    const ssize_t k = ::recv(fd_, p + got, n - got, 0);
    if (k <= 0) return false;
    got += static_cast<std::size_t>(k);
  }
  return true;
}

Mqtt5Raw::Reply Mqtt5Raw::read_reply(unsigned wanted, std::chrono::milliseconds timeout) {
  Reply r;
  if (fd_ < 0) {
    r.closed = true;
    return r;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    bool timed_out = false;
    std::uint8_t first = 0;
    std::size_t len = 0;
    bool ok = read_exact(&first, 1, deadline, timed_out);
    for (int shift = 0; ok && shift < 28; shift += 7) {
      std::uint8_t b = 0;
      ok = read_exact(&b, 1, deadline, timed_out);
      len |= static_cast<std::size_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) break;
    }
    std::string body(len, '\0');
    if (ok && len > 0) ok = read_exact(body.data(), len, deadline, timed_out);
    if (!ok) {
      (timed_out ? r.timeout : r.closed) = true;
      return r;
    }
    const int type = first >> 4;
    if ((wanted & (1u << type)) == 0 && type != kDisconnect) continue;
    r.type = type;
    // Where the reason code sits: CONNACK after the flags byte, SUBACK after
    // the packet id and properties, AUTH and DISCONNECT first (absent = 0).
    std::size_t at = 0;
    if (type == kConnack) {
      at = 1;
    } else if (type == kSuback) {
      at = 2;
      std::size_t plen = 0;
      for (int shift = 0; at < body.size(); shift += 7) {
        const auto b = static_cast<std::uint8_t>(body[at++]);
        plen |= static_cast<std::size_t>(b & 0x7f) << shift;
        if ((b & 0x80) == 0) break;
      }
      at += plen;
    }
    r.reason = at < body.size() ? static_cast<std::uint8_t>(body[at]) : 0;
    return r;
  }
}

Mqtt5Raw::Reply Mqtt5Raw::connect(int port, const std::string& client_id,
                                  const std::string& username, const std::string& auth_method,
                                  const std::string& auth_data, std::chrono::milliseconds timeout) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    Reply r;
    r.closed = true;
    return r;
  }
  std::string body;
  put_str(body, "MQTT");
  body.push_back(5);                               // protocol version
  body.push_back(static_cast<char>(0x80 | 0x02));  // username, clean start
  put_u16(body, 60);                               // keep alive (s)
  body += auth_properties(auth_method, auth_data);
  put_str(body, client_id);
  put_str(body, username);
  if (!send_packet(0x10, body)) {
    Reply r;
    r.closed = true;
    return r;
  }
  return read_reply(1u << kConnack, timeout);
}

Mqtt5Raw::Reply Mqtt5Raw::auth(int reason, const std::string& auth_method,
                               const std::string& auth_data, std::chrono::milliseconds timeout) {
  std::string body(1, static_cast<char>(reason));
  body += auth_properties(auth_method, auth_data);
  if (fd_ < 0 || !send_packet(0xF0, body)) {
    Reply r;
    r.closed = true;
    return r;
  }
  // Mosquitto 2.0.11 answers a refused re-authentication with a CONNACK.
  return read_reply((1u << kAuth) | (1u << kConnack), timeout);
}

Mqtt5Raw::Reply Mqtt5Raw::subscribe(const std::string& filter, std::chrono::milliseconds timeout) {
  std::string body;
  put_u16(body, next_id_++);
  body.push_back(0);  // no properties
  put_str(body, filter);
  body.push_back(0);  // QoS 0
  if (fd_ < 0 || !send_packet(0x82, body)) {
    Reply r;
    r.closed = true;
    return r;
  }
  return read_reply(1u << kSuback, timeout);
}

bool Mqtt5Raw::alive(std::chrono::milliseconds within) {
  if (fd_ < 0 || !send_packet(0xC0, "")) return false;  // PINGREQ
  const Reply r = read_reply(1u << 13, within);         // PINGRESP
  return r.type == 13;
}

bool Mqtt5Raw::wait_closed(std::chrono::milliseconds timeout) {
  const Reply r = read_reply(0, timeout);
  return r.closed || r.type == kDisconnect;
}

}  // namespace support
