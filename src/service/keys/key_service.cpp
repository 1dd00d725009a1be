#include "service/keys/key_service.h"

#include "core/base64.h"
#include "core/crypto.h"
#include "core/ids.h"
#include "core/log.h"

#include <map>

namespace despatch {

namespace asio = boost::asio;
using storage::Conn;

namespace {

json::value parse(const std::string& s) {
  boost::system::error_code ec;
  auto v = json::parse(s, ec);
  return ec ? json::value(json::object{}) : v;
}

// Splits "algorithm:key_id".
bool split_key_id(std::string_view full, std::string* alg, std::string* id) {
  auto colon = full.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == full.size()) return false;
  *alg = std::string(full.substr(0, colon));
  *id = std::string(full.substr(colon + 1));
  return true;
}

// Users sharing a joined room with user, and user.
Result<std::vector<std::string>> interested_users(Conn& c, const std::string& user) {
  DS_ASSIGN(auto rows, c.query("SELECT DISTINCT b.user_id FROM memberships a JOIN memberships b ON "
                               "a.room_id=b.room_id WHERE a.user_id=? AND a.membership='join' AND "
                               "b.membership='join'",
                               {user}));
  std::vector<std::string> out{user};
  for (auto& r : rows)
    if (r.str(0) != user) out.push_back(r.str(0));
  return out;
}

}  // namespace

Status verify_key_signature(const json::object& obj, const std::string& user,
                            const std::string& key_id, const std::string& public_b64) {
  auto pub = base64_decode(public_b64);
  if (!pub || pub->size() != 32) return Error::invalid_param("Malformed ed25519 key " + key_id);
  return verify_json(obj, user, key_id, *pub);
}

Result<std::vector<std::string>> KeyService::mark_changed(Conn& c, storage::Database& db,
                                                          const std::string& user) {
  DS_TRY(c.exec("INSERT OR IGNORE INTO device_list_changes(stream_pos, user_id) VALUES(?,?)",
                {db.next_stream_pos(), user}));
  return interested_users(c, user);
}

Result<std::vector<std::string>> KeyService::remove_device(Conn& c, storage::Database& db,
                                                           const std::string& user,
                                                           const std::string& device) {
  for (const char* table : {"device_keys", "one_time_keys", "fallback_keys", "to_device"})
    DS_TRY(c.exec(std::string("DELETE FROM ") + table + " WHERE user_id=? AND device_id=?",
                  {user, device}));
  DS_TRY(c.exec("DELETE FROM key_signatures WHERE target_user=? AND target_key=?", {user, device}));
  return mark_changed(c, db, user);
}

