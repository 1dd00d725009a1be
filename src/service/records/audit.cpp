#include "service/records/audit.h"

#include "core/canonical_json.h"
#include "core/crypto.h"
#include "service/common/time.h"
#include "service/records/archive.h"

namespace despatch {

std::string audit_content_hash(const AuditEntry& e) {
  json::object o{{"seq", e.seq},       {"ts", e.ts},           {"actor", e.actor},
                 {"action", e.action}, {"case_ref", e.case_ref}, {"details", e.details}};
  return archive_chain_hash("", canonical_json(o));
}

std::string audit_hash(const std::string& prev_hash, const AuditEntry& e) {
  return archive_chain_hash(prev_hash, audit_content_hash(e));
}

Result<int64_t> audit_append(storage::Txn& t, const std::string& actor, const std::string& action,
                             const std::string& case_ref, const json::object& details) {
  DS_ASSIGN(auto head, t.audit().last());
  AuditEntry e;
  e.seq = head ? head->seq + 1 : 1;
  e.ts = now_ms();
  e.actor = actor;
  e.action = action;
  e.case_ref = case_ref;
  e.details = json::serialize(details);
  e.prev_hash = head ? head->hash : kGenesisHash;
  e.hash = audit_hash(e.prev_hash, e);
  DS_TRY(t.audit().append(e));
  return e.seq;
}

boost::asio::awaitable<Result<int64_t>> AuditLog::record(const std::string& actor, const std::string& action,
                                                         const std::string& case_ref,
                                                         const json::object& details) {
  auto job = [this, actor, action, case_ref, details](storage::Txn& t) -> Result<int64_t> {
    DS_ASSIGN(int64_t seq, audit_append(t, actor, action, case_ref, details));
    if (key_) DS_TRY(sign_records_heads(t, *key_, 1000));
    return seq;
  };
  co_return co_await db_.transact<int64_t>(job);
}

Result<int64_t> AuditLog::record_blocking(const std::string& actor, const std::string& action,
                                          const std::string& case_ref, const json::object& details) {
  return db_.transact_blocking<int64_t>([&](storage::Txn& t) -> Result<int64_t> {
    DS_ASSIGN(int64_t seq, audit_append(t, actor, action, case_ref, details));
    if (key_) DS_TRY(sign_records_heads(t, *key_, 1000));
    return seq;
  });
}

Result<json::array> AuditLog::entries(int64_t limit, int64_t before) {
  DS_ASSIGN(auto rows, db_.read().audit().newest(limit, before));
  json::array out;
  for (auto& e : rows) {
    boost::system::error_code ec;
    json::value details = json::parse(e.details, ec);
    if (ec) return Error::internal("corrupt audit entry " + std::to_string(e.seq));
    out.push_back(json::object{{"seq", e.seq},         {"ts", e.ts},
                               {"actor", e.actor},     {"action", e.action},
                               {"case_ref", e.case_ref}, {"details", std::move(details)},
                               {"hash", e.hash}});
  }
  return out;
}

Result<VerifyReport> AuditLog::verify(const std::string& server_public_key) {
  return verify_audit_log(db_.read(), server_public_key);
}

}  // namespace despatch
