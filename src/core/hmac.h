// HMAC-SHA1 for Synapse-compatible shared-secret registration, whose clients sign with it.
#pragma once

#include <string>
#include <string_view>

namespace despatch {

// Lower-case hex HMAC-SHA1 of msg under key.
std::string hmac_sha1_hex(std::string_view key, std::string_view msg);
// Compares in time independent of where the strings differ.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace despatch
