// Prepares a batch of a room's jobs on the room's lane (see room_lanes.h): fills in
// prev_events, auth_events and depth, checks the authorization rules, hashes, signs, builds
// the archive record and evaluates push rules, all outside the database's commit step. What
// must be written is kept as steps that commit() runs inside one write job: rows, stream
// positions, state groups, the archive's hash chain.
#pragma once

#include "service/rooms/event_acceptance.h"
#include "service/rooms/room_service.h"
#include "storage/state_store.h"
#include "storage/event_store.h"
#include "storage/stores.h"

#include <optional>
#include <set>
#include <map>
#include <tuple>
#include <variant>

namespace despatch {

// What became of an event another server sent.
struct Received {
  std::string event_id;
  Acceptance verdict = Acceptance::kAccepted;
  std::string reason;     // the failed rule, when not accepted
  bool duplicate = false;  // known already: nothing done
};

// The row of an event another server sent (with its "event_id"), as the events table keeps
// it: received, adopted at a join, or fetched as history.
storage::NewEvent received_row(const json::object& ev, const std::string& room_id, const std::string& version);

// The archive record of an event another server made (ev with its "event_id"): the event as
// received plus, under kReceivedKey, where it came from: "origin" (the sender's server, whose
// signature was checked), "how" (transaction, join or backfill), "from" (the server that
// handed it over, when known) and "received_ts". It is sealed with the event, so the clear
// columns, their hashes and `records verify` stay as they were. Local events carry no such key.
inline constexpr const char* kReceivedKey = "despatch.received";
std::string received_record(const json::object& ev, const std::string& how, const std::string& from);

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
  // Takes in an event another server sent, whose signatures and content hash the caller has
  // checked and whose auth and prev events are known: the three checks on receipt, the state
  // before it (resolved when its prev_events fork), and the room's new current state across
  // its forward extremities. A rejected or soft-failed event is kept, set aside. M_NOT_FOUND
  // when a prev or auth event is unknown (the caller fetches it first).
  // from: the server that delivered it ("" when not known), for the archive record.
  Result<Received> receive(const std::string& room_id, json::object pdu, const std::string& from = "");
  // receive for an event that must go on to the room's other servers once accepted, like
  // one appended here: this server's own event countersigned elsewhere (an invite), or a
  // member event another server handed this one as the room's resident (send_join and the
  // like), which the outbox does not send back to the server that made it.
  Result<Received> receive_own(const std::string& room_id, json::object pdu, const std::string& from = "");

  // A room this server joins through another (send_join): the room's state and auth chain
  // as the resident server sent them (checked by the caller, with event_id), then this
  // server's join. The state events become the room's state as of the join; the auth
  // chain's other events are kept as outliers.
  Status adopt(const std::string& room_id, const std::string& version, const std::vector<json::object>& state,
               const std::vector<json::object>& auth_chain, const json::object& join);

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
  // Set when the job just ended was refused for its classification (a refused or too high
  // marking, a protective marking in its text): what was tried, never the text itself.
  std::optional<json::object> take_classification_refusal() {
    return std::exchange(classification_refusal_, std::nullopt);
  }
  // Inside a job, after receive: when received events (valid by the auth rules, so taken)
  // removed the keeper, brings it back where a local member may: unbanned by one who may
  // ban, re-invited by one who may invite, then joined. Failures are logged and leave the
  // received events as they are.
  void restore_keeper(const std::string& room_id);

  bool empty() const { return steps_.empty(); }
  // Inside the write job: writes every kept step in order.
  Status commit(storage::Txn& t);
  // After the commit: the cache takes the state group the commit reached.
  void committed();
  // The events this server sent in the batch (PDUs as stored), for other servers in the room.
  const std::vector<json::object>& sent() const { return sent_; }
  // Users whose /sync must wake after the commit.
  const std::set<std::string>& wake() const { return wake_; }

