// Prepares a batch of a room's jobs on the room's lane (see room_lanes.h): fills in
// prev_events, auth_events and depth, checks the authorization rules, hashes, signs, builds
// the archive record and evaluates push rules, all outside the database's commit step. What
// must be written is kept as steps that commit() runs inside one write job: rows, stream
// positions, state groups, the archive's hash chain.
#pragma once

#include "service/rooms/room_service.h"
#include "storage/event_store.h"
#include "storage/stores.h"

#include <optional>
#include <set>
#include <map>
#include <tuple>
#include <variant>

namespace despatch {

class RoomWriter {
 public:
  // Prepares for the room `room_id`, whose cache is `cache` (empty until loaded or created).
  RoomWriter(RoomService& svc, std::string room_id, std::shared_ptr<RoomService::RoomState>& cache,
             storage::Stores& read);

  // The current state of the lane's room, including what this batch has prepared so far.
  // M_NOT_FOUND if the room is unknown; M_UNKNOWN for another room (jobs touch one room).
  Result<RoomService::RoomState*> room(const std::string& room_id);
  // Registers the lane's room as new (before its create event is appended).
  RoomService::RoomState& new_room(const std::string& room_id, const std::string& version);

  // Builds an event from proto (type, sender, content, optional state_key) and queues it for
  // the commit. Returns the event as stored, with event_id.
  Result<json::object> append(const std::string& room_id, json::object proto,
                              const TxnRef* txn = nullptr);
  // A previous /send with the same transaction, if any (committed, or earlier in the batch).
  Result<std::optional<std::string>> find_txn(const std::string& user, const TxnRef& txn);

  // Committed data, for the checks a job makes before it appends.
  storage::Stores& read() { return read_; }
  // A write to run inside the commit, after the events appended before it.
  void then(std::function<Status(storage::Txn&)> step) { steps_.emplace_back(std::move(step)); }
  const std::string& server_name() const { return svc_.config_.server_name; }

  // Invites the records keeper (as inviter) and joins it with the room's records notice.
  Status add_keeper(const std::string& room_id, const std::string& inviter);
  // Joins the invited keeper and sends the records notice if the room has none yet. The
  // sponsor (who invited it) raises its power level to their own first where they may.
  Status keeper_join(const std::string& room_id, const std::string& sponsor);

  // One job of the batch: begin before it runs; end(true) keeps what it prepared, end(false)
  // undoes its changes to the cache and drops its steps.
  void begin_job();
  void end_job(bool keep);
  // Set when the job just ended refused an attempt to remove or silence the records keeper:
  // what was tried, for the audit log.
  std::optional<json::object> take_keeper_refusal() { return std::exchange(keeper_refusal_, std::nullopt); }

  bool empty() const { return steps_.empty(); }
  // Inside the write job: writes every kept step in order.
  Status commit(storage::Txn& t);
  // After the commit: the cache takes the state group the commit reached.
  void committed();
  // Users whose /sync must wake after the commit.
  const std::set<std::string>& wake() const { return wake_; }

 private:
  // An event ready to be written: everything but its stream position and state groups.
  struct Prepared {
    storage::NewEvent row;
    std::optional<TxnRef> txn;
    std::string membership;   // for member events
    std::string redacts;      // for redactions that take effect
    std::string record;       // the archive record: canonical JSON of the event with its ID
    std::optional<json::object> keeper_record;  // the event, when the keeper must decrypt it
    std::vector<std::pair<std::string, bool>> notify;  // (user, highlight)
  };
  using Step = std::variant<Prepared, std::function<Status(storage::Txn&)>>;
  // What a job changed in the cache, to put back if it fails.
  struct Undo {
    std::vector<std::pair<StateKey, std::optional<json::object>>> state;  // in change order
    std::vector<std::string> extremities;
    int64_t depth = 0;
    bool created = false;  // the job created the room
    size_t steps = 0;
    std::vector<std::tuple<std::string, std::string, std::string>> txns;
  };
  Status guard_keeper(const RoomService::RoomState& room, const json::object& ev,
                      const std::string& type, bool is_state, const std::string& state_key);
  std::vector<std::pair<std::string, bool>> notifications(const RoomService::RoomState& room,
                                                          const json::object& event);
  Status write_event(storage::Txn& t, Prepared& p);
  void remember_state(const StateKey& key);

  RoomService& svc_;
  std::string room_id_;
  std::shared_ptr<RoomService::RoomState>& cache_;
  storage::Stores& read_;
  std::vector<Step> steps_;
  Undo undo_;
  std::map<std::tuple<std::string, std::string, std::string>, std::string> txn_events_;
  std::set<std::string> wake_;
  std::optional<json::object> keeper_refusal_;
  int64_t group_ = 0;  // the state group the commit has reached (writer thread)
};

// Users with membership join or invite in a room's state.
std::vector<std::string> room_members(const StateMap& state, bool include_invited);

}  // namespace despatch
