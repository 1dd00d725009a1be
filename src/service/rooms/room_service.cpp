#include "service/rooms/room_service.h"

#include "core/canonical_json.h"
#include "core/ids.h"
#include "core/log.h"
#include "service/common/time.h"
#include "service/records/audit.h"
#include "service/rooms/power_levels.h"
#include "service/rooms/room_version.h"
#include "service/rooms/room_writer.h"
#include "service/rooms/state_checks.h"
#include "storage/event_store.h"
#include "storage/membership_store.h"
#include "storage/room_store.h"
#include "storage/user_store.h"

namespace despatch {

namespace asio = boost::asio;

namespace {

json::object member_proto(const std::string& sender, const std::string& target,
                          json::object content) {
  return json::object{{"type", "m.room.member"},
                      {"sender", sender},
                      {"state_key", target},
                      {"content", std::move(content)}};
}

json::object state_proto(const std::string& sender, const std::string& type,
                         const std::string& key, json::object content) {
  return json::object{{"type", type}, {"sender", sender}, {"state_key", key},
                      {"content", std::move(content)}};
}

// The member content for a user joining: membership plus the global profile.
Result<json::object> join_content(storage::Stores& s, const std::string& user) {
  json::object content{{"membership", "join"}};
  DS_ASSIGN(auto profile, s.users().profile(user));
  if (profile) {
    if (profile->displayname) content["displayname"] = *profile->displayname;
    if (profile->avatar_url) content["avatar_url"] = *profile->avatar_url;
  }
  return content;
}

const json::string* string_field(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? &v->as_string() : nullptr;
}


}  // namespace

Status RoomWriter::keeper_join(const std::string& room_id, const std::string& sponsor) {
  const std::string& keeper = svc_.keeper_user_;
  DS_ASSIGN(json::object jc, join_content(read_, keeper));
  DS_TRY(append(room_id, member_proto(keeper, keeper, jc)));
  DS_ASSIGN(RoomService::RoomState * room, this->room(room_id));
  // In a room made without it, the member who brought the keeper in raises it to their own
  // level where they may, so that it can post the notice and they cannot remove it.
  PowerLevels pl = PowerLevels::from_state(room->state);
  const json::object* pl_event = find_state(room->state, "m.room.power_levels");
  if (pl_event && pl.user_level(keeper) < pl.user_level(sponsor) &&
      pl.user_level(sponsor) >= pl.event_level("m.room.power_levels", true)) {
    json::object content = pl_event->at("content").as_object();
    json::value& users = content["users"];
    if (!users.is_object()) users = json::object{};
    users.as_object()[keeper] = pl.user_level(sponsor);
    DS_TRY(append(room_id, state_proto(sponsor, "m.room.power_levels", "", content)));
    pl = PowerLevels::from_state(room->state);
  }
  if (find_state(room->state, kRecordsNoticeType)) return ok_status();
  if (pl.user_level(keeper) < pl.event_level(kRecordsNoticeType, true)) {
    DS_LOG(kWarn, "records keeper joined {} but may not post its records notice there", room_id);
    return ok_status();
  }
  json::object notice{{"recorded", true},
                      {"keeper", keeper},
                      {"body", "This room is recorded: " + keeper + " keeps its messages, including end-to-end "
                               "encrypted ones, in the records archive."}};
  DS_TRY(append(room_id, state_proto(keeper, kRecordsNoticeType, "", notice)));
  return ok_status();
}

Status RoomWriter::add_keeper(const std::string& room_id, const std::string& inviter) {
  DS_TRY(append(room_id, member_proto(inviter, svc_.keeper_user_, json::object{{"membership", "invite"}})));
  return keeper_join(room_id, inviter);
}

RoomService::RoomService(const Config& config, storage::Database& db, Notifier& notifier,
                         const SigningKey& key, PushService& push, Archive& archive)
    : config_(config), db_(db), notifier_(notifier), key_(key), push_(push), archive_(archive),
      lanes_(*this, db, notifier) {}

void RoomService::set_keeper(RecordsKeeper* keeper) {
  keeper_ = keeper;
  keeper_user_ = keeper ? keeper->user_id() : "";
}

template <class T>
asio::awaitable<Result<T>> RoomService::room_job(const std::string& room_id,
                                                 std::function<Result<T>(RoomWriter&)> fn) {
  // Not a coroutine, like Database::write: async_initiate keeps fn in the awaitable.
  return asio::async_initiate<decltype(asio::use_awaitable), void(Result<T>)>(
      [this, room_id](auto handler, std::function<Result<T>(RoomWriter&)> f) {
        asio::any_io_executor ex = asio::get_associated_executor(handler);
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        auto state = std::make_shared<std::optional<Result<T>>>();
        RoomLanes::Job job{[state, f = std::move(f)](RoomWriter& w) -> Status {
                             state->emplace(f(w));
                             if (!(*state)->ok()) return (*state)->error();
                             return ok_status();
                           },
                           [state, h, ex](const Error* err) {
                             if (err) state->emplace(*err);
                             if (!*state) state->emplace(Error::internal("room job failed"));
                             asio::post(ex, [h, state]() mutable { (*h)(std::move(**state)); });
                           }};
        lanes_.submit(room_id, ex, std::move(job));
      },
      asio::use_awaitable, std::move(fn));
}

bool can_create_room_version(std::string_view room_version) {
  const RoomVersion* v = find_room_version(room_version);
  return v != nullptr && v->event_ids != EventIdFormat::kOpaque && !v->room_id_from_create;
}

asio::awaitable<Result<std::string>> RoomService::create_room(const std::string& creator,
                                                              const json::object& body) {
  // Validate everything before writing anything.
  std::string version = config_.default_room_version;
  if (auto* v = body.if_contains("room_version")) {
    if (!v->is_string()) co_return Error::bad_json("room_version must be a string");
    version = v->as_string();
    if (!can_create_room_version(version))
      co_return Error::make(400, errc::kUnsupportedRoomVersion,
                            "Unsupported room version " + version + " (3 to 11 are)");
  }
  bool is_public = false;
  if (auto* v = body.if_contains("visibility")) {
    if (!v->is_string() || (*v != "public" && *v != "private"))
      co_return Error::bad_json("visibility must be \"public\" or \"private\"");
    is_public = *v == "public";
  }
  std::string preset = is_public ? "public_chat" : "private_chat";
  if (auto* v = body.if_contains("preset")) {
    if (!v->is_string() || (*v != "public_chat" && *v != "private_chat" && *v != "trusted_private_chat"))
      co_return Error::bad_json("preset must be public_chat, private_chat or trusted_private_chat");
    preset = v->as_string();
  }
  std::string alias;
  if (auto* v = body.if_contains("room_alias_name")) {
    if (!v->is_string()) co_return Error::bad_json("room_alias_name must be a string");
    alias = "#" + std::string(v->as_string()) + ":" + config_.server_name;
    if (!is_valid_room_alias(alias) || v->as_string().empty() ||
        v->as_string().find_first_of(":# ") != std::string::npos)
      co_return Error::make(400, errc::kInvalidParam, "Invalid room_alias_name");
  }
  std::vector<std::string> invites;
  if (auto* v = body.if_contains("invite")) {
    if (!v->is_array()) co_return Error::bad_json("invite must be an array of user IDs");
    for (auto& u : v->as_array()) {
      if (!u.is_string() || !is_valid_user_id(u.as_string()))
        co_return Error::invalid_param("invite holds an invalid user ID");
      if (u.as_string() != creator) invites.emplace_back(u.as_string());
    }
  }
  for (const char* k : {"name", "topic"})
    if (auto* v = body.if_contains(k); v && !v->is_string())
      co_return Error::bad_json(std::string(k) + " must be a string");
  for (const char* k : {"creation_content", "power_level_content_override"})
    if (auto* v = body.if_contains(k); v && !v->is_object())
      co_return Error::bad_json(std::string(k) + " must be an object");
  if (auto* v = body.if_contains("initial_state")) {
    if (!v->is_array()) co_return Error::bad_json("initial_state must be an array");
    for (auto& e : v->as_array()) {
      if (!e.is_object() || !string_field(e.as_object(), "type") ||
          !e.as_object().if_contains("content") || !e.as_object().at("content").is_object())
        co_return Error::bad_json("initial_state entries need a string type and object content");
      if (auto* sk = e.as_object().if_contains("state_key"); sk && !sk->is_string())
        co_return Error::bad_json("initial_state state_key must be a string");
    }
  }
  bool is_direct = false;
  if (auto* v = body.if_contains("is_direct")) {
    if (!v->is_bool()) co_return Error::bad_json("is_direct must be a boolean");
    is_direct = v->as_bool();
  }

  std::string room_id = make_room_id(config_.server_name);
  bool with_keeper = keeper_ && keeper_->covers(is_direct ? "direct" : "group");
  std::string keeper = keeper_user_;
  auto job = [=](RoomWriter& w) -> Result<std::string> {
        storage::Stores& t = w.read();
        if (!alias.empty()) {
          DS_ASSIGN(auto taken, t.rooms().alias(alias));
          if (taken) return Error::make(400, errc::kRoomInUse, "Room alias already taken");
        }
        for (auto& u : invites) {
          if (server_name_of(u) != w.server_name()) continue;  // remote invites come with federation
          DS_ASSIGN(bool known, t.users().is_active(u));
          if (!known) return Error::not_found("Unknown user " + u);
        }
        storage::RoomRow row;
        row.room_id = room_id;
        row.room_version = version;
        row.creator = creator;
        row.is_public = is_public;
        row.created_ts = now_ms();
        row.kind = is_direct ? "direct" : "group";
        w.then([row](storage::Txn& tx) { return tx.rooms().create(row); });
        w.new_room(room_id, version);

        json::object create_content;
        if (auto* cc = body.if_contains("creation_content")) create_content = cc->as_object();
        create_content["room_version"] = version;
        if (find_room_version(version)->create_has_creator) create_content["creator"] = creator;
        else create_content.erase("creator");
        DS_TRY(w.append(room_id, state_proto(creator, "m.room.create", "", create_content)));
        DS_ASSIGN(json::object jc, join_content(t, creator));
        DS_TRY(w.append(room_id, member_proto(creator, creator, jc)));

        json::object users{{creator, 100}};
        if (preset == "trusted_private_chat")
          for (auto& u : invites) users[u] = 100;
        json::object pl{
            {"users", users}, {"users_default", 0},
            {"events", json::object{{"m.room.name", 50}, {"m.room.power_levels", 100},
                                    {"m.room.history_visibility", 100},
                                    {"m.room.canonical_alias", 50}, {"m.room.avatar", 50},
                                    {"m.room.tombstone", 100}, {"m.room.server_acl", 100},
                                    {"m.room.encryption", 100}}},
            {"events_default", 0}, {"state_default", 50}, {"ban", 50}, {"kick", 50},
            {"redact", 50}, {"invite", preset == "public_chat" ? 50 : 0},
            {"notifications", json::object{{"room", 50}}}};
        if (auto* o = body.if_contains("power_level_content_override"))
          for (auto& [k, v] : o->as_object()) pl[k] = v;
        if (with_keeper) {
          // As powerful as anyone in the room, so that nobody may kick, ban or demote it.
          json::value& u = pl["users"];
          if (!u.is_object()) u = json::object{};
          int64_t top = 100;
          for (auto& [k, v] : u.as_object())
            if (auto l = lenient_power_level(v)) top = std::max(top, *l);
          u.as_object()[keeper] = top;
        }
        DS_TRY(w.append(room_id, state_proto(creator, "m.room.power_levels", "", pl)));
        if (!alias.empty()) {
          w.then([alias, room_id, creator](storage::Txn& tx) -> Status {
            // Checked again where it is written: another room may have taken it meanwhile.
            DS_ASSIGN(auto taken, tx.rooms().alias(alias));
            if (taken) return Error::make(400, errc::kRoomInUse, "Room alias already taken");
            return tx.rooms().add_alias({alias, room_id, creator});
          });
          DS_TRY(w.append(room_id, state_proto(creator, "m.room.canonical_alias", "",
                                               json::object{{"alias", alias}})));
        }
        DS_TRY(w.append(room_id, state_proto(creator, "m.room.join_rules", "",
                                             json::object{{"join_rule", preset == "public_chat" ? "public" : "invite"}})));
        DS_TRY(w.append(room_id, state_proto(creator, "m.room.history_visibility", "",
                                             json::object{{"history_visibility", "shared"}})));
        if (preset != "public_chat")
          DS_TRY(w.append(room_id, state_proto(creator, "m.room.guest_access", "",
                                               json::object{{"guest_access", "can_join"}})));
        if (with_keeper) DS_TRY(w.add_keeper(room_id, creator));
        if (auto* is = body.if_contains("initial_state")) {
          for (auto& e : is->as_array()) {
            auto& o = e.as_object();
            std::string key = o.if_contains("state_key") ? std::string(o.at("state_key").as_string()) : "";
            DS_TRY(w.append(room_id, state_proto(creator, std::string(o.at("type").as_string()), key,
                                                 o.at("content").as_object())));
          }
        }
        if (auto* n = string_field(body, "name"))
          DS_TRY(w.append(room_id, state_proto(creator, "m.room.name", "", json::object{{"name", *n}})));
        if (auto* t = string_field(body, "topic"))
          DS_TRY(w.append(room_id, state_proto(creator, "m.room.topic", "", json::object{{"topic", *t}})));
        for (auto& u : invites) {
          // A remote user's invite is countersigned by their server first: after the room is made.
          if (remote_ && server_name_of(u) != w.server_name()) continue;
          if (!keeper.empty() && u == keeper) {
            // Invited by name where the policy leaves it out: it joins at once.
            if (!with_keeper) DS_TRY(w.add_keeper(room_id, creator));
            continue;
          }
          json::object content{{"membership", "invite"}};
          if (is_direct) content["is_direct"] = true;
          DS_TRY(w.append(room_id, member_proto(creator, u, content)));
        }
        return room_id;
      };
  auto made = co_await room_job<std::string>(room_id, job);
  if (!made.ok() || !remote_) co_return made;
  for (auto& u : invites) {
    if (server_name_of(u) == config_.server_name) continue;
    json::object extra;
    if (is_direct) extra["is_direct"] = true;
    // The room stands either way; the creator hears of a refused invite only in the log.
    auto invited = co_await set_membership(creator, room_id, u, "invite", std::nullopt, std::move(extra));
    if (!invited.ok()) DS_LOG(kWarn, "createRoom {}: inviting {} failed: {}", room_id, u, invited.error().message);
  }
  co_return made;
}

asio::awaitable<Result<std::string>> RoomService::send_event(const std::string& sender,
                                                             const std::string& room_id,
                                                             const std::string& type,
                                                             json::object content,
                                                             std::optional<std::string> state_key,
                                                             std::optional<TxnRef> txn) {
  auto job = [=](RoomWriter& w) -> Result<std::string> {
        if (txn) {
          DS_ASSIGN(auto prior, w.find_txn(sender, *txn));
          if (prior) return *prior;
        }
        if (state_key) {
          DS_ASSIGN(RoomState * room, w.room(room_id));
          if (auto* prior = unchanged_state(room->state, type, *state_key, sender, content))
            return std::string(prior->at("event_id").as_string());
          if (type == "m.room.canonical_alias" && state_key->empty())
            DS_TRY(check_canonical_aliases(w.read(), room_id, content, w.server_name()));
        }
        json::object proto{{"type", type}, {"sender", sender}, {"content", content}};
        if (state_key) proto["state_key"] = *state_key;
        DS_ASSIGN(json::object ev, w.append(room_id, std::move(proto), txn ? &*txn : nullptr));
        return std::string(ev["event_id"].as_string());
      };
  co_return co_await room_job<std::string>(room_id, job);
}

asio::awaitable<Result<std::vector<Received>>> RoomService::receive_events(const std::string& room_id,
                                                                          std::vector<json::object> pdus,
                                                                          std::string from, bool relay) {
  auto job = [room_id, pdus = std::move(pdus), from, relay](RoomWriter& w) -> Result<std::vector<Received>> {
    std::vector<Received> out;
    for (auto& pdu : pdus) {
      auto r = relay ? w.receive_own(room_id, pdu, from) : w.receive(room_id, pdu, from);
      if (!r.ok()) {
        if (r.error().errcode == errc::kNotFound && r.error().message == "Unknown room") return r.error();
        // One bad event does not spoil the others: it is reported and left out.
        Received bad;
        bad.verdict = Acceptance::kRejected;
        bad.reason = r.error().message;
        if (auto* id = pdu.if_contains("event_id"); id && id->is_string()) bad.event_id = id->as_string();
        out.push_back(std::move(bad));
        continue;
      }
      out.push_back(std::move(*r));
    }
    w.restore_keeper(room_id);
    return out;
  };
  co_return co_await room_job<std::vector<Received>>(room_id, job);
}

asio::awaitable<Result<std::string>> RoomService::redact(const std::string& sender,
                                                         const std::string& room_id,
                                                         const std::string& event_id,
                                                         std::optional<std::string> reason,
                                                         std::optional<TxnRef> txn) {
  auto own = std::make_shared<bool>(false);  // set by the job: sender redacts their own event
  auto job = [=](RoomWriter& w) -> Result<std::string> {
        if (txn) {
          DS_ASSIGN(auto prior, w.find_txn(sender, *txn));
          if (prior) return *prior;
        }
        DS_ASSIGN(auto target, w.read().events().event(event_id));
        if (!target || !is_str(target->pdu["room_id"], room_id)) return Error::not_found("Event not found in this room");
        DS_ASSIGN(RoomState * room, w.room(room_id));
        // The auth rules let anyone send a redaction event in v11; whether it takes effect is
        // decided here: your own events, or anyone's with the redact power level.
        if (!is_str(target->pdu["sender"], sender)) {
          PowerLevels pl = PowerLevels::from_state(room->state);
          if (pl.user_level(sender) < pl.redact)
            return Error::forbidden("You may not redact other users' events");
        }
        *own = is_str(target->pdu["sender"], sender);
        json::object content{{"redacts", event_id}};
        if (reason) content["reason"] = *reason;
        json::object proto{{"type", "m.room.redaction"}, {"sender", sender}, {"content", content}};
        DS_ASSIGN(json::object ev, w.append(room_id, std::move(proto), txn ? &*txn : nullptr));
        return std::string(ev["event_id"].as_string());
      };
  auto r = co_await room_job<std::string>(room_id, job);
  if (r.ok() && *own && alerts_)
    alerts_->signal("redaction.own", sender, {{"room_id", room_id}, {"event_id", event_id}});
  co_return r;
}

asio::awaitable<Result<std::string>> RoomService::set_membership(
    const std::string& sender, const std::string& room_id, const std::string& target,
    const std::string& membership, std::optional<std::string> reason, json::object extra) {
  if (!is_valid_user_id(target)) co_return Error::invalid_param("Invalid user ID");
  if (remote_ && membership == "invite" && server_name_of(target) != config_.server_name) {
    json::object content = extra;
    if (reason) content["reason"] = *reason;
    co_return co_await remote_->invite(sender, room_id, target, std::move(content));
  }
  if (remote_ && membership == "leave" && sender == target && !room_version(room_id).ok()) {
    // Rejecting an invite (or withdrawing a knock) of a room this server is not in.
    auto row = remote_membership(target, room_id);
    if (!row.ok()) co_return row.error();
    if (*row && ((*row)->membership == "invite" || (*row)->membership == "knock"))
      co_return co_await remote_->leave(target, room_id, reason);
  }
  auto job = [=, this](RoomWriter& w) -> Result<std::string> {
        storage::Stores& t = w.read();
        DS_ASSIGN(RoomState * room, w.room(room_id));
        std::string current;
        if (auto* m = find_state(room->state, "m.room.member", target))
          current = m->at("content").at("membership").as_string();
        json::object content = extra;
        content["membership"] = membership;
        if (reason) content["reason"] = *reason;
        if (membership == "invite" && server_name_of(target) == w.server_name()) {
          DS_ASSIGN(bool known, t.users().is_active(target));
          if (!known) return Error::not_found("Unknown user " + target);
          if (current == "join") return Error::forbidden(target + " is already in the room");
        }
        if (membership == "join") {
          DS_ASSIGN(json::object jc, join_content(t, target));
          for (auto& [k, v] : jc) content[k] = v;
        }
        if (membership == "leave" && sender != target && current != "join" &&
            current != "invite" && current != "knock" && current != "ban")
          return Error::forbidden(target + " is not in the room");
        if (membership == "leave" && sender == target && current.empty())
          return Error::forbidden("You are not in this room");
        if (membership == "join" && current == "join")
          if (auto* prior = unchanged_state(room->state, "m.room.member", target, sender, content))
            return std::string(prior->at("event_id").as_string());
        DS_ASSIGN(json::object ev, w.append(room_id, member_proto(sender, target, content)));
        // The keeper accepts every invite at once.
        if (membership == "invite" && !keeper_user_.empty() && target == keeper_user_) DS_TRY(w.keeper_join(room_id, sender));
        return std::string(ev["event_id"].as_string());
      };
  co_return co_await room_job<std::string>(room_id, job);
}

asio::awaitable<Result<std::string>> RoomService::join(const std::string& user,
                                                       const std::string& room_id_or_alias,
                                                       std::optional<std::string> reason,
                                                       std::vector<std::string> via) {
  std::string room_id = room_id_or_alias;
  if (!room_id.empty() && room_id[0] == '#') {
    auto r = co_await directory_lookup(room_id);
    if (!r.ok()) co_return r.error();
    room_id = std::string(r->at("room_id").as_string());
    // The servers the directory names are the ones that can let us in (after any the
    // client named itself).
    for (auto& s : r->at("servers").as_array()) {
      std::string name(s.as_string());
      if (name != config_.server_name && std::find(via.begin(), via.end(), name) == via.end()) via.push_back(name);
    }
  } else if (!is_valid_room_id(room_id)) {
    co_return Error::invalid_param("Not a room ID or alias: " + room_id);
  }
  if (remote_joiner_ && !room_version(room_id).ok()) {
    // Not a room this server is in: ask the room's own server (or those named) to let us in;
    // an invite names who to ask when the client does not: the inviter's server first.
    bool from_invite = false;
    if (via.empty()) {
      auto row = remote_membership(user, room_id);
      if (!row.ok()) co_return row.error();
      if (*row && (*row)->membership == "invite") {
        auto ev = parse_strict_json((*row)->event);
        if (ev.ok() && ev->is_object())
          if (auto* s = ev->as_object().if_contains("sender"); s && s->is_string())
            via.push_back(std::string(server_name_of(s->as_string())));
        if (std::find(via.begin(), via.end(), (*row)->via) == via.end()) via.push_back((*row)->via);
        from_invite = true;
      }
    }
    std::string home(server_name_of(room_id));
    if (!home.empty() && home != config_.server_name && std::find(via.begin(), via.end(), home) == via.end())
      via.insert(from_invite ? via.end() : via.begin(), home);
    if (!via.empty()) {
      auto joined = co_await remote_joiner_(user, room_id, via);
      if (joined.ok() && alerts_) alerts_->signal("room.join", user, {{"room_id", room_id}});
      co_return joined;
    }
  }
  auto r = co_await set_membership(user, room_id, user, "join", reason);
  if (!r.ok()) co_return r.error();
  if (alerts_) alerts_->signal("room.join", user, {{"room_id", room_id}});
  co_return room_id;
}

asio::awaitable<Status> RoomService::forget(const std::string& user, const std::string& room_id) {
  auto job = [=](storage::Txn& t) -> Status {
    DS_ASSIGN(auto m, t.memberships().membership(room_id, user));
    if (!m) return Error::not_found("You have never been in this room");
    if (*m == "join" || *m == "invite") return Error::make(400, errc::kUnknown, "Leave the room before forgetting it");
    return t.memberships().forget(room_id, user);
  };
  co_return co_await db_.transact<Ok>(job);
}

asio::awaitable<void> RoomService::propagate_profile(const std::string& user) {
  auto rooms = joined_rooms(user);
  if (!rooms.ok()) co_return;
  for (auto& room_id : *rooms) {
    auto job = [=](RoomWriter& w) -> Status {
      DS_ASSIGN(RoomState * room, w.room(room_id));
      auto* m = find_state(room->state, "m.room.member", user);
      if (!m || m->at("content").at("membership") != "join") return ok_status();
      json::object content = m->at("content").as_object();
      DS_ASSIGN(json::object jc, join_content(w.read(), user));
      content.erase("displayname");
      content.erase("avatar_url");
      for (auto& [k, v] : jc) content[k] = v;
      if (content == m->at("content").as_object()) return ok_status();
      DS_TRY(w.append(room_id, member_proto(user, user, content)));
      return ok_status();
    };
    co_await room_job<Ok>(room_id, job);
  }
}

asio::awaitable<void> RoomService::leave_all(const std::string& user) {
  auto rooms = db_.read().memberships().rooms_with(user, {"join", "invite", "knock"});
  if (!rooms.ok()) co_return;
  for (auto& room_id : *rooms) co_await set_membership(user, room_id, user, "leave", std::nullopt);
}

Status RoomService::adopt_rooms_for_keeper() {
  if (!keeper_) return ok_status();
  storage::Stores& s = db_.read();
  DS_ASSIGN(auto rooms, s.rooms().all_rooms());
  for (auto& r : rooms) {
    std::string room_id = r.room_id;
    if (!keeper_->covers(r.kind)) continue;
    // Rooms someone is still in, which the keeper has not joined.
    DS_ASSIGN(auto keeper_membership, s.memberships().membership(room_id, keeper_user_));
    if (keeper_membership == "join") continue;
    DS_ASSIGN(int64_t joined, s.memberships().count(room_id, "join"));
    if (joined == 0) continue;
    auto res = std::make_shared<Result<std::string>>(std::string());
    auto prepare = [this, room_id, res](RoomWriter& w) -> Status {
      DS_ASSIGN(RoomState * room, w.room(room_id));
      PowerLevels pl = PowerLevels::from_state(room->state);
      std::string inviter;
      for (auto& m : room_members(room->state, false)) {
        if (server_name_of(m) != config_.server_name || m == keeper_user_) continue;
        if (pl.user_level(m) < pl.invite) continue;
        if (inviter.empty() || pl.user_level(m) > pl.user_level(inviter)) inviter = m;
      }
      if (inviter.empty()) return ok_status();
      auto* k = find_state(room->state, "m.room.member", keeper_user_);
      if (k && k->at("content").at("membership") == "invite") DS_TRY(w.keeper_join(room_id, inviter));
      else DS_TRY(w.add_keeper(room_id, inviter));
      w.then([room_id, inviter](storage::Txn& t) -> Status {
        DS_TRY(audit_append(t, "server", "records.keeper_joined", "",
                            json::object{{"room_id", room_id}, {"invited_by", inviter}}));
        return ok_status();
      });
      *res = inviter;
      return ok_status();
    };
    auto finish = [res](const Error* err) {
      if (err) *res = *err;
    };
    lanes_.run_blocking(room_id, RoomLanes::Job{
                                     [prepare, res](RoomWriter& w) -> Status {
                                       Status st = prepare(w);
                                       if (!st.ok()) *res = st.error();
                                       return st;
                                     },
                                     finish});
    if (!res->ok())
      DS_LOG(kWarn, "records keeper could not join {}: {}", room_id, res->error().message);
    else if ((*res)->empty())
      DS_LOG(kWarn, "records keeper could not join {}: no local member may invite it", room_id);
    else
      DS_LOG(kInfo, "records keeper joined {} (invited by {})", room_id, **res);
  }
  return ok_status();
}

}  // namespace despatch