asio::awaitable<Result<json::object>> KeyService::upload(const std::string& user,
                                                         const std::string& device,
                                                         const json::object& body) {
  // Validate everything before storing anything.
  const json::object* dk = nullptr;
  if (auto* v = body.if_contains("device_keys"); v && !v->is_null()) {
    if (!v->is_object()) co_return Error::bad_json("device_keys must be an object");
    dk = &v->as_object();
    auto* u = dk->if_contains("user_id");
    auto* d = dk->if_contains("device_id");
    auto* keys = dk->if_contains("keys");
    auto* algs = dk->if_contains("algorithms");
    if (!u || !is_str(*u, user) || !d || !is_str(*d, device))
      co_return Error::bad_json("device_keys must name your own user_id and device_id");
    if (!keys || !keys->is_object() || !algs || !algs->is_array())
      co_return Error::bad_json("device_keys needs keys and algorithms");
    auto* ed = keys->as_object().if_contains("ed25519:" + device);
    if (!ed || !ed->is_string()) co_return Error::bad_json("device_keys lacks its ed25519 key");
    for (auto& [k, val] : keys->as_object())
      if (!val.is_string()) co_return Error::bad_json("device key values must be strings");
    auto st = verify_key_signature(*dk, user, "ed25519:" + device, std::string(ed->as_string()));
    if (!st.ok()) co_return Error::invalid_param("device_keys signature: " + st.error().message);
  }
  std::vector<std::tuple<std::string, std::string, std::string>> otks, fallbacks;
  for (auto [field, out] : {std::pair{"one_time_keys", &otks}, std::pair{"fallback_keys", &fallbacks}}) {
    auto* v = body.if_contains(field);
    if (!v || v->is_null()) continue;
    if (!v->is_object()) co_return Error::bad_json(std::string(field) + " must be an object");
    for (auto& [full, key] : v->as_object()) {
      std::string alg, id;
      if (!split_key_id(full, &alg, &id)) co_return Error::bad_json("key IDs are algorithm:key_id");
      if (!key.is_object() && !key.is_string())
        co_return Error::bad_json("one-time keys must be objects or strings");
      if (key.is_object()) {
        auto* k = key.as_object().if_contains("key");
        if (!k || !k->is_string()) co_return Error::bad_json("signed keys need a string key");
      }
      out->emplace_back(alg, id, json::serialize(key));
    }
  }

  std::vector<std::string> wake;
  auto job = [=, this, &wake](Conn& c) -> Result<json::object> {
    if (dk) {
      DS_ASSIGN(auto old, storage::query_one(c, "SELECT json FROM device_keys WHERE user_id=? AND device_id=?",
                                             {user, device}));
      std::string text = json::serialize(*dk);
      if (!old || old->str(0) != text) {
        DS_TRY(c.exec("INSERT INTO device_keys(user_id, device_id, json) VALUES(?,?,?) ON CONFLICT "
                      "(user_id, device_id) DO UPDATE SET json=excluded.json",
                      {user, device, text}));
        DS_ASSIGN(wake, mark_changed(c, db_, user));
      }
    }
    for (auto& [alg, id, text] : otks) {
      DS_ASSIGN(auto old, storage::query_one(c, "SELECT json FROM one_time_keys WHERE user_id=? AND device_id=? "
                                                "AND algorithm=? AND key_id=?",
                                             {user, device, alg, id}));
      if (old && old->str(0) != text)
        return Error::invalid_param("One-time key " + alg + ":" + id + " already exists with other content");
      if (!old)
        DS_TRY(c.exec("INSERT INTO one_time_keys(user_id, device_id, algorithm, key_id, json) VALUES(?,?,?,?,?)",
                      {user, device, alg, id, text}));
    }
    for (auto& [alg, id, text] : fallbacks)
      DS_TRY(c.exec("INSERT INTO fallback_keys(user_id, device_id, algorithm, key_id, json, used) "
                    "VALUES(?,?,?,?,?,0) ON CONFLICT(user_id, device_id, algorithm) DO UPDATE SET "
                    "key_id=excluded.key_id, json=excluded.json, used=0",
                    {user, device, alg, id, text}));
    DS_ASSIGN(json::object counts, one_time_key_counts(c, user, device));
    return json::object{{"one_time_key_counts", std::move(counts)}};
  };
  auto r = co_await db_.write<json::object>(job);
  if (r.ok() && !wake.empty()) notifier_.notify_users(wake);
  co_return r;
}

Result<json::object> KeyService::one_time_key_counts(Conn& c, const std::string& user,
                                                     const std::string& device) {
  DS_ASSIGN(auto rows, c.query("SELECT algorithm, COUNT(*) FROM one_time_keys WHERE user_id=? AND "
                               "device_id=? GROUP BY algorithm",
                               {user, device}));
  json::object out{{"signed_curve25519", 0}};
  for (auto& r : rows) out[r.str(0)] = r.i64(1);
  return out;
}

Result<json::array> KeyService::unused_fallback_types(Conn& c, const std::string& user,
                                                      const std::string& device) {
  DS_ASSIGN(auto rows, c.query("SELECT algorithm FROM fallback_keys WHERE user_id=? AND device_id=? AND used=0",
                               {user, device}));
  json::array out;
  for (auto& r : rows) out.push_back(json::string(r.str(0)));
  return out;
}

