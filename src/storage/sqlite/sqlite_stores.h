// Every store over one SQLite connection: a thread's read view, or a write job's
// transaction. The stores are members, not allocations: a write job makes one per job.
#pragma once

#include "storage/sqlite/account_data_store.h"
#include "storage/sqlite/event_store.h"
#include "storage/sqlite/membership_store.h"
#include "storage/sqlite/receipt_store.h"

#include <functional>

namespace despatch::storage {

class SqliteStores final : public Txn {
 public:
  // next_pos hands out stream positions; only write transactions may call it.
  SqliteStores(Conn& c, std::function<int64_t()> next_pos)
      : account_data_(c), events_(c), memberships_(c), receipts_(c), next_pos_(std::move(next_pos)) {}

  AccountDataStore& account_data() override { return account_data_; }
  EventStore& events() override { return events_; }
  MembershipStore& memberships() override { return memberships_; }
  ReceiptStore& receipts() override { return receipts_; }
  int64_t next_stream_pos() override { return next_pos_(); }

 private:
  SqliteAccountDataStore account_data_;
  SqliteEventStore events_;
  SqliteMembershipStore memberships_;
  SqliteReceiptStore receipts_;
  std::function<int64_t()> next_pos_;
};

}  // namespace despatch::storage
