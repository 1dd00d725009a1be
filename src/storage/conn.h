// The storage interface: a connection that runs portable SQL with `?` placeholders.
// sqlite/ implements it now; a PostgreSQL backend implements the same interface, so the
// domain stores above it are written once.
#pragma once

#include "core/result.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace despatch::storage {

using Value = std::variant<std::nullptr_t, int64_t, double, std::string>;

struct Row {
  std::vector<Value> cols;
  bool is_null(size_t i) const { return std::holds_alternative<std::nullptr_t>(cols.at(i)); }
  int64_t i64(size_t i) const {
    auto& v = cols.at(i);
    if (auto* p = std::get_if<int64_t>(&v)) return *p;
    if (auto* d = std::get_if<double>(&v)) return static_cast<int64_t>(*d);
    return 0;
  }
  const std::string& str(size_t i) const {
    static const std::string kEmpty;
    auto* p = std::get_if<std::string>(&cols.at(i));
    return p ? *p : kEmpty;
  }
};
using Rows = std::vector<Row>;
using Params = std::vector<Value>;

// One database connection. Not thread-safe: each thread uses its own.
class Conn {
 public:
  virtual ~Conn() = default;
  virtual Status exec(std::string_view sql, const Params& params = {}) = 0;
  virtual Result<Rows> query(std::string_view sql, const Params& params = {}) = 0;
  // Rows changed by the last exec.
  virtual int64_t changes() = 0;
  // Runs a script of several statements without parameters (migrations).
  virtual Status exec_script(std::string_view sql) = 0;
};

// Helpers for single-row and single-value queries.
inline Result<std::optional<Row>> query_one(Conn& c, std::string_view sql, const Params& p = {}) {
  DS_ASSIGN(Rows rows, c.query(sql, p));
  if (rows.empty()) return std::optional<Row>{};
  return std::optional<Row>(std::move(rows.front()));
}

}  // namespace despatch::storage
