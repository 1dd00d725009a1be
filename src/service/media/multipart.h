// The multipart/mixed body of the federation media routes (server-server spec "Content
// Repository", RFC 2046 section 5.1): exactly two parts, a JSON object of metadata and the
// file with its own Content-Type and Content-Disposition (or a Location to fetch it from).
#pragma once

#include "core/result.h"

#include <optional>
#include <string>
#include <string_view>

namespace despatch::media {

// The body and the Content-Type header value (with its boundary) that carry one file.
struct MultipartBody {
  std::string content_type;
  std::string body;
};
MultipartBody make_multipart(std::string_view content_type, std::string_view disposition, std::string_view bytes);

// What a remote server sent: the file part's headers and bytes, or only a Location.
struct MultipartMedia {
  std::string content_type;  // of the file part; may be empty
  std::string disposition;   // of the file part; may be empty
  std::string location;      // set when the part redirects instead of carrying bytes
  std::string bytes;
};
// Splits a multipart/mixed answer. M_UNKNOWN (502) when the header has no boundary, the
// first part is not a JSON object or the second part is missing.
Result<MultipartMedia> parse_multipart(std::string_view content_type_header, std::string_view body);

// The file name of a Content-Disposition value (filename*=UTF-8'' preferred over
// filename=), or nullopt when it names none.
std::optional<std::string> disposition_filename(std::string_view disposition);

}  // namespace despatch::media
