#pragma once

#include "storage/conn.h"
#include "storage/state_store.h"

namespace despatch::storage {

class SqliteStateStore final : public StateStore {
 public:
  explicit SqliteStateStore(Conn& c) : c_(c) {}
  // A group after this many deltas in a row stores the whole state instead.
  static constexpr int64_t kMaxDeltaChain = 64;

  Result<int64_t> add_group(const std::string& room_id, int64_t prev_group,
                            const std::vector<StateDelta>& delta) override;
  Result<StateIds> group_state(int64_t group) override;
  Status set_event_groups(const std::string& event_id, const EventStateGroups& groups) override;
  Result<std::optional<EventStateGroups>> event_groups(const std::string& event_id) override;
  Status set_current(const std::string& room_id, const StateEntry& e) override;
  Result<std::vector<StateEntry>> current(const std::string& room_id) override;
  Result<std::optional<StateEntry>> current_entry(const std::string& room_id, const std::string& type,
                                                  const std::string& state_key) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
