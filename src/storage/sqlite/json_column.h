// JSON kept in TEXT columns: a row that does not parse is reported, never thrown.
#pragma once

#include "core/result.h"

#include <string>

namespace despatch::storage {

// Parses a stored JSON object; M_UNKNOWN 500 naming `what` when the row is corrupt.
Result<json::object> parse_object_column(const std::string& text, const char* what);
Result<json::value> parse_value_column(const std::string& text, const char* what);

}  // namespace despatch::storage
