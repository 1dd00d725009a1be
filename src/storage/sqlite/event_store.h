#pragma once

#include "storage/conn.h"
#include "storage/event_store.h"

namespace despatch::storage {

// Columns every event query selects, in this order, for event_from_row.
inline constexpr const char* kEventColumns = "stream_pos, event_id, json, redacted_by, txn_device, txn_id";
Result<StoredEvent> event_from_row(const Row& row);

class SqliteEventStore final : public EventStore {
 public:
  explicit SqliteEventStore(Conn& c) : c_(c) {}
  Status insert(const NewEvent& e) override;
  Status mark_redacted(const std::string& target_id, const std::string& room_id,
                       const std::string& redaction_id) override;
  Result<std::optional<EventFlags>> flags(const std::string& event_id) override;
  Result<std::optional<StoredEvent>> event(const std::string& event_id) override;
  Result<std::vector<EventBrief>> briefs_after(int64_t after, int64_t limit) override;
  Result<std::optional<EventBrief>> brief(const std::string& event_id) override;
  Status purge(const std::string& event_id, const std::string& redacted_json) override;
  Result<std::optional<int64_t>> stream_pos_of(const std::string& event_id, const std::string& room_id) override;
  Result<std::vector<std::string>> rooms_changed(int64_t from, int64_t to) override;
  Result<std::vector<StoredEvent>> room_events(const std::string& room_id, const EventRange& range) override;
  Result<bool> has_events(const std::string& room_id, int64_t after, int64_t upto) override;
  Result<std::vector<StoredEvent>> relations(const std::string& room_id, const std::string& event_id,
                                             const std::string& rel_type, const std::string& type,
                                             const EventRange& range) override;
  Result<std::optional<StoredEvent>> latest_edit(const std::string& event_id, const std::string& sender) override;
  Result<std::vector<StoredEvent>> state_at(const std::string& room_id, int64_t pos) override;
  Result<std::optional<StoredEvent>> state_event_at(const std::string& room_id, const std::string& type,
                                                    const std::string& state_key, int64_t pos) override;
  Result<std::vector<StoredEvent>> visibility_events(const std::string& room_id, const std::string& user) override;
  Result<std::vector<std::pair<std::string, std::string>>> member_changes(int64_t from, int64_t to) override;
  Result<std::vector<std::string>> prev_events(const std::string& event_id) override;
  Result<std::vector<Extremity>> forward_extremities(const std::string& room_id) override;
  Result<int64_t> history_pos(int64_t depth) override;
  Result<std::vector<BackwardExtremity>> backward_extremities(const std::string& room_id, int limit) override;
  Status place_in_history(const std::string& event_id, int64_t pos) override;
  Status advance_extremities(const std::string& room_id, const std::vector<std::string>& prev_events,
                             const std::string& event_id) override;
  Result<std::optional<std::string>> txn_event(const std::string& user, const std::string& device,
                                               const std::string& txn_id) override;
  Status put_txn(const std::string& user, const std::string& device, const std::string& txn_id,
                 const std::string& event_id) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