 private:
  // RoomCache::state_group of a forked room loaded from storage: its group is not stored yet.
  static constexpr int64_t kGroupToStore = -1;
  // A change to the current state that comes from resolving forks, not from the event itself.
  struct CurrentChange {
    storage::StateDelta delta;
    std::string membership;  // for m.room.member keys
  };
  // An event ready to be written: everything but its stream position and state groups.
  struct Prepared {
    storage::NewEvent row;
    std::optional<TxnRef> txn;
    std::string membership;   // for member events
    std::string redacts;      // for redactions that take effect
    std::string record;       // the archive record: canonical JSON of the event with its ID
    std::optional<json::object> keeper_record;  // the event, when the keeper must decrypt it
    std::vector<std::pair<std::string, bool>> notify;  // (user, highlight)
    // Where the state before the event starts: nullopt for the room's current state (local
    // events), else the state after this prev event, changed by before_delta.
    std::optional<std::string> base_event;
    std::vector<storage::StateDelta> before_delta;
    bool adds_state = true;     // its state counts after it (not rejected)
    bool moves_current = true;  // it changes the current state (accepted)
    bool extremity = true;      // it becomes a forward extremity (accepted)
    std::vector<CurrentChange> current_delta;  // current state beyond its own state (forks)
    std::string archive_kind = "event";
    std::string classification;  // the archive record's marking (room_classification.cpp)
    // Placed by depth among the room's history (storage::kHistoryFloor), not at the next
    // stream position: the state a join takes in, which predates the join.
    bool history = false;
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
    std::vector<std::string> received;  // events receive prepared
    size_t sent = 0;
  };
  // A received event local policy forbids (see guard_keeper): audited, never refused.
  void note_keeper_breach(const RoomService::RoomState& room, const json::object& ev, const std::string& from);
  Status guard_keeper(const RoomService::RoomState& room, const json::object& ev,
                      const std::string& type, bool is_state, const std::string& state_key);
  // Applies the classification rules to a local event (room_classification.cpp): refuses it,
  // or labels a topic with the room's marking; record gets the archive record's marking.
  Status guard_classification(const RoomService::RoomState& room, json::object& ev, std::string& record);
  // After a classification change: the topic re-labelled by the same sender where they may.
  void relabel_topic(const std::string& room_id, const std::string& sender);
  // The marking of a received event's archive record.
  std::string received_classification(const RoomService::RoomState& room, const json::object& ev) const;
  std::vector<std::pair<std::string, bool>> notifications(const RoomService::RoomState& room,
                                                          const json::object& event);
  Status write_event(storage::Txn& t, Prepared& p);
  // The state group after an event: written earlier in this commit, or stored before.
  Result<int64_t> group_after(storage::Txn& t, const std::string& event_id);
  // The current state's group when the lane loaded a forked room: stored on first use.
  Result<int64_t> current_group(storage::Txn& t);
  // What receive reads: events (stored or earlier in the batch) and the state after them.
  Result<const json::object*> known_event(const std::string& event_id);
  Result<std::optional<storage::StateIds>> state_after(const std::string& event_id);
  Result<StateMap> state_map(const storage::StateIds& ids);
  Result<storage::StateIds> resolve(const std::vector<storage::StateIds>& sets);
  // The event a received redaction takes effect on ("" for none).
  std::string redaction_target(const json::object& ev, const StateMap& before, const std::string& room_id);
  void remember_state(const StateKey& key);

  RoomService& svc_;
  std::string room_id_;
  std::shared_ptr<RoomService::RoomState>& cache_;
  storage::Stores& read_;
  std::vector<Step> steps_;
  Undo undo_;
  std::map<std::tuple<std::string, std::string, std::string>, std::string> txn_events_;
  std::set<std::string> wake_;
  std::vector<json::object> sent_;
  std::optional<json::object> keeper_refusal_;
  std::optional<json::object> classification_refusal_;
  std::optional<json::object> breach_;  // what note_keeper_breach found in the event receive takes
  bool keeper_removed_ = false;         // a received event of this job removed the keeper
  int64_t group_ = 0;  // the state group the commit has reached (writer thread)
  std::map<std::string, int64_t> groups_after_;  // events written in this commit
  // Events this writer has read or prepared (with event_id), and the state after those it
  // prepared, for receive.
  std::map<std::string, json::object> events_;
  std::map<std::string, storage::StateIds> batch_after_;
  std::map<std::string, bool> rejected_;
};

// Users with membership join or invite in a room's state.
std::vector<std::string> room_members(const StateMap& state, bool include_invited);

}  // namespace despatch
