// Presence (client-server "Presence" module, server-server m.presence EDU): in memory only, like
// typing, with a serial that sync tokens carry. A restart forgets it; everyone starts offline.
#pragma once

#include "core/result.h"
#include "service/notifier/notifier.h"

#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace despatch {

struct PresenceState {
  std::string presence = "offline";  // online, unavailable or offline
  std::optional<std::string> status_msg;
  int64_t last_active_ts = 0;  // ms since the epoch; 0: never seen
  bool currently_active = false;
  bool idle = false;           // unavailable because of inactivity, not by choice
  bool chosen = false;         // set by PUT .../status: a sync's set_presence does not override it
  int64_t last_sync_ts = 0;    // local users: when a /sync last started
  uint64_t serial = 0;         // of the last change
  bool operator==(const PresenceState&) const = default;
};

bool is_presence_value(std::string_view p);

// The spec's guidance as pure rules, for the sweep: an online user idle for kIdleMs becomes
// unavailable; a user whose clients stopped syncing for offline_after_ms goes offline.
constexpr int64_t kPresenceIdleMs = 5 * 60 * 1000;
PresenceState decayed(PresenceState s, int64_t now_ms, int64_t offline_after_ms);
// What a /sync with set_presence=value makes of s. "online" brings an offline user online and
// undoes an earlier sync's "unavailable", but not an idle spell (only activity ends that) nor a
// status the user PUT; "unavailable" marks an online user idle-by-choice; "offline" changes nothing
// (the spec: the client is then just not marked online).
PresenceState after_sync(PresenceState s, const std::string& value, int64_t now_ms);
// The m.presence content / GET body for s as seen at now_ms.
json::object presence_content(const PresenceState& s, int64_t now_ms);

class Presence {
 public:
  // co_members(user): users sharing a joined room with user (who to wake, who may see it).
  Presence(std::string server_name, Notifier& notifier,
           std::function<std::vector<std::string>(const std::string& user)> co_members, int64_t offline_after_ms)
      : server_name_(std::move(server_name)), notifier_(notifier), co_members_(std::move(co_members)),
        offline_after_ms_(offline_after_ms) {}

  // PUT .../presence/{userId}/status by the user themself; counts as activity when online.
  // An unknown presence value is M_INVALID_PARAM.
  Status set_status(const std::string& user, const std::string& presence, std::optional<std::string> status_msg);
  // GET .../presence/{userId}/status: the body, for viewer; M_FORBIDDEN unless viewer is user
  // or shares a joined room with them. A user never seen is offline.
  Result<json::object> status_for(const std::string& viewer, const std::string& user) const;
  // The set_presence of a /sync starting now.
  void syncing(const std::string& user, const std::string& set_presence);
  // An m.presence EDU's entry for a remote user (the caller checked its origin).
  void set_remote(const std::string& user, const std::string& presence, std::optional<std::string> status_msg,
                  int64_t last_active_ago, bool currently_active);
  // Applies decayed() to local users (remote users' servers tell us theirs). Run periodically.
  void sweep();

  std::optional<PresenceState> get(const std::string& user) const;
  uint64_t serial() const;
  // Of users, those known and changed after since (all known ones when since is 0).
  std::vector<std::pair<std::string, PresenceState>> changed(const std::set<std::string>& users,
                                                             uint64_t since) const;
  std::vector<std::string> co_members(const std::string& user) const { return co_members_(user); }

  // Called after every change of a user's presence, local or remote: federation sends local
  // users' changes to the servers sharing a room with them. Set before serving.
  using Listener = std::function<void(const std::string& user, const PresenceState& s)>;
  void set_listener(Listener l) { listener_ = std::move(l); }

 private:
  // Stores next for user if it differs (bumping the serial), then wakes and tells the listener.
  void update(const std::string& user, const std::function<PresenceState(PresenceState)>& change);

  std::string server_name_;
  Notifier& notifier_;
  std::function<std::vector<std::string>(const std::string&)> co_members_;
  int64_t offline_after_ms_;
  Listener listener_;
  mutable std::mutex mu_;
  uint64_t serial_ = 0;
  std::unordered_map<std::string, PresenceState> users_;
};

}  // namespace despatch
