#include "service/federation/joins.h"

#include "core/ids.h"
#include "core/log.h"
#include "service/common/time.h"
#include "service/federation/event_signatures.h"
#include "service/rooms/event_format.h"
#include "service/rooms/event_limits.h"
#include "service/rooms/room_version.h"
#include "storage/user_store.h"

#include <set>

namespace despatch {

namespace asio = boost::asio;

namespace {

// The PDUs of a send_join answer's list, each checked and given its event_id.
asio::awaitable<Result<std::vector<json::object>>> checked_events(ServerKeys& keys, const json::value* list,
                                                                  const std::string& room_id,
                                                                  const std::string& version) {
  std::vector<json::object> out;
  if (!list || !list->is_array()) co_return Error::bad_json("The send_join answer lacks a list of events");
  std::set<std::string> seen;
  for (auto& v : list->as_array()) {
    if (!v.is_object()) co_return Error::bad_json("The send_join answer holds an event that is not an object");
    json::object ev = v.as_object();
    if (!is_str(ev["room_id"], room_id)) co_return Error::bad_json("The send_join answer holds another room's event");
    DS_CO_TRY(check_event_shape(ev));
    std::string id = compute_event_id(ev, version);
    if (id.empty()) co_return Error::bad_json("An event of the send_join answer has no ID");
    DS_CO_TRY(co_await check_event_signatures(keys, ev, id, version));
    // This server must take the room's state whole: a redacted event would not do.
    if (auto hash = verify_event_content_hash(ev); !hash.ok())
      co_return Error::forbidden("An event of the send_join answer does not match its content hash");
    ev.erase("unsigned");
    ev["event_id"] = id;
    if (seen.insert(id).second) out.push_back(std::move(ev));
  }
  co_return out;
}

}  // namespace

asio::awaitable<Result<std::string>> FederationJoins::join(const std::string& user, const std::string& room_id,
                                                           std::vector<std::string> via) {
  Error last = Error::not_found("No server to join the room through");
  for (auto& server : via) {
    if (server == config_.server_name) continue;
    auto r = co_await join_via(server, user, room_id);
    if (r.ok()) {
      // The recent history now, before the user's client pages through the room: the state
      // taken in with the join then moves to its place in that history before it is read.
      if (backfill_) co_await backfill_->before_page(room_id, INT64_MAX, kHistoryAtJoin);
      co_return r;
    }
    DS_LOG(kInfo, "joining {} through {} failed: {}", room_id, server, r.error().message);
    last = r.error();
    // A refusal stands: another server of the room would say the same.
    if (last.status == 403 || last.errcode == errc::kIncompatibleRoomVersion) break;
  }
  co_return last;
}

asio::awaitable<Result<std::string>> FederationJoins::join_via(const std::string& server, const std::string& user,
                                                               const std::string& room_id) {
  std::string target = "/_matrix/federation/v1/make_join/" + query_escape(room_id) + "/" + query_escape(user) + "?";
  // Versions 2 to 11: state resolution here is v2 (v1 rooms are not joined), and v12 room IDs
  // carry no server name, which this server's room ID grammar still requires.
  for (int v = 2; v <= 11; ++v) target += "ver=" + std::to_string(v) + "&";
  target.pop_back();
  const std::string get = "GET";
  DS_CO_ASSIGN(FederationResponse made, co_await sender_.send(server, get, target, std::nullopt));
  if (made.status != 200 || !made.body.is_object()) {
    if (made.status == 400 && made.body.is_object() &&
        is_str(made.body.as_object()["errcode"], errc::kIncompatibleRoomVersion))
      co_return Error{400, errc::kIncompatibleRoomVersion,
                      server + " has this room in a version this server does not support", {}};
    if (made.status == 403) co_return Error::forbidden(server + " refused the join: " + made.error_text());
    if (made.status == 404) co_return Error::not_found(server + " does not know the room: " + made.error_text());
    co_return Error::make(502, errc::kUnknown, server + " answered make_join with " + made.error_text());
  }
  json::object& answer = made.body.as_object();
  auto* ver = answer.if_contains("room_version");
  std::string version = ver && ver->is_string() ? std::string(ver->as_string()) : "1";
  if (!find_room_version(version)) co_return Error{400, errc::kIncompatibleRoomVersion, "Unsupported room version " + version, {}};
  auto* tmpl = answer.if_contains("event");
  if (!tmpl || !tmpl->is_object()) co_return Error::make(502, errc::kUnknown, server + " sent no join template");
  json::object ev = tmpl->as_object();
  // Only what the template may decide is taken from it; the rest is ours.
  if (!is_str(ev["room_id"], room_id) || !is_str(ev["sender"], user) || !is_str(ev["state_key"], user) ||
      !is_str(ev["type"], "m.room.member"))
    co_return Error::make(502, errc::kUnknown, server + " sent a join template for something else");
  json::object content = ev["content"].is_object() ? ev["content"].as_object() : json::object{};
  content["membership"] = "join";
  // The member's profile goes with the join as with a local one: clients show it (and some,
  // such as matrix-nio, require display_name in joined_members).
  DS_CO_ASSIGN(auto profile, rooms_.db().read().users().profile(user));
  if (profile && profile->displayname) content["displayname"] = *profile->displayname;
  if (profile && profile->avatar_url) content["avatar_url"] = *profile->avatar_url;
  ev["content"] = std::move(content);
  std::string event_id = sign_template(ev, config_.server_name, key_, version);
  const std::string put = "PUT";
  std::string send_target = "/_matrix/federation/v2/send_join/" + query_escape(room_id) + "/" + query_escape(event_id);
  DS_CO_ASSIGN(FederationResponse sent, co_await sender_.send(server, put, send_target, json::value(ev)));
  if (sent.status != 200 || !sent.body.is_object()) {
    if (sent.status == 403) co_return Error::forbidden(server + " refused the join: " + sent.error_text());
    co_return Error::make(502, errc::kUnknown, server + " answered send_join with " + sent.error_text());
  }
  json::object& room = sent.body.as_object();
  DS_CO_ASSIGN(auto state, co_await checked_events(keys_, room.if_contains("state"), room_id, version));
  DS_CO_ASSIGN(auto chain, co_await checked_events(keys_, room.if_contains("auth_chain"), room_id, version));
  // The resident server may have added its own signature to the join.
  if (auto* signed_join = room.if_contains("event"); signed_join && signed_join->is_object() &&
                                                       compute_event_id(signed_join->as_object(), version) == event_id)
    ev = signed_join->as_object();
  ev.erase("unsigned");
  ev["event_id"] = event_id;
  co_return co_await rooms_.adopt_room(room_id, version, std::move(state), std::move(chain), std::move(ev));
}

}  // namespace despatch
