#include "service/media/thumbnailer.h"

#include "core/log.h"

#include <dlfcn.h>
#include <vips/vips.h>

#include <memory>
#include <mutex>

namespace despatch::media {
namespace {

// libvips and the hundred libraries it pulls in (about 20 MB resident) are loaded on the
// first thumbnail, not at start-up: an idle server, or one that never makes thumbnails, does
// not carry them. Only its headers are used at build time; every call goes through here.
struct Vips {
  decltype(&vips_init) init = nullptr;
  decltype(&vips_block_untrusted_set) block_untrusted_set = nullptr;
  decltype(&vips_cache_set_max) cache_set_max = nullptr;
  decltype(&vips_concurrency_set) concurrency_set = nullptr;
  decltype(&vips_error_buffer) error_buffer = nullptr;
  decltype(&vips_error_clear) error_clear = nullptr;
  decltype(&vips_image_new_from_buffer) image_new_from_buffer = nullptr;
  decltype(&vips_image_get_width) image_get_width = nullptr;
  decltype(&vips_image_get_height) image_get_height = nullptr;
  decltype(&vips_image_hasalpha) image_hasalpha = nullptr;
  decltype(&vips_thumbnail_buffer) thumbnail_buffer = nullptr;
  decltype(&vips_image_write_to_buffer) image_write_to_buffer = nullptr;
  decltype(&g_object_unref) object_unref = nullptr;
  decltype(&g_free) free = nullptr;
};

Vips g_vips;

template <class F>
bool resolve(void* lib, const char* name, F* out) {
  *out = reinterpret_cast<F>(dlsym(lib, name));
  return *out != nullptr;
}

bool load_vips(std::string* why) {
  void* lib = nullptr;
  for (const char* name : {"libvips.so.42", "libvips.so"})
    if ((lib = dlopen(name, RTLD_NOW | RTLD_LOCAL))) break;
  if (!lib) {
    *why = dlerror();
    return false;
  }
  Vips& v = g_vips;
  bool ok = resolve(lib, "vips_init", &v.init) && resolve(lib, "vips_block_untrusted_set", &v.block_untrusted_set) &&
            resolve(lib, "vips_cache_set_max", &v.cache_set_max) &&
            resolve(lib, "vips_concurrency_set", &v.concurrency_set) &&
            resolve(lib, "vips_error_buffer", &v.error_buffer) && resolve(lib, "vips_error_clear", &v.error_clear) &&
            resolve(lib, "vips_image_new_from_buffer", &v.image_new_from_buffer) &&
            resolve(lib, "vips_image_get_width", &v.image_get_width) &&
            resolve(lib, "vips_image_get_height", &v.image_get_height) &&
            resolve(lib, "vips_image_hasalpha", &v.image_hasalpha) &&
            resolve(lib, "vips_thumbnail_buffer", &v.thumbnail_buffer) &&
            resolve(lib, "vips_image_write_to_buffer", &v.image_write_to_buffer) &&
            resolve(lib, "g_object_unref", &v.object_unref) && resolve(lib, "g_free", &v.free);
  if (!ok) *why = "a libvips function is missing";
  return ok;
}

struct Unref {
  void operator()(VipsImage* im) const { g_vips.object_unref(im); }
};
using ImagePtr = std::unique_ptr<VipsImage, Unref>;

Error vips_failure(const char* what) {
  std::string msg = std::string(what) + ": " + g_vips.error_buffer();
  g_vips.error_clear();
  while (!msg.empty() && msg.back() == '\n') msg.pop_back();
  return Error::make(400, errc::kUnknown, "Cannot generate a thumbnail for this content (" + msg + ")");
}

}  // namespace

Status init_vips() {
  static std::once_flag once;
  static bool ok = false;
  std::call_once(once, [] {
    std::string why;
    if (!load_vips(&why)) {
      DS_LOG(kError, "media: cannot load libvips: {}", why);
      return;
    }
    if (g_vips.init("despatch") != 0) return;
    g_vips.block_untrusted_set(TRUE);
    g_vips.cache_set_max(0);
    g_vips.concurrency_set(1);
    ok = true;
  });
  if (!ok) return Error::internal("libvips failed to start");
  return ok_status();
}

bool thumbnailable(std::string_view t) {
  return t == "image/jpeg" || t == "image/png" || t == "image/gif" || t == "image/webp";
}

Result<ImageSize> image_size(std::string_view data) {
  DS_TRY(init_vips());
  ImagePtr im(g_vips.image_new_from_buffer(data.data(), data.size(), "", nullptr));
  if (!im) return vips_failure("not a readable image");
  return ImageSize{g_vips.image_get_width(im.get()), g_vips.image_get_height(im.get())};
}

Result<Thumbnail> make_thumbnail(std::string_view data, int width, int height, bool crop) {
  DS_TRY(init_vips());
  VipsImage* raw = nullptr;
  // Non-const void* in the libvips signature; the buffer is only read.
  if (g_vips.thumbnail_buffer(const_cast<char*>(data.data()), data.size(), &raw, width, "height", height,
                            "size", VIPS_SIZE_DOWN, "crop",
                            crop ? VIPS_INTERESTING_CENTRE : VIPS_INTERESTING_NONE, nullptr) != 0)
    return vips_failure("thumbnail");
  ImagePtr out(raw);
  Thumbnail t;
  t.width = g_vips.image_get_width(out.get());
  t.height = g_vips.image_get_height(out.get());
  bool alpha = g_vips.image_hasalpha(out.get());
  void* buf = nullptr;
  size_t len = 0;
  const char* fmt = alpha ? ".png[strip]" : ".jpg[Q=85,strip]";
  if (g_vips.image_write_to_buffer(out.get(), fmt, &buf, &len, nullptr) != 0) return vips_failure("encode");
  t.bytes.assign(static_cast<const char*>(buf), len);
  g_vips.free(buf);
  t.content_type = alpha ? "image/png" : "image/jpeg";
  return t;
}

}  // namespace despatch::media
