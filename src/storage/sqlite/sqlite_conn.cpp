#include "storage/sqlite/sqlite_conn.h"

#include "core/log.h"

#include <sqlite3.h>

namespace despatch::storage {

Result<std::unique_ptr<SqliteConn>> SqliteConn::open(const std::string& path, bool read_only) {
  sqlite3* db = nullptr;
  int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  flags |= SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Error::internal("cannot open database " + path + ": " + msg);
  }
  std::unique_ptr<SqliteConn> conn(new SqliteConn(db));
  sqlite3_busy_timeout(db, 10'000);  // `despatch user add` may write while the server runs
  // synchronous=FULL: a commit is fsynced before it returns, so acknowledged writes survive
  // power loss, not only process death. journal_size_limit: SQLite reuses the WAL file from
  // its start after a complete checkpoint but never shrinks it by itself, so a burst of
  // writes would leave the file at its peak size for good; with the limit, the first commit
  // after the WAL restarts cuts the file back to 16 MiB.
  const char* pragmas = read_only
      ? "PRAGMA query_only=1; PRAGMA cache_size=-16000;"
      : "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;"
        " PRAGMA cache_size=-16000; PRAGMA wal_autocheckpoint=4000;"
        " PRAGMA journal_size_limit=16777216;";
  DS_TRY(conn->exec_script(pragmas));
  return conn;
}

SqliteConn::~SqliteConn() {
  for (auto& [sql, st] : stmts_) sqlite3_finalize(st);
  sqlite3_close(db_);
}

Error SqliteConn::db_error(std::string_view what) {
  // A full disk is the administrator's to fix, not a bug: say so, and let clients retry. The
  // transaction that hit it is rolled back whole, so nothing is half-written.
  if (sqlite3_errcode(db_) == SQLITE_FULL)
    return Error{503, errc::kUnknown, "The server's storage is full; writes resume when space is freed", {}};
  return Error::internal(std::string(what) + ": " + sqlite3_errmsg(db_));
}

Result<sqlite3_stmt*> SqliteConn::prepare(std::string_view sql, const Params& params) {
  sqlite3_stmt* st = nullptr;
  auto it = stmts_.find(std::string(sql));
  if (it != stmts_.end()) {
    st = it->second;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
  } else {
    if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                           &st, nullptr) != SQLITE_OK)
      return db_error("prepare " + std::string(sql.substr(0, 80)));
    stmts_.emplace(std::string(sql), st);
  }
  for (size_t i = 0; i < params.size(); ++i) {
    int idx = static_cast<int>(i + 1);
    const Value& v = params[i];
    int rc;
    if (std::holds_alternative<std::nullptr_t>(v)) rc = sqlite3_bind_null(st, idx);
    else if (auto* n = std::get_if<int64_t>(&v)) rc = sqlite3_bind_int64(st, idx, *n);
    else if (auto* d = std::get_if<double>(&v)) rc = sqlite3_bind_double(st, idx, *d);
    else {
      auto& s = std::get<std::string>(v);
      rc = sqlite3_bind_text(st, idx, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    }
    if (rc != SQLITE_OK) return db_error("bind");
  }
  return st;
}

Status SqliteConn::exec(std::string_view sql, const Params& params) {
  DS_ASSIGN(sqlite3_stmt * st, prepare(sql, params));
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) return db_error("exec " + std::string(sql.substr(0, 80)));
  return ok_status();
}

Result<Rows> SqliteConn::query(std::string_view sql, const Params& params) {
  DS_ASSIGN(sqlite3_stmt * st, prepare(sql, params));
  Rows rows;
  int rc;
  int n = sqlite3_column_count(st);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    Row row;
    row.cols.reserve(n);
    for (int i = 0; i < n; ++i) {
      switch (sqlite3_column_type(st, i)) {
        case SQLITE_NULL: row.cols.emplace_back(nullptr); break;
        case SQLITE_INTEGER: row.cols.emplace_back(static_cast<int64_t>(sqlite3_column_int64(st, i))); break;
        case SQLITE_FLOAT: row.cols.emplace_back(sqlite3_column_double(st, i)); break;
        default: {
          auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
          row.cols.emplace_back(std::string(p, sqlite3_column_bytes(st, i)));
        }
      }
    }
    rows.push_back(std::move(row));
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) return db_error("query " + std::string(sql.substr(0, 80)));
  return rows;
}

int64_t SqliteConn::changes() { return sqlite3_changes64(db_); }

Status SqliteConn::exec_script(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  if (sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown";
    sqlite3_free(err);
    if (sqlite3_errcode(db_) == SQLITE_FULL) return db_error("script");
    return Error::internal("script: " + msg);
  }
  return ok_status();
}

}  // namespace despatch::storage
