// The m.room.member authorization rules of room versions 1 to 12 (rule 4 on the v6-11 pages,
// rule 5 on v1-5 and v12). Numbers in the code are rooms/v11.md's; deny() renumbers them.
#include <vector>

#include "core/base64.h"
#include "core/canonical_json.h"
#include "core/crypto.h"
#include "core/ids.h"
#include "service/rooms/auth_rules_detail.h"
#include "service/rooms/event_format.h"

namespace despatch::auth_detail {
namespace {

// True if any ed25519 signature in `signed_obj` verifies under any key of the
// m.room.third_party_invite content (public_key, public_keys[].public_key).
bool third_party_signature_valid(const json::object& signed_obj, const json::object& invite) {
  const json::object* signatures = obj_at(signed_obj, "signatures");
  if (signatures == nullptr) return false;
  json::object payload = signed_obj;
  payload.erase("signatures");
  payload.erase("unsigned");
  if (!check_canonical_values(payload).ok()) return false;
  std::string message = canonical_json(payload);

  std::vector<std::string> keys;
  auto add_key = [&keys](const json::object& holder) {
    if (auto b64 = str_at(holder, "public_key")) {
      if (auto raw = base64_decode(*b64)) keys.push_back(std::move(*raw));
    }
  };
  add_key(invite);
  if (const json::value* list = invite.if_contains("public_keys"); list && list->is_array()) {
    for (const json::value& entry : list->get_array()) {
      if (entry.is_object()) add_key(entry.get_object());
    }
  }
  for (const auto& server_sigs : *signatures) {
    if (!server_sigs.value().is_object()) continue;
    for (const auto& [key_id, sig_value] : server_sigs.value().get_object()) {
      if (!key_id.starts_with("ed25519:") || !sig_value.is_string()) continue;
      auto sig = base64_decode(sig_value.get_string());
      if (!sig) continue;
      for (const std::string& key : keys) {
        if (ed25519_verify(key, message, *sig)) return true;
      }
    }
  }
  return false;
}

struct MemberContext {
  const MemberInput& in;
  const RoomVersion& v;
  const PowerLevels& pl;
  std::string_view target;
  std::string sender_membership;
  std::string target_membership;
};

Status check_third_party_invite(const MemberContext& m, const json::value& tpi) {
  const RoomVersion& v = m.v;
  if (m.target_membership == "ban") {
    return deny(v, "4.4.1.1", "third-party invite target is banned");
  }
  const json::object* signed_obj = tpi.is_object() ? obj_at(tpi.get_object(), "signed") : nullptr;
  if (signed_obj == nullptr) return deny(v, "4.4.1.2", "third_party_invite has no signed object");
  auto mxid = str_at(*signed_obj, "mxid");
  auto token = str_at(*signed_obj, "token");
  if (!mxid || !token) return deny(v, "4.4.1.3", "third_party_invite.signed lacks mxid or token");
  if (*mxid != m.target) {
    return deny(v, "4.4.1.4", "third_party_invite mxid does not match state_key");
  }
  const json::object* invite =
      find_state(m.in.state, std::string(kThirdPartyInvite), std::string(*token));
  if (invite == nullptr) {
    return deny(v, "4.4.1.5", "no m.room.third_party_invite event matches the token");
  }
  if (str_at(*invite, "sender") != m.in.ev.sender) {
    return deny(v, "4.4.1.6", "sender did not send the m.room.third_party_invite");
  }
  if (third_party_signature_valid(*signed_obj, content_of(*invite))) return ok_status();
  return deny(v, "4.4.1.8",
              "third_party_invite signature matches none of the invite's public keys");
}

// 4.3.1: the creator's own join straight after the create event. The creator is
// content.creator in v1-10 and the create event's sender from v11 on.
bool is_creator_first_join(const MemberContext& m) {
  std::vector<std::string> prev = event_refs(m.in.event, "prev_events");
  if (prev.size() != 1) return false;
  std::vector<std::string> creators = room_creators(m.in.create, m.v);
  if (creators.empty() || m.target != creators.front()) return false;
  return prev[0] == create_event_id(m.in.create, m.v);
}

Status check_join(const MemberContext& m) {
  const RoomVersion& v = m.v;
  if (is_creator_first_join(m)) return ok_status();
  const EventView& ev = m.in.ev;
  if (ev.sender != m.target) return deny(v, "4.3.2", "sender does not match state_key for a join");
  if (m.sender_membership == "ban") return deny(v, "4.3.3", "sender is banned from the room");
  std::string rule = join_rule_of(m.in.state);
  bool member_or_invited = m.sender_membership == "invite" || m.sender_membership == "join";
  if (rule == "invite" || (v.knocking && rule == "knock")) {
    if (member_or_invited) return ok_status();
  }
  if ((v.restricted_joins && rule == "restricted") ||
      (v.knock_restricted && rule == "knock_restricted")) {
    if (member_or_invited) return ok_status();
    auto via = str_at(*ev.content, "join_authorised_via_users_server");
    if (!via || membership_of(m.in.state, *via) != "join") {
      return deny(v, "4.3.5.2", "restricted join not authorised by a joined member");
    }
    if (m.pl.user_level(*via) < m.pl.invite) {
      return deny(v, "4.3.5.2", "join_authorised_via_users_server user lacks the invite level");
    }
    return ok_status();
  }
  if (rule == "public") return ok_status();
  return deny(
      v, "4.3.7",
      "join rule '" + rule + "' does not allow this join in room version " + std::string(v.id));
}

Status check_invite(const MemberContext& m) {
  const RoomVersion& v = m.v;
  if (const json::value* tpi = m.in.ev.content->if_contains("third_party_invite")) {
    return check_third_party_invite(m, *tpi);
  }
  if (m.sender_membership != "join") return deny(v, "4.4.2", "inviter is not joined to the room");
  if (m.target_membership == "join" || m.target_membership == "ban") {
    return deny(v, "4.4.3", "invitee is already joined or is banned");
  }
  if (m.pl.user_level(m.in.ev.sender) >= m.pl.invite) return ok_status();
  return deny(v, "4.4.5", "sender's power level is below the invite level");
}

Status check_leave(const MemberContext& m) {
  const RoomVersion& v = m.v;
  std::string_view sender = m.in.ev.sender;
  if (sender == m.target) {
    const std::string& s = m.sender_membership;
    if (s == "invite" || s == "join" || (v.knocking && s == "knock")) return ok_status();
    return deny(v, "4.5.1",
                v.knocking ? "cannot leave without being invited, joined or knocking"
                           : "cannot leave without being invited or joined");
  }
  if (m.sender_membership != "join") return deny(v, "4.5.2", "sender is not joined to the room");
  int64_t sender_level = m.pl.user_level(sender);
  if (m.target_membership == "ban" && sender_level < m.pl.ban) {
    return deny(v, "4.5.3", "sender's power level is below the ban level needed to unban");
  }
  if (sender_level >= m.pl.kick && m.pl.user_level(m.target) < sender_level) return ok_status();
  return deny(v, "4.5.5", "sender cannot kick: below the kick level or not above the target");
}

Status check_ban(const MemberContext& m) {
  const RoomVersion& v = m.v;
  if (m.sender_membership != "join") return deny(v, "4.6.1", "sender is not joined to the room");
  int64_t sender_level = m.pl.user_level(m.in.ev.sender);
  if (sender_level >= m.pl.ban && m.pl.user_level(m.target) < sender_level) return ok_status();
  return deny(v, "4.6.3", "sender cannot ban: below the ban level or not above the target");
}

Status check_knock(const MemberContext& m) {
  const RoomVersion& v = m.v;
  std::string rule = join_rule_of(m.in.state);
  if (rule != "knock" && !(v.knock_restricted && rule == "knock_restricted")) {
    return deny(
        v, "4.7.1",
        "join rule '" + rule + "' does not allow knocking in room version " + std::string(v.id));
  }
  if (m.in.ev.sender != m.target) {
    return deny(v, "4.7.2", "sender does not match state_key for a knock");
  }
  const std::string& s = m.sender_membership;
  if (s != "ban" && s != "invite" && s != "join") return ok_status();
  return deny(v, "4.7.4", "cannot knock while banned, invited or joined");
}

// 4.2 (v8+): an authorising server named in content must have signed the event.
Status check_authoriser_signature(const MemberInput& in, const json::value& via) {
  std::string_view server = via.is_string() && is_valid_user_id(via.get_string())
                                ? server_name_of(via.get_string())
                                : std::string_view{};
  bool valid = false;
  if (!server.empty() && in.signed_by) {
    valid = in.signed_by(in.event, server);
  } else if (!server.empty()) {
    const json::object* sigs = obj_at(in.event, "signatures");
    const json::object* from = sigs != nullptr ? obj_at(*sigs, server) : nullptr;
    valid = from != nullptr && !from->empty();
  }
  if (valid) return ok_status();
  return deny(in.v, "4.2", "event is not signed by the join_authorised_via_users_server's server");
}

}  // namespace

Status check_member(const MemberInput& in) {
  const RoomVersion& v = in.v;
  const EventView& ev = in.ev;
  auto membership = str_at(*ev.content, "membership");
  if (!ev.state_key || !membership) {
    return deny(v, "4.1", "m.room.member needs a state_key and content.membership");
  }
  if (v.restricted_joins) {
    if (const json::value* via = ev.content->if_contains("join_authorised_via_users_server")) {
      DS_TRY(check_authoriser_signature(in, *via));
    }
  }
  PowerLevels pl = PowerLevels::from_state(in.state, v);
  MemberContext m{in,
                  v,
                  pl,
                  *ev.state_key,
                  membership_of(in.state, ev.sender),
                  membership_of(in.state, *ev.state_key)};
  if (*membership == "join") return check_join(m);
  if (*membership == "invite") return check_invite(m);
  if (*membership == "leave") return check_leave(m);
  if (*membership == "ban") return check_ban(m);
  if (*membership == "knock" && v.knocking) return check_knock(m);
  return deny(
      v, "4.8",
      "unknown membership '" + std::string(*membership) + "' in room version " + std::string(v.id));
}

}  // namespace despatch::auth_detail
