#include "service/media/sniff.h"

#include "core/log.h"

#include <magic.h>

#include <array>
#include <cmath>

namespace despatch::media {
namespace {

// A magic_t is not safe to share between threads; each worker keeps its own.
struct MagicHandle {
  magic_t m = nullptr;
  MagicHandle() {
    m = magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR | MAGIC_NO_CHECK_COMPRESS | MAGIC_NO_CHECK_ELF);
    if (m && magic_load(m, nullptr) != 0) {
      DS_LOG(kError, "libmagic: cannot load its database: {}", magic_error(m));
      magic_close(m);
      m = nullptr;
    }
  }
  ~MagicHandle() {
    if (m) magic_close(m);
  }
};

}  // namespace

std::string sniff_content_type(std::string_view data) {
  thread_local MagicHandle h;
  if (!h.m || data.empty()) return "application/octet-stream";
  const char* t = magic_buffer(h.m, data.data(), data.size());
  if (!t) return "application/octet-stream";
  std::string type(t);
  // libmagic calls unrecognised bytes and empty files by these names.
  if (type == "application/x-empty" || type.find('/') == std::string::npos) return "application/octet-stream";
  return type;
}

bool looks_encrypted(std::string_view data) {
  // Too short to tell apart below 1 KiB.
  constexpr size_t kMin = 1024, kMax = 1 << 20;
  size_t n = std::min(data.size(), kMax);
  if (n < kMin) return false;
  std::array<size_t, 256> counts{};
  for (size_t i = 0; i < n; ++i) ++counts[static_cast<unsigned char>(data[i])];
  double h = 0;
  size_t seen = 0;
  for (size_t c : counts) {
    if (!c) continue;
    ++seen;
    double p = static_cast<double>(c) / static_cast<double>(n);
    h -= p * std::log2(p);
  }
  // Miller-Madow: the plug-in estimate runs low by about (bins - 1) / (2 n ln 2).
  h += static_cast<double>(seen - 1) / (2.0 * static_cast<double>(n) * std::log(2.0));
  return h > 7.8;  // random bytes: 7.9 and up at 1 KiB; programs 5 to 6.5, text under 5
}

}  // namespace despatch::media