Result<json::object> KeyService::query(const std::string& requester, const json::object& body) {
  Conn& c = db_.reader();
  auto* want = body.if_contains("device_keys");
  if (!want || !want->is_object()) return Error::bad_json("device_keys must be an object");
  std::map<std::string, std::set<std::string>> wanted;  // user -> devices (empty: all)
  json::array users;
  for (auto& [uid, devs] : want->as_object()) {
    std::string user(uid);
    if (!is_valid_user_id(user)) return Error::invalid_param("Invalid user ID " + user);
    if (!devs.is_array()) return Error::bad_json("device lists must be arrays");
    auto& only = wanted[user];
    for (auto& d : devs.as_array()) {
      if (!d.is_string()) return Error::bad_json("device IDs must be strings");
      only.insert(std::string(d.as_string()));
    }
    users.push_back(json::string(user));
  }
  // Three queries for the whole request, however many users it names.
  std::string list = json::serialize(users);
  DS_ASSIGN(auto rows, c.query("SELECT k.user_id, k.device_id, k.json, d.display_name FROM device_keys k LEFT JOIN "
                               "devices d ON d.user_id=k.user_id AND d.device_id=k.device_id WHERE k.user_id IN "
                               "(SELECT value FROM json_each(?))",
                               {list}));
  DS_ASSIGN(auto sigs, c.query("SELECT target_user, target_key, signer, signer_key_id, signature FROM key_signatures "
                               "WHERE target_user IN (SELECT value FROM json_each(?)) AND (signer=target_user OR signer=?)",
                               {list, requester}));
  DS_ASSIGN(auto cs, c.query("SELECT user_id, usage, json FROM cross_signing_keys WHERE user_id IN "
                             "(SELECT value FROM json_each(?))",
                             {list}));
  std::map<std::pair<std::string, std::string>, std::vector<const storage::Row*>> sigs_for;
  for (auto& r : sigs) sigs_for[{r.str(0), r.str(1)}].push_back(&r);
  auto merge = [&](json::object& obj, const std::string& user, const std::string& target) {
    auto it = sigs_for.find({user, target});
    if (it == sigs_for.end()) return;
    for (auto* s : it->second) {
      json::value& all = obj["signatures"];
      if (!all.is_object()) all = json::object{};
      json::value& by = all.as_object()[s->str(2)];
      if (!by.is_object()) by = json::object{};
      by.as_object()[s->str(3)] = s->str(4);
    }
  };
  json::object device_keys, master, self_signing, user_signing;
  for (auto& [user, only] : wanted) device_keys[user] = json::object{};
  for (auto& r : rows) {
    const std::string& user = r.str(0);
    const auto& only = wanted[user];
    if (!only.empty() && !only.count(r.str(1))) continue;
    json::object k = parse(r.str(2)).as_object();
    merge(k, user, r.str(1));
    json::object u;
    if (!r.is_null(3)) u["device_display_name"] = r.str(3);
    k["unsigned"] = std::move(u);
    device_keys[user].as_object()[r.str(1)] = std::move(k);
  }
  for (auto& r : cs) {
    const std::string& user = r.str(0);
    json::object k = parse(r.str(2)).as_object();
    if (r.str(1) == "master") {
      if (auto* keys = k.if_contains("keys"); keys && keys->is_object() && !keys->as_object().empty())
        merge(k, user, std::string(keys->as_object().begin()->value().as_string()));
      master[user] = std::move(k);
    } else if (r.str(1) == "self_signing") {
      self_signing[user] = std::move(k);
    } else if (r.str(1) == "user_signing" && user == requester) {
      user_signing[user] = std::move(k);
    }
  }
  return json::object{{"device_keys", std::move(device_keys)}, {"master_keys", std::move(master)},
                      {"self_signing_keys", std::move(self_signing)},
                      {"user_signing_keys", std::move(user_signing)}, {"failures", json::object{}}};
}

