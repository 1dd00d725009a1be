// Base64 as Matrix uses it: unpadded output, lenient input (appendices "Unpadded Base64").
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace despatch {

// Standard alphabet (+ /), no '=' padding. Used for keys, signatures and hashes.
std::string base64_encode(std::string_view bytes);

// URL-safe alphabet (- _), no '=' padding. Used for v4+ event IDs.
std::string base64url_encode(std::string_view bytes);

// Decodes standard or URL-safe base64, with or without '=' padding. Returns nullopt on any
// character outside both alphabets, misplaced padding, or an impossible length. Unused low
// bits in the final character are ignored, as other implementations do.
std::optional<std::string> base64_decode(std::string_view text);

// Lower-case hexadecimal, as hashes are shown in the records archive.
std::string hex_encode(std::string_view bytes);
// The bytes of lower- or upper-case hexadecimal; nullopt for an odd length or a non-digit.
std::optional<std::string> hex_decode(std::string_view text);

}  // namespace despatch
