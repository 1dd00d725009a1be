#include "storage/sqlite/audit_store.h"

namespace despatch::storage {

namespace {

constexpr const char* kColumns = "seq, ts, actor, action, case_ref, details, prev_hash, hash";

std::vector<AuditRecord> entries_from(const Rows& rows) {
  std::vector<AuditRecord> out;
  out.reserve(rows.size());
  for (auto& r : rows)
    out.push_back({r.i64(0), r.i64(1), r.str(2), r.str(3), r.str(4), r.str(5), r.str(6), r.str(7)});
  return out;
}

}  // namespace

Status SqliteAuditStore::append(const AuditRecord& e) {
  return c_.exec("INSERT INTO audit_log(seq, ts, actor, action, case_ref, details, prev_hash, hash) "
                 "VALUES(?,?,?,?,?,?,?,?)",
                 {e.seq, e.ts, e.actor, e.action, e.case_ref, e.details, e.prev_hash, e.hash});
}

Result<std::optional<AuditRecord>> SqliteAuditStore::last() {
  DS_ASSIGN(auto rows, c_.query(std::string("SELECT ") + kColumns + " FROM audit_log ORDER BY seq DESC LIMIT 1"));
  auto entries = entries_from(rows);
  if (entries.empty()) return std::optional<AuditRecord>{};
  return std::optional<AuditRecord>(std::move(entries.front()));
}

Result<std::vector<AuditRecord>> SqliteAuditStore::newest(int64_t limit, int64_t before) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM audit_log";
  Params p;
  if (before != 0) {
    sql += " WHERE seq<?";
    p.push_back(before);
  }
  sql += " ORDER BY seq DESC LIMIT ?";
  p.push_back(limit);
  DS_ASSIGN(auto rows, c_.query(sql, p));
  return entries_from(rows);
}

Result<std::vector<AuditRecord>> SqliteAuditStore::entries_after(int64_t after, int64_t limit) {
  DS_ASSIGN(auto rows, c_.query(std::string("SELECT ") + kColumns + " FROM audit_log WHERE seq>? ORDER BY seq LIMIT ?",
                                {after, limit}));
  return entries_from(rows);
}

Result<std::vector<AuditRecord>> SqliteAuditStore::with_action(const std::string& action) {
  DS_ASSIGN(auto rows, c_.query(std::string("SELECT ") + kColumns + " FROM audit_log WHERE action=? ORDER BY seq",
                                {action}));
  return entries_from(rows);
}

}  // namespace despatch::storage
