// Appends events to rooms inside one write job on the database's writer thread: fills in
// prev_events, auth_events and depth, checks the authorization rules, hashes, signs, stores
// the event and its state, and records who must be woken and notified.
#pragma once

#include "service/rooms/room_service.h"
#include "storage/conn.h"

#include <optional>
#include <set>

namespace despatch {

class RoomWriter {
 public:
  RoomWriter(RoomService& svc, storage::Conn& conn) : svc_(svc), c_(conn), t_(svc.db_.txn_over(conn)) {}
  // A failed job leaves the writer's cache of touched rooms stale: drop them.
  ~RoomWriter();
  void commit() { committed_ = true; }

  // The cached current state of a room, loaded on first use. M_NOT_FOUND if unknown.
  Result<RoomService::RoomState*> room(const std::string& room_id);
  // Registers a new room (before its create event is appended).
  RoomService::RoomState& new_room(const std::string& room_id, const std::string& version);

  // Builds and stores an event from proto (type, sender, content, optional state_key).
  // Returns the stored event with event_id.
  Result<json::object> append(const std::string& room_id, json::object proto,
                              const TxnRef* txn = nullptr);

  // A previous /send with the same transaction, if any.
  Result<std::optional<std::string>> find_txn(const std::string& user, const TxnRef& txn);

  storage::Conn& conn() { return c_; }
  // The job's transaction, through its stores.
  storage::Txn& txn() { return *t_; }
  const std::string& server_name() const { return svc_.config_.server_name; }

  // Users whose /sync must wake after the commit.
  const std::set<std::string>& wake() const { return wake_; }

  // Invites the records keeper (as inviter) and joins it with the room's records notice.
  Status add_keeper(const std::string& room_id, const std::string& inviter);
  // Joins the invited keeper and sends the records notice if the room has none yet. The
  // sponsor (who invited it) raises its power level to their own first where they may.
  Status keeper_join(const std::string& room_id, const std::string& sponsor);
  // Set when append refused an attempt to remove or silence the records keeper: what was
  // tried, for the audit log.
  const std::optional<json::object>& keeper_refusal() const { return keeper_refusal_; }

 private:
  // Refuses events that would remove the keeper, lower its power level, or change or redact
  // the room's records notice, unless the keeper sends them.
  Status guard_keeper(const RoomService::RoomState& room, const json::object& ev,
                      const std::string& type, bool is_state, const std::string& state_key);
  Status store_notifications(const RoomService::RoomState& room, const json::object& event,
                             int64_t pos);
  RoomService& svc_;
  storage::Conn& c_;
  std::unique_ptr<storage::Txn> t_;  // the same transaction, through its stores
  std::set<std::string> touched_;
  std::set<std::string> wake_;
  std::optional<json::object> keeper_refusal_;
  bool committed_ = false;
};

// Users with membership join or invite in a room's state.
std::vector<std::string> room_members(const StateMap& state, bool include_invited);

}  // namespace despatch
