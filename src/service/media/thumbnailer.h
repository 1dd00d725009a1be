// Thumbnails with libvips, for the formats browsers show (JPEG, PNG, GIF, WebP). Untrusted
// loaders are blocked; every call is blocking and meant for a worker thread.
#pragma once

#include "core/result.h"

#include <string>
#include <string_view>

namespace despatch::media {

// Loads and starts libvips once per process, on first use (image_size and make_thumbnail
// call it): untrusted loaders blocked, no operation cache (buffers are freed after each
// call), one thread per operation (the worker pool is the parallelism).
Status init_vips();

// True for the source types thumbnails are made from.
bool thumbnailable(std::string_view content_type);

struct ImageSize {
  int width = 0, height = 0;
};
// Reads only the header of an image.
Result<ImageSize> image_size(std::string_view data);

struct Thumbnail {
  std::string bytes;
  std::string content_type;  // image/png (sources with transparency) or image/jpeg
  int width = 0, height = 0;
};

// "scale": the largest size that fits in width x height, keeping the aspect ratio.
// "crop": exactly width x height, cut from the centre. Never upscales.
Result<Thumbnail> make_thumbnail(std::string_view data, int width, int height, bool crop);

}  // namespace despatch::media
