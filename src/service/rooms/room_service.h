// Rooms: creating them, appending events (auth rules, hashing, signing, state), membership,
// redaction, aliases, the public directory, and the reads clients make of a room.
//
// Every event is appended on its room's lane (room_lanes.h), which serialises that room's
// history without locks and keeps the room's current state, so auth checks need no reads.
#pragma once

#include "core/config.h"
#include "core/crypto.h"
#include "service/notifier/notifier.h"
#include "service/policy/alerts.h"
#include "service/push/push_service.h"
#include "service/records/archive.h"
#include "service/records/keeper.h"
#include "service/rooms/room_lanes.h"
#include "service/rooms/state_map.h"
#include "storage/database.h"
#include "storage/remote_membership_store.h"

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace despatch {

// True for the room versions createRoom makes rooms in: 3 to 11, whose events this writer
// produces. Versions 1 and 2 need event IDs chosen by the server and [event_id, hashes]
// references, and 12 derives the room ID from the create event, which the writer would have
// to build before it has a room, and has no server name in its room IDs, which the client
// API's room ID grammar requires.
bool can_create_room_version(std::string_view room_version);

// Identifies a client's transaction for /send idempotency.
struct TxnRef {
  std::string device_id;
  std::string txn_id;
  std::string scope;  // the endpoint and room: IDs reused in another room or endpoint are new
};

// Where a /messages page starts and which way it goes.
struct PageRequest {
  std::optional<int64_t> from, to;
  bool backwards = true;
  int limit = 10;
};

// Membership through other servers, for rooms or users this server does not hold alone
// (service/federation/memberships.h; unset while federation is off).
class RemoteMembers {
 public:
  virtual ~RemoteMembers() = default;
  // sender (local) invites target (remote) to room_id: the invitee's server countersigns.
  virtual boost::asio::awaitable<Result<std::string>> invite(const std::string& sender, const std::string& room_id,
                                                             const std::string& target, json::object content) = 0;
  // Rejects an invite, or withdraws a knock, of a room this server is not in.
  virtual boost::asio::awaitable<Result<std::string>> leave(const std::string& user, const std::string& room_id,
                                                            std::optional<std::string> reason) = 0;
  // Knocks on a room this server is not in, through via.
  virtual boost::asio::awaitable<Result<std::string>> knock(const std::string& user, const std::string& room_id,
                                                            std::optional<std::string> reason,
                                                            std::vector<std::string> via) = 0;
};

// An invite of a remote user built and signed here, before the invitee's server countersigns.
struct InviteDraft {
  std::string room_version;
  std::string event_id;
  json::object event;     // PDU
  json::array stripped;   // invite_room_state
};

class RoomFilterView;  // forward: filters live in service/sync
struct Received;        // room_writer.h

class RoomService {
 public:
  RoomService(const Config& config, storage::Database& db, Notifier& notifier,
              const SigningKey& key, PushService& push, Archive& archive);

  boost::asio::awaitable<Result<std::string>> create_room(const std::string& creator,
                                                          const json::object& body);

  // Appends a message (no state_key) or state event from sender; returns the event ID.
  boost::asio::awaitable<Result<std::string>> send_event(const std::string& sender,
                                                         const std::string& room_id,
                                                         const std::string& type,
                                                         json::object content,
                                                         std::optional<std::string> state_key,
                                                         std::optional<TxnRef> txn);
  boost::asio::awaitable<Result<std::string>> redact(const std::string& sender,
                                                     const std::string& room_id,
                                                     const std::string& event_id,
                                                     std::optional<std::string> reason,
                                                     std::optional<TxnRef> txn);
  // Changes target's membership in room (invite, join, leave, ban; kick = leave by another).
  boost::asio::awaitable<Result<std::string>> set_membership(const std::string& sender,
                                                             const std::string& room_id,
                                                             const std::string& target,
                                                             const std::string& membership,
                                                             std::optional<std::string> reason,
                                                             json::object extra_content = {});
  // Takes in events another server sent to a room this server is in, in order (see
  // RoomWriter::receive: their signatures and content hashes are checked by the caller).
  // One result per event; an error for the whole batch only when the room is unknown.
  // from: the server that delivered them (kept in their archive records). A keeper the
  // events removed is brought back in the same commit where a local member may.
  // relay: as the room's resident answering send_join/leave/knock, the accepted events go
  // on to the room's other servers, which hear of them from no one else.
  boost::asio::awaitable<Result<std::vector<Received>>> receive_events(const std::string& room_id,
                                                                       std::vector<json::object> pdus,
                                                                       std::string from = "", bool relay = false);

  // Joins across servers (room_federation.cpp). A resident server's join template for
  // user_id (make_join; M_INCOMPATIBLE_ROOM_VERSION unless versions has the room's), and its
  // answer to send_join: the join taken in, the state before it and the auth chain.
  Result<json::object> join_template(const std::string& room_id, const std::string& user_id,
                                     const std::vector<std::string>& versions);
  boost::asio::awaitable<Result<json::object>> accept_join(const std::string& origin, const std::string& room_id,
                                                           const std::string& event_id, json::object pdu);
  // The template of a member event of user_id (make_join, make_leave, make_knock), decided
  // against the current state; versions empty takes any room version.
  Result<json::object> member_template(const std::string& room_id, const std::string& user_id,
                                       const std::string& membership, const std::vector<std::string>& versions);
  // A resident server takes in the member event origin's user made from the template
  // (send_join, send_leave, send_knock); returns it as stored.
  boost::asio::awaitable<Result<json::object>> accept_member(const std::string& origin, const std::string& room_id,
                                                             const std::string& event_id, json::object pdu,
                                                             const std::string& membership);
  // The room's stripped state, for a knock's answer.
  Result<json::array> stripped_room_state(const std::string& room_id);

  // Invites across servers (room_remote_members.cpp). The invite of a remote user, checked
  // against the room's current state and signed (not stored: the invitee's server
  // countersigns first); then the countersigned event taken in and sent on like one of ours.
  Result<InviteDraft> invite_draft(const std::string& sender, const std::string& room_id, const std::string& target,
                                   json::object content);
  boost::asio::awaitable<Result<std::string>> take_own_event(const std::string& room_id, json::object pdu);
  // Local users' memberships of rooms this server is not in (invites from other servers,
  // knocks, their rejections): the row at a new stream position, the user's /sync woken.
  Result<std::optional<storage::RemoteMembershipRow>> remote_membership(const std::string& user,
                                                                        const std::string& room_id);
  boost::asio::awaitable<Status> put_remote_membership(storage::RemoteMembershipRow row);
  // Knocks on a room (by ID or alias); through federation when this server is not in it.
  boost::asio::awaitable<Result<std::string>> knock(const std::string& user, const std::string& room_id_or_alias,
                                                    std::optional<std::string> reason, std::vector<std::string> via);
  void set_remote_members(RemoteMembers* remote) { remote_ = remote; }
  // Whether user is a local account that is not deactivated.
  Result<bool> user_active(const std::string& user);

  // The auth events of event_ids and theirs, transitively (PDUs).
  Result<json::array> auth_chain(const std::vector<std::string>& event_ids);
  // The joining side: takes in a room from a resident server's send_join answer (checked by
  // the caller; events with event_id).
  boost::asio::awaitable<Result<std::string>> adopt_room(const std::string& room_id, const std::string& version,
                                                         std::vector<json::object> state,
                                                         std::vector<json::object> auth_chain, json::object join);
  // History from before this server joined, fetched from another server (events with
  // event_id, signatures and content hashes checked by the caller): placed below every
  // stream position (room_history.cpp) and archived as history (kind "history", with the
  // server they came from and when). Returns how many events the history gained.
  boost::asio::awaitable<Result<int>> take_history(const std::string& room_id, std::vector<json::object> events,
                                                   std::string from = "");
  // Joins a room this server is not in through another server (set by federation).
  using RemoteJoiner = std::function<boost::asio::awaitable<Result<std::string>>(
      const std::string& user, const std::string& room_id, std::vector<std::string> via)>;
  void set_remote_joiner(RemoteJoiner fn) { remote_joiner_ = std::move(fn); }

  // Joins by room ID or alias; returns the room ID. A room this server is not in is joined
  // through the room ID's server or `via` when federation is on.
  boost::asio::awaitable<Result<std::string>> join(const std::string& user,
                                                   const std::string& room_id_or_alias,
                                                   std::optional<std::string> reason,
                                                   std::vector<std::string> via = {});
  boost::asio::awaitable<Status> forget(const std::string& user, const std::string& room_id);
  // Rewrites user's member event in every joined room after a profile change.
  boost::asio::awaitable<void> propagate_profile(const std::string& user);
  // Leaves every room (account deactivation).
  boost::asio::awaitable<void> leave_all(const std::string& user);
  // Withdraws the invites user sent that are still pending, in the rooms user is joined to
  // (a leaver's, before they leave; room_leavers.cpp): a leave of the invitee by user where
  // the auth rules let user kick them, else by the records keeper. Returns how many.
  boost::asio::awaitable<int> withdraw_invites_by(const std::string& user);
  // Brings a local user into a room on the department's behalf (SCIM groups): invited by the
  // records keeper where it may invite, else by the most powerful local member who may, then
  // joined server-side. Nothing to do when already joined.
  boost::asio::awaitable<Status> place_member(const std::string& room_id, const std::string& user,
                                              const std::string& reason);

  // Server administrators' reads (room_admin.cpp: the Synapse-compatible admin API). No
  // membership is needed: the callers are administrators, and every call is audited.
  Result<std::vector<std::string>> all_room_ids();
  // name, canonical_alias, topic, creator, room_version, encryption, join_rules,
  // history_visibility, guest_access, public, joined_members, joined_local_members,
  // invited_members, state_events, avatar, room_type.
  Result<json::object> admin_room_details(const std::string& room_id);
  Result<json::array> admin_state(const std::string& room_id);
  Result<std::vector<std::string>> admin_members(const std::string& room_id);
  // A page of the room's timeline as clients see events: {chunk, start, end}.
  Result<json::object> admin_messages(const std::string& room_id, const PageRequest& page);
  // Hands a room to another member (room_admin.cpp): the records keeper, which holds the
  // room's top power level, gives `to` that level in a visible power-levels change (and,
  // with demote, lowers `demote` to the default). `to` must be a joined member. Returns the
  // event ID. M_FORBIDDEN when the keeper is not in the room or lacks the power.
  boost::asio::awaitable<Result<std::string>> hand_over(const std::string& room_id, const std::string& to,
                                                        std::optional<std::string> demote);

  // Reads. Each checks that user may see what is asked for.
  Result<json::object> get_state_event(const std::string& user, const std::string& room_id,
                                       const std::string& type, const std::string& state_key);
  Result<json::array> get_state(const std::string& user, const std::string& room_id);
  Result<json::object> get_event(const std::string& user, const std::string& room_id,
                                 const std::string& event_id);
  Result<json::array> members(const std::string& user, const std::string& room_id,
                              const std::string& membership, const std::string& not_membership);
  Result<json::object> joined_members(const std::string& user, const std::string& room_id);
  Result<std::vector<std::string>> joined_rooms(const std::string& user);
  // Current membership of user in room ("" when none).
  Result<std::string> membership(const std::string& room_id, const std::string& user);
  Result<std::string> room_version(const std::string& room_id);
  // room_version, but M_FORBIDDEN for unknown rooms (the spec's answer for reads).
  Result<std::string> version_for_reader(const std::string& room_id);

  // Aliases and the public room directory.
  boost::asio::awaitable<Status> create_alias(const std::string& user, const std::string& alias,
                                              const std::string& room_id);
  boost::asio::awaitable<Status> delete_alias(const std::string& user, const std::string& alias);
  Result<std::string> resolve_alias(const std::string& alias);
  // A local alias as the directory answers it: {room_id, servers}, the servers with users
  // joined to the room, this one first (GET /directory/room, query/directory).
  Result<json::object> alias_directory(const std::string& alias);
  // The same for any alias: another server's is asked of that server when federation is on
  // (set_remote_alias_resolver); without it, 404 as for an unknown alias.
  boost::asio::awaitable<Result<json::object>> directory_lookup(const std::string& alias);
  using RemoteAliasResolver = std::function<boost::asio::awaitable<Result<json::object>>(const std::string& alias)>;
  void set_remote_alias_resolver(RemoteAliasResolver fn) { remote_alias_resolver_ = std::move(fn); }
  Result<json::array> room_aliases(const std::string& user, const std::string& room_id);
  boost::asio::awaitable<Status> set_visibility(const std::string& user,
                                                const std::string& room_id, bool is_public);
  Result<bool> get_visibility(const std::string& room_id);
  Result<json::object> public_rooms(int64_t limit, const std::string& since,
                                    const std::string& search_term);

  const Config& config() const { return config_; }
  storage::Database& db() { return db_; }

  // Called after each commit with the events this server sent to a room (PDUs, in order),
  // on the lane's thread: federation hands them to the other servers in the room, the
  // announcement channels wake their delivery. Added before serving.
  using SentListener = std::function<void(const std::string& room_id, const std::vector<json::object>& pdus)>;
  void add_sent_listener(SentListener fn) { sent_listeners_.push_back(std::move(fn)); }
  void notify_sent(const std::string& room_id, const std::vector<json::object>& pdus) const {
    for (auto& fn : sent_listeners_) fn(room_id, pdus);
  }
  // Called inside the commit with the same events and the commit's transaction, so that
  // what must follow from them (the federation queues, published announcements) is as
  // durable as they are.
  using SentQueue = std::function<Status(storage::Txn&, const std::string& room_id, const std::vector<json::object>& pdus)>;
  void add_sent_queue(SentQueue fn) { sent_queues_.push_back(std::move(fn)); }

  // Puts the records keeper in every room the policy covers from now on (before serving).
  void set_keeper(RecordsKeeper* keeper);
  // Own redactions, joins and refused attempts (keeper removal, classification) are
  // reported here as suspicious-activity signals; null: not reported.
  void set_alerts(AlertService* alerts) { alerts_ = alerts; }
  AlertService* alerts() const { return alerts_; }
  // Start-up: brings the keeper into covered rooms made before it existed or before the
  // policy covered them, invited by the most powerful local member who may invite.
  Status adopt_rooms_for_keeper();

  using RoomState = RoomCache;

 private:
  friend class RoomWriter;
  // Runs fn on room_id's lane (see room_lanes.h); completes when what it wrote is durable.
  template <class T>
  boost::asio::awaitable<Result<T>> room_job(const std::string& room_id,
                                             std::function<Result<T>(RoomWriter&)> fn);
  const Config& config_;
  storage::Database& db_;
  Notifier& notifier_;
  const SigningKey& key_;
  PushService& push_;
  Archive& archive_;
  RecordsKeeper* keeper_ = nullptr;
  AlertService* alerts_ = nullptr;
  std::string keeper_user_;  // "" without a keeper
  std::vector<SentListener> sent_listeners_;
  std::vector<SentQueue> sent_queues_;
  RemoteJoiner remote_joiner_;
  RemoteAliasResolver remote_alias_resolver_;
  RemoteMembers* remote_ = nullptr;
  RoomLanes lanes_;
};

}  // namespace despatch
