// SQLite implementation of Conn, with a prepared-statement cache.
#pragma once

#include "storage/conn.h"

#include <memory>
#include <string>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace despatch::storage {

class SqliteConn final : public Conn {
 public:
  // Opens (creating if needed) the database at path in WAL mode with fsync on commit.
  static Result<std::unique_ptr<SqliteConn>> open(const std::string& path, bool read_only);
  ~SqliteConn() override;

  Status exec(std::string_view sql, const Params& params) override;
  Result<Rows> query(std::string_view sql, const Params& params) override;
  int64_t changes() override;
  Status exec_script(std::string_view sql) override;

 private:
  explicit SqliteConn(sqlite3* db) : db_(db) {}
  Result<sqlite3_stmt*> prepare(std::string_view sql, const Params& params);
  Error db_error(std::string_view what);

  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> stmts_;
};

}  // namespace despatch::storage
