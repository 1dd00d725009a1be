// Room events: the events table (each event once, with its stream position, redaction and
// the transaction that sent it) and the transaction IDs of /send and /redact.
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace despatch::storage {

struct StoredEvent {
  int64_t pos = 0;  // stream position
  std::string event_id;
  json::object pdu;  // as stored: federation format without event_id
  std::string redacted_by;
  std::string txn_device, txn_id;
};

// How an event stands in its room: in the timeline (all false/empty), or set aside.
struct EventFlags {
  bool outlier = false;
  std::string rejected;  // the failed rule
  bool soft_failed = false;
};

// A new event as the writer stores it: the PDU text and the columns queries select on.
struct NewEvent {
  int64_t pos = 0;
  std::string event_id, room_id, type;
  std::optional<std::string> state_key;
  std::string sender;
  int64_t origin_server_ts = 0;
  std::string json;  // the PDU, serialised
  std::optional<std::string> txn_device, txn_id;
  std::string relates_to, rel_type;  // "" when the event relates to nothing
  int64_t depth = 0;
  std::vector<std::string> prev_events;
  bool outlier = false;   // known (an auth event, say) but not part of the timeline
  std::string rejected;   // why the auth rules refused it; "" when accepted
  bool soft_failed = false;
};

// A forward extremity of a room: an event no other event of the room refers to yet.
struct Extremity {
  std::string event_id;
  int64_t depth = 0;
};

// History from before this server joined a room (the state taken in at the join, events
// fetched later) is placed at negative positions ordered by depth: each depth has a slot of
// kHistorySlot positions above kHistoryFloor, so the history reads in the room's order
// whatever order it arrived in, and /sync, which only looks forward from positive
// positions, never sees it.
inline constexpr int64_t kHistoryFloor = INT64_MIN / 2;
inline constexpr int64_t kHistorySlot = int64_t{1} << 22;
inline constexpr int64_t kHistoryMaxDepth = (int64_t{1} << 38) - 1;  // deeper counts as this

// A gap in a room's history: an event not held, and where the events naming it sit.
struct BackwardExtremity {
  std::string event_id;
  int64_t named_at = 0;
  bool operator==(const BackwardExtremity&) const = default;
};

// A run of a room's events by stream position: those with after < pos <= upto.
struct EventRange {
  int64_t after = 0;
  int64_t upto = INT64_MAX;
  bool newest_first = false;
  int limit = 100;
};

// What the records verifier compares with the archive: an event's place and clear fields.
struct EventBrief {
  int64_t pos = 0;
  std::string event_id, room_id, sender, type;
};

class EventStore {
 public:
  virtual ~EventStore() = default;
  // Stores the event and its edges to prev_events. Rejected, soft-failed and outlier events
  // are kept but never returned by the timeline reads below.
  virtual Status insert(const NewEvent& e) = 0;
  // Marks target (an event of room_id not yet redacted) as redacted by redaction_id.
  virtual Status mark_redacted(const std::string& target_id, const std::string& room_id,
                               const std::string& redaction_id) = 0;

  virtual Result<std::optional<EventFlags>> flags(const std::string& event_id) = 0;
  virtual Result<std::optional<StoredEvent>> event(const std::string& event_id) = 0;
  // Up to limit events of every room (timeline, outliers, rejected alike) with stream
  // position > after, in position order.
  virtual Result<std::vector<EventBrief>> briefs_after(int64_t after, int64_t limit) = 0;
  virtual Result<std::optional<EventBrief>> brief(const std::string& event_id) = 0;
  // Replaces a message event's stored JSON with its redacted form and takes it out of every
  // timeline read, once its record's retention period is over. State events are kept whole:
  // the room cannot do without them.
  virtual Status purge(const std::string& event_id, const std::string& redacted_json) = 0;
  // The stream position of an event of the room, nullopt when the room has no such event.
  virtual Result<std::optional<int64_t>> stream_pos_of(const std::string& event_id, const std::string& room_id) = 0;
  // Rooms with events stored in (from, to].
  virtual Result<std::vector<std::string>> rooms_changed(int64_t from, int64_t to) = 0;
  virtual Result<std::vector<StoredEvent>> room_events(const std::string& room_id, const EventRange& range) = 0;
  // Whether the room has any event with after < pos <= upto.
  virtual Result<bool> has_events(const std::string& room_id, int64_t after, int64_t upto) = 0;
  // Events relating to event_id (rel_type and type "" for any), paged like room_events.
  virtual Result<std::vector<StoredEvent>> relations(const std::string& room_id, const std::string& event_id,
                                                     const std::string& rel_type, const std::string& type,
                                                     const EventRange& range) = 0;
  // The newest unredacted m.replace of event_id by sender, if any.
  virtual Result<std::optional<StoredEvent>> latest_edit(const std::string& event_id, const std::string& sender) = 0;
  // State events of the room as of stream position pos (the newest per type and state_key).
  virtual Result<std::vector<StoredEvent>> state_at(const std::string& room_id, int64_t pos) = 0;
  // The newest event of the given state type and key at or before pos.
  virtual Result<std::optional<StoredEvent>> state_event_at(const std::string& room_id, const std::string& type,
                                                            const std::string& state_key, int64_t pos) = 0;
  // The user's member events and the room's history_visibility events, oldest first.
  virtual Result<std::vector<StoredEvent>> visibility_events(const std::string& room_id, const std::string& user) = 0;
  // (room_id, state_key) of each member event in (from, to] of any room, in stream order
  // (timeline events only, like the reads above: the others change no membership).
  virtual Result<std::vector<std::pair<std::string, std::string>>> member_changes(int64_t from, int64_t to) = 0;

  // event_edges: the prev_events of an event.
  virtual Result<std::vector<std::string>> prev_events(const std::string& event_id) = 0;
  // forward_extremities: the room's extremities, deepest first.
  virtual Result<std::vector<Extremity>> forward_extremities(const std::string& room_id) = 0;
  // A new event extends the graph: its prev_events stop being extremities and it becomes one.
  virtual Status advance_extremities(const std::string& room_id, const std::vector<std::string>& prev_events,
                                     const std::string& event_id) = 0;

  // The next free history position for an event of this depth (see kHistoryFloor).
  virtual Result<int64_t> history_pos(int64_t depth) = 0;
  // Events a timeline event of the room names as prev_events but that this server does not
  // hold in a timeline (missing, or only an outlier): where the room's history continues
  // on other servers. Each with the highest position of an event naming it, highest first,
  // at most limit.
  virtual Result<std::vector<BackwardExtremity>> backward_extremities(const std::string& room_id, int limit) = 0;
  // Moves an event this server holds only as an outlier to position pos of the room's
  // history.
  virtual Status place_in_history(const std::string& event_id, int64_t pos) = 0;

  // txn_ids: (user_id, device_id, txn_id) -> event_id, for /send and /redact idempotency.
  virtual Result<std::optional<std::string>> txn_event(const std::string& user, const std::string& device,
                                                       const std::string& txn_id) = 0;
  virtual Status put_txn(const std::string& user, const std::string& device, const std::string& txn_id,
                         const std::string& event_id) = 0;
};

}  // namespace despatch::storage
