// The records keeper in rooms shared with other servers. A remote event that passes the auth
// rules is taken whatever local policy says of it (refusing it would split this server's view
// of the room from every other server's); what policy forbids is audited as suspicious, and a
// keeper removed that way is brought back by a local member who may, as at start-up.
#include "core/log.h"
#include "core/ids.h"
#include "service/records/audit.h"
#include "service/rooms/power_levels.h"
#include "service/rooms/room_writer.h"

namespace despatch {

namespace {

std::string membership_in(const StateMap& state, const std::string& user) {
  const json::object* m = find_state(state, "m.room.member", user);
  const json::value* v = m ? m->at("content").as_object().if_contains("membership") : nullptr;
  return v && v->is_string() ? std::string(v->as_string()) : "";
}

}  // namespace

void RoomWriter::note_keeper_breach(const RoomService::RoomState& room, const json::object& ev,
                                    const std::string& from) {
  std::string type(ev.at("type").as_string());
  const json::value* sk = ev.if_contains("state_key");
  bool is_state = sk && sk->is_string();
  std::string state_key = is_state ? std::string(sk->as_string()) : "";
  // A room shared with another department may carry that department's records notice
  // (the state key is the same): only a change to this keeper's notice concerns us.
  if (type == kRecordsNoticeType) {
    const json::object* notice = find_state(room.state, kRecordsNoticeType);
    if (!notice || !is_str(notice->at("sender"), svc_.keeper_user_)) return;
  }
  // The same judgement as for local senders; here it only reports.
  if (guard_keeper(room, ev, type, is_state, state_key).ok()) return;
  auto details = take_keeper_refusal();
  if (!details) return;
  (*details)["event_id"] = ev.at("event_id");
  (*details)["origin"] = server_name_of(ev.at("sender").as_string());
  if (!from.empty()) (*details)["from"] = from;
  (*details)["taken"] = true;  // valid by the auth rules: the room has it
  const json::value& attempt = details->at("attempt");
  if (is_str(attempt, "kick") || is_str(attempt, "ban")) keeper_removed_ = true;
  breach_ = std::move(details);
}

void RoomWriter::restore_keeper(const std::string& room_id) {
  if (!std::exchange(keeper_removed_, false)) return;
  const std::string& keeper = svc_.keeper_user_;
  auto room = this->room(room_id);
  if (!room.ok()) return;
  std::string was = membership_in((*room)->state, keeper);
  if (was == "join" || was == "invite") return;  // state resolution kept it in
  // Local members, most powerful first: each is tried until one's events pass the auth rules.
  PowerLevels pl = PowerLevels::from_state((*room)->state);
  std::vector<std::string> locals;
  for (auto& m : room_members((*room)->state, false))
    if (server_name_of(m) == server_name() && m != keeper) locals.push_back(m);
  std::stable_sort(locals.begin(), locals.end(),
                   [&](const std::string& a, const std::string& b) { return pl.user_level(a) > pl.user_level(b); });
  std::string sponsor, why = "no local member may invite it back";
  for (auto& m : locals) {
    if (was == "ban") {
      json::object unban{{"type", "m.room.member"}, {"sender", m}, {"state_key", keeper},
                         {"content", json::object{{"membership", "leave"}}}};
      auto r = append(room_id, std::move(unban));
      if (!r.ok()) {
        why = "no local member may lift its ban: " + r.error().message;
        continue;
      }
      was = "leave";
    }
    Status st = add_keeper(room_id, m);
    if (st.ok()) {
      sponsor = m;
      break;
    }
    why = st.error().message;
  }
  if (sponsor.empty()) {
    DS_LOG(kWarn, "records keeper was removed from {} by another server and cannot return: {}", room_id, why);
    then([room_id, why](storage::Txn& t) -> Status {
      DS_TRY(audit_append(t, "server", "records.keeper_not_restored", "",
                          json::object{{"room_id", room_id}, {"reason", why}}));
      return ok_status();
    });
    return;
  }
  DS_LOG(kInfo, "records keeper rejoined {} (invited back by {})", room_id, sponsor);
  then([room_id, sponsor](storage::Txn& t) -> Status {
    DS_TRY(audit_append(t, "server", "records.keeper_rejoined", "",
                        json::object{{"room_id", room_id}, {"invited_by", sponsor}}));
    return ok_status();
  });
}

}  // namespace despatch
