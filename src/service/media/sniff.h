// Content-type sniffing with libmagic: what the bytes are, whatever the client claims.
#pragma once

#include <string>
#include <string_view>

namespace despatch::media {

// The MIME type libmagic finds in data ("image/png", "text/plain", ...), or
// "application/octet-stream" when it recognises nothing. Thread-safe (one magic handle per
// thread).
std::string sniff_content_type(std::string_view data);

}  // namespace despatch::media
