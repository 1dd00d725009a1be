// Content-type sniffing with libmagic: what the bytes are, whatever the client claims.
#pragma once

#include <string>
#include <string_view>

namespace despatch::media {

// The MIME type libmagic finds in data ("image/png", "text/plain", ...), or
// "application/octet-stream" when it recognises nothing. Thread-safe (one magic handle per
// thread).
std::string sniff_content_type(std::string_view data);

// True when data is statistically indistinguishable from random bytes (byte entropy within a
// hair of 8 bits), as an encrypted attachment is. About 1 in 50 such files happen to begin
// like an executable, an ARC archive or a zlib stream, so libmagic's guess means nothing for
// them; real executables and documents are far from random.
bool looks_encrypted(std::string_view data);

}  // namespace despatch::media
