#pragma once

#include "storage/conn.h"
#include "storage/state_store.h"

namespace despatch::storage {

class SqliteStateStore final : public StateStore {
 public:
  explicit SqliteStateStore(Conn& c) : c_(c) {}
  Status set_current(const std::string& room_id, const StateEntry& e) override;
  Result<std::vector<StateEntry>> current(const std::string& room_id) override;
  Result<std::optional<StateEntry>> current_entry(const std::string& room_id, const std::string& type,
                                                  const std::string& state_key) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
