#pragma once

#include "storage/conn.h"
#include "storage/federation_queue_store.h"

namespace despatch::storage {

class SqliteFederationQueueStore final : public FederationQueueStore {
 public:
  explicit SqliteFederationQueueStore(Conn& c) : c_(c) {}
  Status enqueue(const std::string& destination, QueueKind kind, const std::string& json,
                 int64_t queued_ts) override;
  Result<QueueBatch> batch(const std::string& destination, int max_pdus, int max_edus) override;
  Status remove(const std::string& destination, const std::vector<int64_t>& ids) override;
  Result<std::vector<std::string>> destinations() override;
  Result<int64_t> backlog(const std::string& destination) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