Result<std::optional<ClaimedKey>> claim_device_key(Conn& c, const std::string& user, const std::string& device,
                                                   const std::string& alg) {
  DS_ASSIGN(auto otk, storage::query_one(c, "SELECT key_id, json FROM one_time_keys WHERE user_id=? AND "
                                            "device_id=? AND algorithm=? ORDER BY key_id LIMIT 1",
                                         {user, device, alg}));
  if (otk) {
    DS_TRY(c.exec("DELETE FROM one_time_keys WHERE user_id=? AND device_id=? AND algorithm=? AND key_id=?",
                  {user, device, alg, otk->str(0)}));
    return std::optional<ClaimedKey>(ClaimedKey{otk->str(0), otk->str(1)});
  }
  DS_ASSIGN(auto fb, storage::query_one(c, "SELECT key_id, json FROM fallback_keys WHERE user_id=? AND "
                                           "device_id=? AND algorithm=?",
                                        {user, device, alg}));
  if (!fb) return std::optional<ClaimedKey>{};
  DS_TRY(c.exec("UPDATE fallback_keys SET used=1 WHERE user_id=? AND device_id=? AND algorithm=?",
                {user, device, alg}));
  return std::optional<ClaimedKey>(ClaimedKey{fb->str(0), fb->str(1)});
}

asio::awaitable<Result<json::object>> KeyService::claim(const json::object& body) {
  auto* want = body.if_contains("one_time_keys");
  if (!want || !want->is_object()) co_return Error::bad_json("one_time_keys must be an object");
  for (auto& [uid, devs] : want->as_object()) {
    if (!is_valid_user_id(uid)) co_return Error::invalid_param("Invalid user ID " + std::string(uid));
    if (!devs.is_object()) co_return Error::bad_json("one_time_keys values must be objects");
    for (auto& [d, alg] : devs.as_object())
      if (!alg.is_string()) co_return Error::bad_json("algorithms must be strings");
  }
  json::object request = want->as_object();
  ServerDevice* own = server_device_;
  auto job = [request, own](Conn& c) -> Result<json::object> {
    json::object out;
    bool own_claimed = false;
    for (auto& [uid, devs] : request) {
      std::string user(uid);
      json::object per_user;
      for (auto& [did, alg_v] : devs.as_object()) {
        std::string device(did), alg(alg_v.as_string());
        DS_ASSIGN(auto claimed, claim_device_key(c, user, device, alg));
        if (!claimed) continue;
        per_user[device] = json::object{{alg + ":" + claimed->key_id, parse(claimed->json)}};
        if (own && user == own->user_id() && device == own->device_id()) own_claimed = true;
      }
      if (!per_user.empty()) out[user] = std::move(per_user);
    }
    if (own_claimed) DS_TRY(own->keys_claimed(c));
    return json::object{{"one_time_keys", std::move(out)}, {"failures", json::object{}}};
  };
  co_return co_await db_.write<json::object>(job);
}

namespace {

// Are both users joined to some room?
Result<bool> shares_room(Conn& c, const std::string& a, const std::string& b) {
  DS_ASSIGN(auto row, storage::query_one(
      c, "SELECT 1 FROM memberships a JOIN memberships b ON a.room_id=b.room_id WHERE a.user_id=? AND "
         "a.membership='join' AND b.user_id=? AND b.membership='join' LIMIT 1",
      {a, b}));
  return row.has_value();
}

}  // namespace

