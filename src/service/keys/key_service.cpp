#include "service/keys/key_service.h"

#include "core/base64.h"
#include "core/crypto.h"
#include "core/ids.h"
#include "core/log.h"
#include "storage/cross_signing_store.h"
#include "storage/device_key_store.h"
#include "storage/device_list_store.h"
#include "storage/device_store.h"
#include "storage/event_store.h"
#include "storage/membership_store.h"
#include "storage/to_device_store.h"
#include "storage/user_store.h"

#include <map>

namespace despatch {

namespace asio = boost::asio;
using storage::Conn;
using storage::Txn;

namespace {

// Splits "algorithm:key_id".
bool split_key_id(std::string_view full, std::string* alg, std::string* id) {
  auto colon = full.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == full.size()) return false;
  *alg = std::string(full.substr(0, colon));
  *id = std::string(full.substr(colon + 1));
  return true;
}

// Users sharing a joined room with user, and user.
Result<std::vector<std::string>> interested_users(storage::Stores& s, const std::string& user) {
  DS_ASSIGN(auto members, s.memberships().co_members(user));
  std::vector<std::string> out{user};
  for (auto& m : members)
    if (m != user) out.push_back(std::move(m));
  return out;
}

}  // namespace

Status verify_key_signature(const json::object& obj, const std::string& user,
                            const std::string& key_id, const std::string& public_b64) {
  auto pub = base64_decode(public_b64);
  if (!pub || pub->size() != 32) return Error::invalid_param("Malformed ed25519 key " + key_id);
  return verify_json(obj, user, key_id, *pub);
}

Result<std::vector<std::string>> KeyService::mark_changed(Txn& t, const std::string& user,
                                                          const std::string& device) {
  DS_TRY(t.device_lists().mark_changed(user, t.next_stream_pos(), device));
  return interested_users(t, user);
}

Result<std::vector<std::string>> KeyService::remove_device(Txn& t, const std::string& user,
                                                           const std::string& device) {
  DS_TRY(t.device_keys().remove_device(user, device));
  DS_TRY(t.to_device().remove_device(user, device));
  DS_TRY(t.cross_signing().remove_signatures_of(user, device));
  return mark_changed(t, user, device);
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
  std::vector<storage::OneTimeKey> otks, fallbacks;
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
      out->push_back({alg, id, key});
    }
  }

  std::vector<std::string> wake;
  auto job = [=, this, &wake](Txn& t) -> Result<json::object> {
    if (dk) {
      DS_ASSIGN(auto old, t.device_keys().device_keys(user, device));
      if (!old || *old != *dk) {
        DS_TRY(t.device_keys().put_device_keys(user, device, *dk));
        DS_ASSIGN(wake, mark_changed(t, user, device));
      }
    }
    for (auto& k : otks) {
      DS_ASSIGN(auto old, t.device_keys().one_time_key(user, device, k.algorithm, k.key_id));
      if (old && *old != k.key)
        return Error::invalid_param("One-time key " + k.algorithm + ":" + k.key_id +
                                    " already exists with other content");
      if (!old) DS_TRY(t.device_keys().add_one_time_key(user, device, k));
    }
    for (auto& k : fallbacks)
      DS_TRY(t.device_keys().put_fallback_key(user, device, {k.algorithm, k.key_id, k.key}));
    DS_ASSIGN(json::object counts, one_time_key_counts(t, user, device));
    return json::object{{"one_time_key_counts", std::move(counts)}};
  };
  auto r = co_await db_.transact<json::object>(job);
  if (r.ok() && !wake.empty()) notifier_.notify_users(wake);
  co_return r;
}

Result<json::object> KeyService::one_time_key_counts(storage::Stores& s, const std::string& user,
                                                     const std::string& device) {
  DS_ASSIGN(auto counts, s.device_keys().one_time_key_counts(user, device));
  json::object out{{"signed_curve25519", 0}};
  for (auto& [alg, n] : counts) out[alg] = n;
  return out;
}

Result<json::array> KeyService::unused_fallback_types(storage::Stores& s, const std::string& user,
                                                      const std::string& device) {
  DS_ASSIGN(auto algorithms, s.device_keys().unused_fallback_algorithms(user, device));
  json::array out;
  for (auto& a : algorithms) out.push_back(json::string(a));
  return out;
}

