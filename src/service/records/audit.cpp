#include "service/records/audit.h"

#include "core/canonical_json.h"
#include "core/crypto.h"
#include "service/common/time.h"
#include "service/records/archive.h"

namespace despatch {

std::string audit_hash(const std::string& prev_hash, const AuditEntry& e) {
  json::object o{{"seq", e.seq},       {"ts", e.ts},           {"actor", e.actor},
                 {"action", e.action}, {"case_ref", e.case_ref}, {"details", e.details}};
  return archive_chain_hash(prev_hash, archive_chain_hash("", canonical_json(o)));
}

Result<int64_t> audit_append(storage::Conn& c, const std::string& actor, const std::string& action,
                             const std::string& case_ref, const json::object& details) {
  DS_ASSIGN(auto head, storage::query_one(c, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"));
  AuditEntry e{head ? head->i64(0) + 1 : 1, now_ms(), actor, action, case_ref, json::serialize(details)};
  std::string prev = head ? head->str(1) : kGenesisHash;
  DS_TRY(c.exec("INSERT INTO audit_log(seq, ts, actor, action, case_ref, details, prev_hash, hash) "
                "VALUES(?,?,?,?,?,?,?,?)",
                {e.seq, e.ts, e.actor, e.action, e.case_ref, e.details, prev, audit_hash(prev, e)}));
  return e.seq;
}

Result<json::array> audit_list(storage::Conn& c, int64_t limit, int64_t before) {
  DS_ASSIGN(auto rows, c.query("SELECT seq, ts, actor, action, case_ref, details, hash FROM audit_log WHERE "
                               "(?=0 OR seq<?) ORDER BY seq DESC LIMIT ?",
                               {before, before, limit}));
  json::array out;
  for (auto& r : rows)
    out.push_back(json::object{{"seq", r.i64(0)}, {"ts", r.i64(1)}, {"actor", r.str(2)}, {"action", r.str(3)},
                               {"case_ref", r.str(4)}, {"details", json::parse(r.str(5))}, {"hash", r.str(6)}});
  return out;
}

}  // namespace despatch