Result<DeviceListDelta> KeyService::device_list_delta(Conn& c, const std::string& user,
                                                      int64_t since, int64_t upto) {
  DeviceListDelta d;
  DS_ASSIGN(auto rows, c.query(
      "SELECT DISTINCT x.user_id FROM device_list_changes x WHERE x.stream_pos>? AND x.stream_pos<=? AND "
      "(x.user_id=? OR EXISTS (SELECT 1 FROM memberships a JOIN memberships b ON a.room_id=b.room_id "
      "WHERE a.user_id=? AND a.membership='join' AND b.user_id=x.user_id AND b.membership='join'))",
      {since, upto, user, user}));
  for (auto& r : rows) d.changed.insert(r.str(0));
  // Membership changes in rooms the user is (or was) in also change whose devices matter.
  DS_ASSIGN(auto mem, c.query(
      "SELECT e.room_id, e.state_key, m.membership FROM events e JOIN memberships m ON "
      "m.room_id=e.room_id AND m.user_id=e.state_key WHERE e.type='m.room.member' AND e.stream_pos>? "
      "AND e.stream_pos<=? AND e.room_id IN (SELECT room_id FROM memberships WHERE user_id=?)",
      {since, upto, user}));
  for (auto& r : mem) {
    std::string room = r.str(0), who = r.str(1), now = r.str(2);
    if (who == user) {
      // The user joined: everyone in the room is new to them. The user left: those they no
      // longer share any room with are gone from their device list.
      DS_ASSIGN(auto members, c.query("SELECT user_id FROM memberships WHERE room_id=? AND membership='join'", {room}));
      for (auto& m : members) {
        if (m.str(0) == user) continue;
        if (now == "join") {
          d.changed.insert(m.str(0));
        } else {
          DS_ASSIGN(bool shared, shares_room(c, user, m.str(0)));
          if (!shared) d.left.insert(m.str(0));
        }
      }
    } else if (now == "join") {
      d.changed.insert(who);
    } else {
      DS_ASSIGN(bool shared, shares_room(c, user, who));
      if (!shared) d.left.insert(who);
    }
  }
  for (auto& l : d.left) d.changed.erase(l);
  return d;
}

Result<DeviceListDelta> KeyService::changes(const std::string& user, int64_t from, int64_t to) {
  return device_list_delta(db_.reader(), user, from, std::min(to, db_.committed_stream_pos()));
}

asio::awaitable<Status> KeyService::send_to_device(const std::string& sender,
                                                   const std::string& sender_device,
                                                   const std::string& type,
                                                   const std::string& txn_id,
                                                   const json::object& messages) {
  for (auto& [uid, devs] : messages) {
    if (!is_valid_user_id(uid)) co_return Error::invalid_param("Invalid user ID " + std::string(uid));
    if (!devs.is_object()) co_return Error::bad_json("messages values must be objects");
    for (auto& [d, content] : devs.as_object())
      if (!content.is_object()) co_return Error::bad_json("to-device content must be an object");
  }
  std::vector<std::string> wake;
  int64_t dropped = 0;
  ServerDevice* own = server_device_;
  auto job = [=, this, &wake, &dropped](Conn& c) -> Status {
    DS_ASSIGN(auto seen, storage::query_one(c, "SELECT 1 FROM to_device_txns WHERE user_id=? AND device_id=? "
                                               "AND txn_id=?",
                                            {sender, sender_device, txn_id}));
    if (seen) return ok_status();
    // Every recipient is checked first: the server's own device acts on what it receives,
    // which must not happen for a request that then fails.
    for (auto& [uid, devs] : messages) {
      DS_ASSIGN(auto known, storage::query_one(c, "SELECT 1 FROM users WHERE user_id=?", {std::string(uid)}));
      if (!known) return Error::not_found("Unknown user " + std::string(uid));
    }
    for (auto& [uid, devs] : messages) {
      std::string user(uid);
      std::vector<std::string> targets;
      for (auto& [d, content] : devs.as_object()) {
        if (d == "*") {
          DS_ASSIGN(auto all, c.query("SELECT device_id FROM devices WHERE user_id=?", {user}));
          for (auto& r : all) targets.push_back(r.str(0));
        } else {
          // Messages for a device that does not exist are dropped (as the spec allows), so
          // that a device made later under that ID never receives them.
          DS_ASSIGN(auto exists, storage::query_one(c, "SELECT 1 FROM devices WHERE user_id=? AND device_id=?",
                                                    {user, std::string(d)}));
          if (exists) targets.emplace_back(d);
        }
        std::string text = json::serialize(content);
        for (auto& device : targets) {
          if (own && user == own->user_id() && device == own->device_id()) {
            DS_TRY(own->receive_to_device(c, sender, type, content.as_object()));
            wake.push_back(sender);  // the server's device may have answered (a renewed session)
            continue;
          }
          DS_ASSIGN(bool queued, queue_to_device(c, db_, limits_, user, device, sender, type, text));
          if (!queued) ++dropped;
        }
        targets.clear();
      }
      wake.push_back(user);
    }
    return c.exec("INSERT INTO to_device_txns(user_id, device_id, txn_id) VALUES(?,?,?)",
                  {sender, sender_device, txn_id});
  };
  auto r = co_await db_.write<Ok>(job);
  if (r.ok()) notifier_.notify_users(wake);
  if (r.ok() && dropped > 0)
    DS_LOG(kWarn, "sendToDevice from {}: {} message(s) dropped, their devices have too many waiting", sender,
           dropped);
  co_return r;
}