Result<std::optional<ClaimedKey>> claim_device_key(Txn& t, const std::string& user, const std::string& device,
                                                   const std::string& alg) {
  DS_ASSIGN(auto otk, t.device_keys().claim_one_time_key(user, device, alg));
  if (otk) return std::optional<ClaimedKey>(ClaimedKey{otk->key_id, std::move(otk->key)});
  DS_ASSIGN(auto fb, t.device_keys().claim_fallback_key(user, device, alg));
  if (!fb) return std::optional<ClaimedKey>{};
  return std::optional<ClaimedKey>(ClaimedKey{fb->key_id, std::move(fb->key)});
}

Result<DeviceListDelta> KeyService::device_list_delta(storage::Stores& s, const std::string& user,
                                                      int64_t since, int64_t upto) {
  DeviceListDelta d;
  DS_ASSIGN(auto changed, s.device_lists().changed(since, upto));
  for (auto& who : changed) {
    bool shared = who == user;
    if (!shared) {
      DS_ASSIGN(shared, s.memberships().share_room(user, who));
    }
    if (shared) d.changed.insert(who);
  }
  // Membership changes in rooms the user is (or was) in also change whose devices matter.
  DS_ASSIGN(auto member_events, s.events().member_changes(since, upto));
  std::set<std::pair<std::string, std::string>> seen;
  std::set<std::string> rooms;
  if (!member_events.empty()) {
    DS_ASSIGN(auto mine, s.memberships().all_rooms_of(user));
    rooms.insert(mine.begin(), mine.end());
  }
  for (auto& change : member_events) {
    if (!rooms.count(change.first) || !seen.insert(change).second) continue;
    const auto& [room, who] = change;
    DS_ASSIGN(auto membership, s.memberships().membership(room, who));
    if (!membership) continue;
    const std::string& now = *membership;
    if (who == user) {
      // The user joined: everyone in the room is new to them. The user left: those they no
      // longer share any room with are gone from their device list.
      DS_ASSIGN(auto members, s.memberships().users_with(room, "join"));
      for (auto& m : members) {
        if (m == user) continue;
        if (now == "join") {
          d.changed.insert(m);
        } else {
          DS_ASSIGN(bool shared, s.memberships().share_room(user, m));
          if (!shared) d.left.insert(m);
        }
      }
    } else if (now == "join") {
      d.changed.insert(who);
    } else {
      DS_ASSIGN(bool shared, s.memberships().share_room(user, who));
      if (!shared) d.left.insert(who);
    }
  }
  for (auto& l : d.left) d.changed.erase(l);
  return d;
}

