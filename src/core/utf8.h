// UTF-8 checks for untrusted bytes: path parameters, query strings and anything echoed back.
#pragma once

#include <string>
#include <string_view>

namespace despatch {

// Valid UTF-8 scalar values only: no overlongs, surrogates, or code points past U+10FFFF.
bool is_valid_utf8(std::string_view s);

// `s` with every byte that is not part of a valid UTF-8 sequence replaced by U+FFFD, so it
// can be logged or put in a JSON reply without producing invalid JSON.
std::string to_valid_utf8(std::string_view s);

}  // namespace despatch
