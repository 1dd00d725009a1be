#pragma once

#include "storage/archive_store.h"
#include "storage/conn.h"

namespace despatch::storage {

class SqliteArchiveStore final : public ArchiveStore {
 public:
  explicit SqliteArchiveStore(Conn& c) : c_(c) {}
  Status add_data_key(const DataKeyRow& key) override;
  Result<std::optional<std::string>> data_key(int64_t id) override;
  Result<std::vector<DataKeyRow>> data_keys_after(int64_t after, int64_t limit) override;
  Result<std::optional<DataKeyRow>> last_data_key() override;
  Status set_data_key_hash(int64_t id, const std::string& hash) override;
  Status append(const ArchiveRow& row) override;
  Result<std::optional<ChainHead>> head() override;
  Result<std::vector<ArchiveRow>> records_after(int64_t after, int64_t limit) override;
  Result<std::optional<std::string>> hash_at(int64_t seq) override;
  Result<std::optional<int64_t>> seq_of_hash(const std::string& hash) override;
  Result<std::vector<ArchiveRow>> matching(const RecordQuery& q, int64_t after, int64_t limit) override;
  Result<std::vector<LiveRecord>> live_before(int64_t before_ts, int64_t after, int64_t limit) override;
  Status tombstone(int64_t seq) override;
  Result<std::vector<std::string>> recorded(const std::vector<std::string>& event_ids) override;
  Result<int64_t> add_checkpoint(const ArchiveCheckpoint& cp) override;
  Result<std::optional<ArchiveCheckpoint>> last_checkpoint(bool durable_only) override;
  Status drop_checkpoint(int64_t id) override;
  Status add_peer_head(const std::string& origin, const ArchiveCheckpoint& head, int64_t received_ts) override;
  Result<std::vector<ArchiveCheckpoint>> peer_heads(const std::string& origin, int64_t limit) override;
  Result<std::vector<ArchiveCheckpoint>> checkpoints() override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