Result<DeviceListDelta> KeyService::changes(const std::string& user, int64_t from, int64_t to) {
  return device_list_delta(db_.read(), user, from, std::min(to, db_.committed_stream_pos()));
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
  // Users of other servers get theirs as m.direct_to_device EDUs, queued in the same commit.
  json::object remote;
  if (federation_)
    for (auto& [uid, devs] : messages)
      if (server_name_of(uid) != server_name_) remote[uid] = devs;
  KeyFederation* federation = remote.empty() ? nullptr : federation_;
  // Unique per sender, as the spec asks: the client's transaction ID is unique per device.
  const std::string message_id = sender_device + ":" + txn_id;
  std::vector<std::string> wake;
  int64_t dropped = 0;
  ServerDevice* own = server_device_;
  // A Conn job for the server's own device (ServerDevice takes the Conn); messages go
  // through the stores of the same transaction.
  auto job = [=, this, &wake, &dropped](Conn& c) -> Status {
    auto t = db_.txn_over(c);
    DS_ASSIGN(bool seen, t->to_device().has_txn(sender, sender_device, txn_id));
    if (seen) return ok_status();
    // Every recipient is checked first: the server's own device acts on what it receives,
    // which must not happen for a request that then fails.
    for (auto& [uid, devs] : messages) {
      if (remote.contains(uid)) continue;
      DS_ASSIGN(auto known, t->users().profile(std::string(uid)));  // any account has one
      if (!known) return Error::not_found("Unknown user " + std::string(uid));
    }
    if (federation) DS_TRY(federation->queue_to_device(*t, sender, type, message_id, remote));
    for (auto& [uid, devs] : messages) {
      if (remote.contains(uid)) continue;
      std::string user(uid);
      std::vector<std::string> targets;
      for (auto& [d, content] : devs.as_object()) {
        if (d == "*") {
          DS_ASSIGN(auto all, t->devices().devices_of(user));
          for (auto& dev : all) targets.push_back(dev.device_id);
        } else {
          // Messages for a device that does not exist are dropped (as the spec allows), so
          // that a device made later under that ID never receives them.
          DS_ASSIGN(bool exists, t->devices().exists(user, std::string(d)));
          if (exists) targets.emplace_back(d);
        }
        std::string text = json::serialize(content);
        for (auto& device : targets) {
          if (own && user == own->user_id() && device == own->device_id()) {
            DS_TRY(own->receive_to_device(c, sender, type, content.as_object()));
            wake.push_back(sender);  // the server's device may have answered (a renewed session)
            continue;
          }
          DS_ASSIGN(bool queued, queue_to_device(*t, limits_, user, device, sender, type, text));
          if (!queued) ++dropped;
        }
        targets.clear();
      }
      wake.push_back(user);
    }
    return t->to_device().put_txn(sender, sender_device, txn_id);
  };
  auto r = co_await db_.write<Ok>(job);
  if (r.ok()) notifier_.notify_users(wake);
  if (federation) federation->to_device_committed(sender, message_id);
  if (r.ok() && dropped > 0)
    DS_LOG(kWarn, "sendToDevice from {}: {} message(s) dropped, their devices have too many waiting", sender,
           dropped);
  co_return r;
}

Result<bool> KeyService::queue_to_device(Txn& t, const ToDeviceLimits& limits, const std::string& user,
                                         const std::string& device, const std::string& sender,
                                         const std::string& type, const std::string& content) {
  // A device that stops syncing (a laptop left in a drawer) keeps its queue, and a flood
  // from one sender must not fill the disk. Past the limit the message is dropped rather
  // than the request refused: a 429 would stall the sender's whole to-device queue (clients
  // retry it in order), room keys for every other device included, because of one device
  // that may never come back. That device has lost messages either way; a client recovers
  // keys it missed through key requests and backup.
  auto size = static_cast<int64_t>(content.size());
  DS_ASSIGN(auto backlog, t.to_device().backlog(user, device, sender));
  if (backlog.messages >= limits.max_pending_per_sender ||
      backlog.bytes + size > limits.max_pending_bytes_per_sender)
    return false;
  DS_TRY(t.to_device().add({t.next_stream_pos(), user, device, sender, type, content}));
  return true;
}

Result<json::array> KeyService::pending_to_device(storage::Stores& s, const std::string& user,
                                                  const std::string& device, int64_t after,
                                                  int64_t upto, int64_t* last_pos) {
  // Sizes first, then the contents of the messages that fit: the first always does, so a
  // message larger than the byte budget still gets through, alone.
  DS_ASSIGN(auto sizes, s.to_device().sizes(user, device, after, upto, limits_.max_per_sync));
  *last_pos = after;
  int64_t bytes = 0;
  for (auto& m : sizes) {
    bytes += m.bytes;
    if (*last_pos != after && bytes > limits_.max_bytes_per_sync) break;
    *last_pos = m.stream_pos;
  }
  json::array out;
  if (*last_pos == after) return out;
  DS_ASSIGN(auto messages, s.to_device().messages(user, device, after, *last_pos));
  for (auto& m : messages)
    out.push_back(json::object{{"sender", m.sender}, {"type", m.type}, {"content", std::move(m.content)}});
  return out;
}

asio::awaitable<void> KeyService::ack_to_device(const std::string& user, const std::string& device,
                                                int64_t upto) {
  // Most syncs acknowledge what was already deleted: write only when there is something.
  auto pending = db_.read().to_device().any_upto(user, device, upto);
  if (!pending.ok() || !*pending) co_return;
  auto job = [=](Txn& t) -> Status { return t.to_device().remove_upto(user, device, upto); };
  co_await db_.transact<Ok>(job);
}

}  // namespace despatch
