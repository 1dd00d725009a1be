// Matrix canonical JSON (appendices "Canonical JSON") and strict request-body parsing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace despatch {

// The largest magnitude an integer may have in canonical JSON: 2^53 - 1.
inline constexpr int64_t kMaxCanonicalInt = (int64_t{1} << 53) - 1;

// Encodes `v` as canonical JSON: object keys sorted by code point, no whitespace, UTF-8 left
// unescaped, only '"', '\\' and control characters escaped. Integral doubles (e.g. from "1e10"
// or "-0") are written as integers. Values canonical JSON cannot represent are still written
// deterministically (fractions via Boost's serializer, non-finite numbers as null); reject them
// first with check_canonical_values where that matters.
std::string canonical_json(const json::value& v);

// Parses a request or federation body. Malformed JSON, invalid UTF-8 or excessive nesting
// yields 400 M_NOT_JSON. Does not apply the canonical number rules.
Result<json::value> parse_strict_json(std::string_view text);

// Checks every number in `v` (recursively) is an integer within +/-(2^53 - 1). Any float,
// including integral ones like 1.0, fails with 400 M_BAD_JSON, as room versions 6+ require.
Status check_canonical_values(const json::value& v);

// Checks every number in `v` is one JSON can carry faithfully: integers within
// +/-(2^53 - 1) and finite fractions no larger in magnitude (tag orders are fractions).
// Anything else (1e400 parses as infinity) fails with 400 M_BAD_JSON.
Status check_json_numbers(const json::value& v);

}  // namespace despatch
