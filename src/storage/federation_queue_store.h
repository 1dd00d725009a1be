// Federation's outgoing queues: the PDUs and EDUs waiting for each destination server, in
// the order they were queued, kept until the destination acknowledges the transaction that
// carried them, so that a restart loses nothing.
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <cstdint>
#include <string>
#include <vector>

namespace despatch::storage {

enum class QueueKind { kPdu, kEdu };

// One waiting PDU or EDU. `id` orders the queue; ids are never reused, even after the rows
// before them are deleted, so a batch's first and last ids name it uniquely.
struct QueuedItem {
  int64_t id = 0;
  std::string destination;
  QueueKind kind = QueueKind::kPdu;
  std::string json;  // the PDU or EDU object, serialised
};

// What one transaction to a destination carries: its oldest waiting PDUs and EDUs.
struct QueueBatch {
  std::vector<QueuedItem> pdus, edus;
  bool empty() const { return pdus.empty() && edus.empty(); }
};

class FederationQueueStore {
 public:
  virtual ~FederationQueueStore() = default;
  // federation_queue: (id) -> destination, kind, json. Appends at the end of destination's queue.
  virtual Status enqueue(const std::string& destination, QueueKind kind, const std::string& json,
                         int64_t queued_ts) = 0;
  // The oldest max_pdus PDUs and max_edus EDUs waiting for destination, each in queue order.
  virtual Result<QueueBatch> batch(const std::string& destination, int max_pdus, int max_edus) = 0;
  // Deletes the rows of an acknowledged transaction.
  virtual Status remove(const std::string& destination, const std::vector<int64_t>& ids) = 0;
  // Destinations with something waiting, by name.
  virtual Result<std::vector<std::string>> destinations() = 0;
  // How many rows wait for destination ("" for all destinations).
  virtual Result<int64_t> backlog(const std::string& destination) = 0;
};

}  // namespace despatch::storage
