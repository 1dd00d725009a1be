#include "storage/sqlite/json_column.h"

namespace despatch::storage {

Result<json::value> parse_value_column(const std::string& text, const char* what) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return Error::internal(std::string("corrupt ") + what + " row");
  return v;
}

Result<json::object> parse_object_column(const std::string& text, const char* what) {
  DS_ASSIGN(json::value v, parse_value_column(text, what));
  if (!v.is_object()) return Error::internal(std::string("corrupt ") + what + " row");
  return std::move(v.as_object());
}

}  // namespace despatch::storage
