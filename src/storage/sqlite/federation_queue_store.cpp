#include "storage/sqlite/federation_queue_store.h"

#include "storage/sqlite/id_list.h"

namespace despatch::storage {

namespace {

const char* kind_name(QueueKind k) { return k == QueueKind::kPdu ? "pdu" : "edu"; }

Result<std::vector<QueuedItem>> items(Conn& c, const std::string& destination, QueueKind kind, int limit) {
  std::vector<QueuedItem> out;
  if (limit <= 0) return out;
  DS_ASSIGN(auto rows, c.query("SELECT id, json FROM federation_queue WHERE destination=? AND kind=? "
                               "ORDER BY id LIMIT ?",
                               {destination, std::string(kind_name(kind)), static_cast<int64_t>(limit)}));
  out.reserve(rows.size());
  for (auto& r : rows) out.push_back(QueuedItem{r.i64(0), destination, kind, r.str(1)});
  return out;
}

}  // namespace

Status SqliteFederationQueueStore::enqueue(const std::string& destination, QueueKind kind, const std::string& json,
                                           int64_t queued_ts) {
  return c_.exec("INSERT INTO federation_queue(destination, kind, json, queued_ts) VALUES(?,?,?,?)",
                 {destination, std::string(kind_name(kind)), json, queued_ts});
}

Result<QueueBatch> SqliteFederationQueueStore::batch(const std::string& destination, int max_pdus, int max_edus) {
  QueueBatch b;
  DS_ASSIGN(b.pdus, items(c_, destination, QueueKind::kPdu, max_pdus));
  DS_ASSIGN(b.edus, items(c_, destination, QueueKind::kEdu, max_edus));
  return b;
}

Status SqliteFederationQueueStore::remove(const std::string& destination, const std::vector<int64_t>& ids) {
  if (ids.empty()) return ok_status();
  json::array list;
  for (int64_t id : ids) list.emplace_back(id);
  return c_.exec("DELETE FROM federation_queue WHERE destination=? AND id IN (SELECT value FROM json_each(?))",
                 {destination, json::serialize(list)});
}

Result<std::vector<std::string>> SqliteFederationQueueStore::destinations() {
  DS_ASSIGN(auto rows, c_.query("SELECT DISTINCT destination FROM federation_queue ORDER BY destination"));
  std::vector<std::string> out;
  for (auto& r : rows) out.push_back(r.str(0));
  return out;
}

Result<int64_t> SqliteFederationQueueStore::backlog(const std::string& destination) {
  DS_ASSIGN(auto row, destination.empty()
                          ? query_one(c_, "SELECT COUNT(*) FROM federation_queue")
                          : query_one(c_, "SELECT COUNT(*) FROM federation_queue WHERE destination=?", {destination}));
  return row ? row->i64(0) : 0;
}

}  // namespace despatch::storage
