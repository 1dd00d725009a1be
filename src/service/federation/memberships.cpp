#include "service/federation/memberships.h"

#include "core/canonical_json.h"
#include "core/ids.h"
#include "core/log.h"
#include "service/common/time.h"
#include "service/federation/event_signatures.h"
#include "service/policy/classification.h"
#include "service/rooms/event_format.h"
#include "service/rooms/event_limits.h"
#include "service/rooms/member_events.h"
#include "service/rooms/room_version.h"

namespace despatch {

namespace asio = boost::asio;

namespace {

// A remote server's refusal as the local user should hear it.
Error refusal(const std::string& server, const std::string& what, const FederationResponse& res) {
  const json::value* code = res.body.is_object() ? res.body.as_object().if_contains("errcode") : nullptr;
  // The spec's code is M_INCOMPATIBLE_ROOM_VERSION; some servers answer an invite with
  // M_UNSUPPORTED_ROOM_VERSION for the same thing.
  if (res.status == 400 && code &&
      (is_str(*code, errc::kIncompatibleRoomVersion) || is_str(*code, errc::kUnsupportedRoomVersion)))
    return Error{400, errc::kIncompatibleRoomVersion, server + " does not support this room's version", {}};
  if (res.status == 403) return Error::forbidden(server + " refused the " + what + ": " + res.error_text());
  if (res.status == 404) return Error::not_found(server + " does not know the room: " + res.error_text());
  return Error::make(502, errc::kUnknown, server + " answered the " + what + " with " + res.error_text());
}

// The servers that may let a user out of (or in to) a room this server is not in: those
// named, then the inviter's, the one that answered last, and the room ID's own.
std::vector<std::string> servers_for(const std::optional<storage::RemoteMembershipRow>& row,
                                     const std::string& room_id, std::vector<std::string> via) {
  auto add = [&via](std::string s) {
    if (!s.empty() && std::find(via.begin(), via.end(), s) == via.end()) via.push_back(std::move(s));
  };
  if (row) {
    auto ev = parse_strict_json(row->event);
    if (ev.ok() && ev->is_object())
      if (auto* s = ev->as_object().if_contains("sender"); s && s->is_string())
        add(std::string(server_name_of(s->as_string())));
    add(row->via);
  }
  add(std::string(server_name_of(room_id)));
  return via;
}

// An invite's room, as its stripped state shows it, must be within what this server carries
// and what may be shared with the inviting server.
Status check_invite_classification(const Config& config, const json::array& stripped, const std::string& origin) {
  ClassificationScheme scheme(config);
  Marking marking = scheme.default_marking();
  for (auto& e : stripped) {
    const json::object& o = e.as_object();
    if (o.at("type") != kClassificationType || o.at("state_key") != "") continue;
    ClassificationCheck c = scheme.parse(o.at("content"), marking);
    // A marking this scheme does not know is no reason to refuse; a refused or too high one is.
    if (!c.status.ok() && !c.attempt.empty())
      return Error::forbidden("The room is classified " + c.marking + ", which this server may not hold: " +
                              c.status.error().message);
    if (!c.status.ok()) marking = scheme.default_marking();
  }
  return scheme.check_shared(marking, origin);
}

}  // namespace

asio::awaitable<Result<std::string>> FederationMemberships::invite(const std::string& sender,
                                                                   const std::string& room_id,
                                                                   const std::string& target, json::object content) {
  std::string server(server_name_of(target));
  DS_CO_ASSIGN(InviteDraft draft, rooms_.invite_draft(sender, room_id, target, std::move(content)));
  json::object body;
  body["room_version"] = draft.room_version;
  body["event"] = draft.event;
  body["invite_room_state"] = draft.stripped;
  const std::string put = "PUT";
  std::string path = "/_matrix/federation/v2/invite/" + query_escape(room_id) + "/" + query_escape(draft.event_id);
  // A server not on the allow-list is refused here, counted, with M_FORBIDDEN (sender.h).
  DS_CO_ASSIGN(FederationResponse res, co_await sender_.send(server, put, path, json::value(std::move(body))));
  if (res.status != 200 || !res.body.is_object()) {
    Error e = refusal(server, "invite", res);
    if (e.errcode == errc::kIncompatibleRoomVersion) {
      // Say what the inviter can do about it.
      e.message = server + " does not support room version " + draft.room_version + ", so " + target +
                  " cannot be invited to this room; invite them to a room made in an older version";
      e.extra["room_version"] = draft.room_version;
    }
    co_return e;
  }
  auto* signed_value = res.body.as_object().if_contains("event");
  if (!signed_value || !signed_value->is_object())
    co_return Error::make(502, errc::kUnknown, server + " answered the invite without the event");
  json::object signed_event = signed_value->as_object();
  // The same event (its ID covers all but signatures and unsigned; the content hash the rest),
  // now signed by the invitee's server too.
  if (compute_event_id(signed_event, draft.room_version) != draft.event_id ||
      !verify_event_content_hash(signed_event).ok())
    co_return Error::make(502, errc::kUnknown, server + " answered the invite with another event");
  Status countersigned = co_await check_server_signature(keys_, signed_event, server, draft.room_version);
  if (!countersigned.ok())
    co_return Error::make(502, errc::kUnknown, server + " did not countersign the invite: " + countersigned.error().message);
  signed_event.erase("unsigned");
  co_return co_await rooms_.take_own_event(room_id, std::move(signed_event));
}

asio::awaitable<Result<FederationMemberships::Sent>> FederationMemberships::make_and_send(
    const std::string& server, const std::string& user, const std::string& room_id, const std::string& membership,
    std::optional<std::string> reason) {
  bool knock = membership == "knock";
  std::string make = std::string("/_matrix/federation/v1/make_") + (knock ? "knock/" : "leave/") +
                     query_escape(room_id) + "/" + query_escape(user);
  // Knocking is in room versions 7 on; this server takes up to 11 (see joins.cpp).
  if (knock) {
    make += "?";
    for (int v = 7; v <= 11; ++v) make += "ver=" + std::to_string(v) + "&";
    make.pop_back();
  }
  const std::string get = "GET";
  DS_CO_ASSIGN(FederationResponse made, co_await sender_.send(server, get, make, std::nullopt));
  if (made.status != 200 || !made.body.is_object()) co_return refusal(server, membership, made);
  json::object& answer = made.body.as_object();
  auto* ver = answer.if_contains("room_version");
  std::string version = ver && ver->is_string() ? std::string(ver->as_string()) : "1";
  if (!find_room_version(version))
    co_return Error{400, errc::kIncompatibleRoomVersion, "Unsupported room version " + version, {}};
  auto* tmpl = answer.if_contains("event");
  if (!tmpl || !tmpl->is_object())
    co_return Error::make(502, errc::kUnknown, server + " sent no " + membership + " template");
  json::object ev = tmpl->as_object();
  // Only what the template may decide is taken from it; the rest is ours.
  if (!is_str(ev["room_id"], room_id) || !is_str(ev["sender"], user) || !is_str(ev["state_key"], user) ||
      !is_str(ev["type"], "m.room.member"))
    co_return Error::make(502, errc::kUnknown, server + " sent a " + membership + " template for something else");
  json::object content;
  content["membership"] = membership;
  if (reason) content["reason"] = *reason;
  ev["content"] = std::move(content);
  std::string event_id = sign_template(ev, config_.server_name, key_, version);
  std::string send = std::string("/_matrix/federation/") + (knock ? "v1/send_knock/" : "v2/send_leave/") +
                     query_escape(room_id) + "/" + query_escape(event_id);
  const std::string put = "PUT";
  DS_CO_ASSIGN(FederationResponse sent, co_await sender_.send(server, put, send, json::value(ev)));
  if (sent.status != 200 || !sent.body.is_object()) co_return refusal(server, membership, sent);
  Sent out;
  out.event = std::move(ev);
  out.event["event_id"] = event_id;
  out.event_id = event_id;
  out.room_version = version;
  out.answer = std::move(sent.body);
  co_return out;
}

asio::awaitable<Result<std::string>> FederationMemberships::leave(const std::string& user, const std::string& room_id,
                                                                  std::optional<std::string> reason) {
  DS_CO_ASSIGN(auto row, rooms_.remote_membership(user, room_id));
  if (!row) co_return Error::forbidden("You are not in this room");
  Error last = Error::not_found("No server to leave the room through");
  for (auto& server : servers_for(row, room_id, {})) {
    if (server == config_.server_name) continue;
    auto sent = co_await make_and_send(server, user, room_id, "leave", reason);
    if (!sent.ok()) {
      DS_LOG(kInfo, "leaving {} through {} failed: {}", room_id, server, sent.error().message);
      last = sent.error();
      continue;
    }
    storage::RemoteMembershipRow left = *row;
    left.membership = "leave";
    left.event_id = sent->event_id;
    left.event = json::serialize(sent->event);
    left.stripped_state = "[]";
    left.via = server;
    DS_CO_TRY(co_await rooms_.put_remote_membership(std::move(left)));
    co_return sent->event_id;
  }
  co_return last;
}

asio::awaitable<Result<std::string>> FederationMemberships::knock(const std::string& user, const std::string& room_id,
                                                                  std::optional<std::string> reason,
                                                                  std::vector<std::string> via) {
  Error last = Error::not_found("No server to knock through");
  for (auto& server : servers_for(std::nullopt, room_id, std::move(via))) {
    if (server == config_.server_name) continue;
    auto sent = co_await make_and_send(server, user, room_id, "knock", reason);
    if (!sent.ok()) {
      DS_LOG(kInfo, "knocking on {} through {} failed: {}", room_id, server, sent.error().message);
      last = sent.error();
      if (last.status == 403 || last.errcode == errc::kIncompatibleRoomVersion) break;
      continue;
    }
    auto stripped = parse_stripped_state(sent->answer.as_object().if_contains("knock_room_state"));
    storage::RemoteMembershipRow row;
    row.user_id = user;
    row.room_id = room_id;
    row.membership = "knock";
    row.event_id = sent->event_id;
    row.event = json::serialize(sent->event);
    row.room_version = sent->room_version;
    row.stripped_state = json::serialize(stripped.ok() ? *stripped : json::array{});
    row.via = server;
    DS_CO_TRY(co_await rooms_.put_remote_membership(std::move(row)));
    co_return room_id;
  }
  co_return last;
}

asio::awaitable<Result<json::object>> FederationMemberships::receive_invite(const std::string& origin,
                                                                            const std::string& room_id,
                                                                            const std::string& event_id,
                                                                            const json::object& body) {
  auto* ver = body.if_contains("room_version");
  if (!ver || !ver->is_string()) co_return Error::bad_json("room_version is required");
  std::string version(ver->as_string());
  const RoomVersion* rv = find_room_version(version);
  if (!rv || rv->event_ids == EventIdFormat::kOpaque)
    co_return Error{400, errc::kIncompatibleRoomVersion, "This server does not support room version " + version,
                    {{"room_version", version}}};
  auto* ev_value = body.if_contains("event");
  if (!ev_value || !ev_value->is_object()) co_return Error::bad_json("event is required");
  json::object ev = ev_value->as_object();
  DS_CO_TRY(check_event_shape(ev));
  DS_CO_TRY(check_event_size(ev));
  DS_CO_TRY(check_incoming_invite(ev, room_id, origin, config_.server_name));
  if (compute_event_id(ev, version) != event_id) co_return Error::bad_json("The event ID does not match the event");
  DS_CO_ASSIGN(json::array stripped, parse_stripped_state(body.if_contains("invite_room_state")));
  DS_CO_TRY(check_invite_classification(config_, stripped, origin));
  DS_CO_TRY(co_await check_event_signatures(keys_, ev, event_id, version));
  if (auto hash = verify_event_content_hash(ev); !hash.ok())
    co_return Error::forbidden("The invite does not match its content hash");
  std::string target(ev.at("state_key").as_string());
  DS_CO_ASSIGN(bool active, rooms_.user_active(target));
  if (!active) co_return Error::not_found("Unknown user " + target);
  ev.erase("unsigned");
  countersign_event(ev, config_.server_name, key_, version);
  // A room this server is in hears of the invite in the room's own events; kept aside only
  // for a room it is not in.
  if (!rooms_.room_version(room_id).ok()) {
    auto current = rooms_.remote_membership(target, room_id);
    if (!current.ok()) co_return current.error();
    json::object kept = ev;
    kept["event_id"] = event_id;
    storage::RemoteMembershipRow row;
    row.user_id = target;
    row.room_id = room_id;
    row.membership = "invite";
    row.event_id = event_id;
    row.event = json::serialize(kept);
    row.room_version = version;
    row.stripped_state = json::serialize(stripped);
    row.via = origin;
    DS_CO_TRY(co_await rooms_.put_remote_membership(std::move(row)));
  }
  json::object out;
  out["event"] = std::move(ev);
  co_return out;
}

}  // namespace despatch
