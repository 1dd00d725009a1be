#include "service/media/thumbnailer.h"

#include <vips/vips.h>

#include <memory>
#include <mutex>

namespace despatch::media {
namespace {

struct Unref {
  void operator()(VipsImage* im) const { g_object_unref(im); }
};
using ImagePtr = std::unique_ptr<VipsImage, Unref>;

Error vips_failure(const char* what) {
  std::string msg = std::string(what) + ": " + vips_error_buffer();
  vips_error_clear();
  while (!msg.empty() && msg.back() == '\n') msg.pop_back();
  return Error::make(400, errc::kUnknown, "Cannot generate a thumbnail for this content (" + msg + ")");
}

}  // namespace

Status init_vips() {
  static std::once_flag once;
  static bool ok = false;
  std::call_once(once, [] {
    if (VIPS_INIT("despatch") != 0) return;
    vips_block_untrusted_set(TRUE);
    vips_cache_set_max(0);
    vips_concurrency_set(1);
    ok = true;
  });
  if (!ok) return Error::internal("libvips failed to start");
  return ok_status();
}

bool thumbnailable(std::string_view t) {
  return t == "image/jpeg" || t == "image/png" || t == "image/gif" || t == "image/webp";
}

Result<ImageSize> image_size(std::string_view data) {
  ImagePtr im(vips_image_new_from_buffer(data.data(), data.size(), "", nullptr));
  if (!im) return vips_failure("not a readable image");
  return ImageSize{vips_image_get_width(im.get()), vips_image_get_height(im.get())};
}

Result<Thumbnail> make_thumbnail(std::string_view data, int width, int height, bool crop) {
  VipsImage* raw = nullptr;
  // Non-const void* in the libvips signature; the buffer is only read.
  if (vips_thumbnail_buffer(const_cast<char*>(data.data()), data.size(), &raw, width, "height", height,
                            "size", VIPS_SIZE_DOWN, "crop",
                            crop ? VIPS_INTERESTING_CENTRE : VIPS_INTERESTING_NONE, nullptr) != 0)
    return vips_failure("thumbnail");
  ImagePtr out(raw);
  Thumbnail t;
  t.width = vips_image_get_width(out.get());
  t.height = vips_image_get_height(out.get());
  bool alpha = vips_image_hasalpha(out.get());
  void* buf = nullptr;
  size_t len = 0;
  const char* fmt = alpha ? ".png[strip]" : ".jpg[Q=85,strip]";
  if (vips_image_write_to_buffer(out.get(), fmt, &buf, &len, nullptr) != 0) return vips_failure("encode");
  t.bytes.assign(static_cast<const char*>(buf), len);
  g_free(buf);
  t.content_type = alpha ? "image/png" : "image/jpeg";
  return t;
}

}  // namespace despatch::media
