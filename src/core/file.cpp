#include "core/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace despatch {

Status fsync_path(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return Error::internal("open " + path + ": " + std::strerror(errno));
  int r = ::fsync(fd);
  ::close(fd);
  if (r != 0) return Error::internal("fsync " + path + ": " + std::strerror(errno));
  return ok_status();
}

Status write_file_durable(const std::string& path, std::string_view data, mode_t mode) {
  static std::atomic<uint64_t> serial{0};
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  std::string tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(serial++);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Error::internal("cannot write " + tmp + ": " + std::strerror(errno));
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t w = ::write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      std::string err = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return Error::internal("cannot write " + tmp + ": " + err);
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return Error::internal("cannot sync " + tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string err = std::strerror(errno);
    ::unlink(tmp.c_str());
    return Error::internal("cannot rename " + tmp + " to " + path + ": " + err);
  }
  return fsync_path(dir, O_RDONLY | O_DIRECTORY);
}

}  // namespace despatch
