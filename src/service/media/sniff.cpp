#include "service/media/sniff.h"

#include "core/log.h"

#include <magic.h>

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

}  // namespace despatch::media
