#include "service/sync/presence.h"

#include "core/ids.h"
#include "service/common/time.h"

#include <algorithm>

namespace despatch {

bool is_presence_value(std::string_view p) { return p == "online" || p == "unavailable" || p == "offline"; }

PresenceState decayed(PresenceState s, int64_t now, int64_t offline_after_ms) {
  if (s.presence == "online" && s.last_active_ts > 0 && now - s.last_active_ts >= kPresenceIdleMs) {
    s.presence = "unavailable";
    s.idle = true;
    s.currently_active = false;
  }
  int64_t heard = std::max(s.last_sync_ts, s.last_active_ts);
  if (s.presence != "offline" && heard > 0 && now - heard >= offline_after_ms) {
    s.presence = "offline";
    s.idle = false;
    s.chosen = false;
    s.currently_active = false;
  }
  return s;
}

PresenceState after_sync(PresenceState s, const std::string& value, int64_t now) {
  s.last_sync_ts = now;
  if (value == "online") {
    if (s.presence == "offline" || (s.presence == "unavailable" && !s.idle && !s.chosen)) {
      s.presence = "online";
      s.last_active_ts = now;
      s.currently_active = true;
      s.chosen = false;
    }
  } else if (value == "unavailable" && s.presence != "unavailable" && !s.chosen) {
    s.presence = "unavailable";
    s.currently_active = false;
    s.idle = false;
  }
  return s;
}

json::object presence_content(const PresenceState& s, int64_t now) {
  json::object c{{"presence", s.presence}, {"currently_active", s.currently_active}};
  if (s.last_active_ts > 0) c["last_active_ago"] = std::max<int64_t>(0, now - s.last_active_ts);
  if (s.status_msg) c["status_msg"] = *s.status_msg;
  return c;
}

void Presence::update(const std::string& user, const std::function<PresenceState(PresenceState)>& change) {
  PresenceState next;
  {
    std::lock_guard lock(mu_);
    auto it = users_.find(user);
    PresenceState before = it == users_.end() ? PresenceState{} : it->second;
    next = change(before);
    next.serial = before.serial;
    // Only what a client can see counts as a change; last_sync_ts moves on every /sync.
    bool visible = next.presence != before.presence || next.status_msg != before.status_msg ||
                   next.currently_active != before.currently_active || next.last_active_ts != before.last_active_ts;
    if (visible) next.serial = ++serial_;
    users_[user] = next;
    if (!visible) return;
  }
  auto wake = co_members_(user);
  wake.push_back(user);
  notifier_.notify_users(wake);
  if (listener_) listener_(user, next);
}

Status Presence::set_status(const std::string& user, const std::string& presence,
                            std::optional<std::string> status_msg) {
  if (!is_presence_value(presence)) return Error::invalid_param("presence must be online, unavailable or offline");
  int64_t now = now_ms();
  update(user, [&](PresenceState s) {
    s.presence = presence;
    s.status_msg = std::move(status_msg);
    s.chosen = presence != "online";
    s.idle = false;
    s.currently_active = presence == "online";
    if (presence == "online") s.last_active_ts = now;
    else if (s.last_active_ts == 0) s.last_active_ts = now;  // so that the sweep can age it out
    return s;
  });
  return ok_status();
}

Result<json::object> Presence::status_for(const std::string& viewer, const std::string& user) const {
  if (viewer != user) {
    auto shared = co_members_(viewer);
    if (std::find(shared.begin(), shared.end(), user) == shared.end())
      return Error::forbidden("You share no room with this user");
  }
  auto s = get(user);
  return presence_content(s ? *s : PresenceState{}, now_ms());
}

void Presence::syncing(const std::string& user, const std::string& set_presence) {
  int64_t now = now_ms();
  update(user, [&](PresenceState s) { return after_sync(std::move(s), set_presence, now); });
}

void Presence::set_remote(const std::string& user, const std::string& presence,
                          std::optional<std::string> status_msg, int64_t last_active_ago, bool currently_active) {
  int64_t now = now_ms();
  update(user, [&](PresenceState s) {
    s.presence = presence;
    s.status_msg = std::move(status_msg);
    s.currently_active = currently_active;
    s.last_active_ts = now - std::clamp<int64_t>(last_active_ago, 0, now);
    return s;
  });
}

void Presence::sweep() {
  int64_t now = now_ms();
  std::vector<std::string> due;
  {
    std::lock_guard lock(mu_);
    for (auto& [u, s] : users_)
      if (server_name_of(u) == server_name_)  // remote users' servers decay their own
        if (decayed(s, now, offline_after_ms_).presence != s.presence) due.push_back(u);
  }
  for (auto& u : due) update(u, [&](PresenceState s) { return decayed(std::move(s), now, offline_after_ms_); });
}

std::optional<PresenceState> Presence::get(const std::string& user) const {
  std::lock_guard lock(mu_);
  auto it = users_.find(user);
  if (it == users_.end()) return std::nullopt;
  return it->second;
}

uint64_t Presence::serial() const {
  std::lock_guard lock(mu_);
  return serial_;
}

std::vector<std::pair<std::string, PresenceState>> Presence::changed(const std::set<std::string>& users,
                                                                     uint64_t since) const {
  std::vector<std::pair<std::string, PresenceState>> out;
  std::lock_guard lock(mu_);
  for (auto& u : users) {
    auto it = users_.find(u);
    if (it != users_.end() && it->second.serial > since && it->second.serial > 0) out.emplace_back(u, it->second);
  }
  return out;
}

}  // namespace despatch