Result<bool> KeyService::queue_to_device(Conn& c, storage::Database& db, const ToDeviceLimits& limits,
                                         const std::string& user, const std::string& device,
                                         const std::string& sender, const std::string& type,
                                         const std::string& content) {
  // A device that stops syncing (a laptop left in a drawer) keeps its queue, and a flood
  // from one sender must not fill the disk. Past the limit the message is dropped rather
  // than the request refused: a 429 would stall the sender's whole to-device queue (clients
  // retry it in order), room keys for every other device included, because of one device
  // that may never come back. That device has lost messages either way; a client recovers
  // keys it missed through key requests and backup.
  auto size = static_cast<int64_t>(content.size());
  DS_ASSIGN(auto row, storage::query_one(c, "SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM to_device "
                                            "WHERE user_id=? AND device_id=? AND sender=?",
                                         {user, device, sender}));
  if (row && (row->i64(0) >= limits.max_pending_per_sender ||
              row->i64(1) + size > limits.max_pending_bytes_per_sender))
    return false;
  DS_TRY(c.exec("INSERT INTO to_device(stream_pos, user_id, device_id, sender, type, bytes, content) "
                "VALUES(?,?,?,?,?,?,?)",
                {db.next_stream_pos(), user, device, sender, type, size, content}));
  return true;
}

Result<json::array> KeyService::pending_to_device(Conn& c, const std::string& user,
                                                  const std::string& device, int64_t after,
                                                  int64_t upto, int64_t* last_pos) {
  // Sizes first (bytes precedes content in the row, so large contents are not read), then
  // the contents of the messages that fit: the first always does, so a message larger than
  // the byte budget still gets through, alone.
  DS_ASSIGN(auto sizes, c.query("SELECT stream_pos, bytes FROM to_device WHERE user_id=? AND device_id=? AND "
                                "stream_pos>? AND stream_pos<=? ORDER BY stream_pos LIMIT ?",
                                {user, device, after, upto, limits_.max_per_sync}));
  *last_pos = after;
  int64_t bytes = 0;
  for (auto& r : sizes) {
    bytes += r.i64(1);
    if (*last_pos != after && bytes > limits_.max_bytes_per_sync) break;
    *last_pos = r.i64(0);
  }
  json::array out;
  if (*last_pos == after) return out;
  DS_ASSIGN(auto rows, c.query("SELECT sender, type, content FROM to_device WHERE user_id=? AND device_id=? AND "
                               "stream_pos>? AND stream_pos<=? ORDER BY stream_pos",
                               {user, device, after, *last_pos}));
  for (auto& r : rows)
    out.push_back(json::object{{"sender", r.str(0)}, {"type", r.str(1)}, {"content", parse(r.str(2))}});
  return out;
}

asio::awaitable<void> KeyService::ack_to_device(const std::string& user, const std::string& device,
                                                int64_t upto) {
  auto job = [=](Conn& c) -> Status {
    return c.exec("DELETE FROM to_device WHERE user_id=? AND device_id=? AND stream_pos<=?",
                  {user, device, upto});
  };
  co_await db_.write<Ok>(job);
}

}  // namespace despatch
