#include "service/media/clamd.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace despatch::media {
namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

Status send_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Error::internal(std::string("clamd: send: ") + std::strerror(errno));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return ok_status();
}

}  // namespace

Result<ScanResult> clamd_scan(const std::string& socket_path, std::string_view data, int timeout_seconds) {
  Fd s;
  s.fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s.fd < 0) return Error::internal(std::string("clamd: socket: ") + std::strerror(errno));
  timeval tv{timeout_seconds > 0 ? timeout_seconds : 30, 0};
  ::setsockopt(s.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(s.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) return Error::internal("clamd: socket path too long");
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  if (::connect(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return Error::internal("clamd: cannot connect to " + socket_path + ": " + std::strerror(errno));

  // "z" prefix: NUL-terminated command and reply.
  static constexpr char kCmd[] = "zINSTREAM";
  DS_TRY(send_all(s.fd, kCmd, sizeof kCmd));
  constexpr size_t kChunk = 256 * 1024;
  for (size_t off = 0; off < data.size(); off += kChunk) {
    size_t n = std::min(kChunk, data.size() - off);
    uint32_t len = htonl(static_cast<uint32_t>(n));
    DS_TRY(send_all(s.fd, reinterpret_cast<const char*>(&len), 4));
    // clamd answers early (and closes) when the stream passes its StreamMaxLength.
    Status st = send_all(s.fd, data.data() + off, n);
    if (!st.ok()) break;
  }
  uint32_t end = 0;
  (void)send_all(s.fd, reinterpret_cast<const char*>(&end), 4);

  std::string reply;
  char buf[512];
  for (;;) {
    ssize_t r = ::recv(s.fd, buf, sizeof buf, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Error::internal(std::string("clamd: no answer: ") + std::strerror(errno));
    if (r == 0) break;
    reply.append(buf, static_cast<size_t>(r));
    if (reply.find('\0') != std::string::npos || reply.size() > 4096) break;
  }
  if (auto z = reply.find('\0'); z != std::string::npos) reply.resize(z);
  while (!reply.empty() && (reply.back() == '\n' || reply.back() == ' ')) reply.pop_back();
  // "stream: OK", "stream: <signature> FOUND", or "<message> ERROR".
  constexpr std::string_view kOk = "stream: OK", kFound = " FOUND", kPrefix = "stream: ";
  if (reply == kOk) return ScanResult{};
  if (reply.size() > kFound.size() && reply.compare(reply.size() - kFound.size(), kFound.size(), kFound) == 0) {
    std::string sig = reply.substr(0, reply.size() - kFound.size());
    if (sig.rfind(kPrefix, 0) == 0) sig.erase(0, kPrefix.size());
    return ScanResult{false, sig};
  }
  return Error::internal("clamd: " + (reply.empty() ? std::string("connection closed without an answer") : reply));
}

}  // namespace despatch::media
