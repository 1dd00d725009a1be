// What a leaver's rooms need once their account is cut off: their pending invites withdrawn.
#include "service/rooms/room_service.h"

#include "core/ids.h"
#include "core/log.h"

#include <algorithm>
#include "storage/membership_store.h"

namespace despatch {

namespace asio = boost::asio;

namespace {

const char* kWithdrawReason = "Invite withdrawn: the inviter has left";

bool str_is(const json::value* v, std::string_view s) { return v && v->is_string() && v->as_string() == s; }

}  // namespace

asio::awaitable<int> RoomService::withdraw_invites_by(const std::string& user) {
  int withdrawn = 0;
  auto rooms = db_.read().memberships().rooms_with(user, {"join"});
  if (!rooms.ok()) co_return 0;
  for (const std::string& room_id : *rooms) {
    auto invited = db_.read().memberships().users_with(room_id, "invite");
    if (!invited.ok() || invited->empty()) continue;
    auto state = get_state(user, room_id);
    if (!state.ok()) continue;
    std::vector<std::string> targets;
    for (auto& v : *state) {
      const json::object& ev = v.as_object();
      if (!str_is(ev.if_contains("type"), "m.room.member") || !str_is(ev.if_contains("sender"), user)) continue;
      auto* content = ev.if_contains("content");
      auto* key = ev.if_contains("state_key");
      if (!content || !content->is_object() || !key || !key->is_string()) continue;
      if (!str_is(content->as_object().if_contains("membership"), "invite")) continue;
      targets.emplace_back(key->as_string());
    }
    for (const std::string& target : targets) {
      // A withdrawn invite is a leave of the invitee by someone else (a kick of an invited
      // user, which the auth rules allow a member with the kick level above the invitee's).
      std::optional<std::string> reason = std::string(kWithdrawReason);
      const std::string leave = "leave";
      auto r = co_await set_membership(user, room_id, target, leave, reason);
      if (!r.ok() && !keeper_user_.empty()) r = co_await set_membership(keeper_user_, room_id, target, leave, reason);
      if (r.ok()) {
        ++withdrawn;
      } else {
        DS_LOG(kWarn, "leaver {}: could not withdraw the invite of {} to {}: {}", user, target, room_id,
               r.error().message);
      }
    }
  }
  co_return withdrawn;
}

asio::awaitable<Status> RoomService::place_member(const std::string& room_id, const std::string& user,
                                                  const std::string& reason) {
  DS_CO_ASSIGN(std::string current, membership(room_id, user));
  if (current == "join") co_return ok_status();
  if (current == "ban") co_return Error::forbidden(user + " is banned from " + room_id);
  auto joined = db_.read().memberships().users_with(room_id, "join");
  if (!joined.ok()) co_return joined.error();
  std::vector<std::string> local;
  for (auto& m : *joined)
    if (server_name_of(m) == config_.server_name) local.push_back(m);
  if (local.empty()) co_return Error::not_found("No member of this server is in " + room_id);
  if (current != "invite") {
    // Who may invite, most powerful first, the keeper ahead of its equals.
    auto pl = get_state_event(local[0], room_id, "m.room.power_levels", "");
    int64_t invite_level = 0, users_default = 0;
    json::object levels;
    if (pl.ok()) {
      const json::object& c = pl->at("content").as_object();
      if (auto* v = c.if_contains("invite"); v && v->is_int64()) invite_level = v->as_int64();
      if (auto* v = c.if_contains("users_default"); v && v->is_int64()) users_default = v->as_int64();
      if (auto* v = c.if_contains("users"); v && v->is_object()) levels = v->as_object();
    }
    auto level = [&](const std::string& u) {
      auto* v = levels.if_contains(u);
      return v && v->is_int64() ? v->as_int64() : users_default;
    };
    std::stable_sort(local.begin(), local.end(), [&](const std::string& a, const std::string& b) {
      if (level(a) != level(b)) return level(a) > level(b);
      return a == keeper_user_ && b != keeper_user_;
    });
    if (level(local[0]) < invite_level) co_return Error::forbidden("No member of this server may invite to " + room_id);
    std::optional<std::string> why = reason;
    const std::string invite = "invite";
    DS_CO_TRY(co_await set_membership(local[0], room_id, user, invite, why));
  }
  std::optional<std::string> why = reason;
  std::vector<std::string> via;
  DS_CO_TRY(co_await join(user, room_id, why, via));
  co_return ok_status();
}

}  // namespace despatch
