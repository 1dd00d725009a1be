// Keys of other devices: /keys/query and /keys/claim (client-server spec "End-to-End
// Encryption"), for this server's users from storage and for users of other servers through
// KeyFederation; and the answers the federation API gives for this server's users
// (user/keys/query, user/keys/claim, user/devices).
#include "service/keys/key_service.h"

#include "core/ids.h"
#include "storage/cross_signing_store.h"
#include "storage/device_key_store.h"
#include "storage/device_list_store.h"
#include "storage/device_store.h"

#include <algorithm>

namespace despatch {

namespace asio = boost::asio;
using storage::Conn;
using storage::Txn;

namespace {

// The client's timeout for asking other servers (keys/query and keys/claim): 10 s unless
// given, and never more than a minute.
Result<std::chrono::milliseconds> remote_timeout(const json::object& body) {
  auto* t = body.if_contains("timeout");
  if (!t || t->is_null()) return std::chrono::milliseconds(10'000);
  if (!t->is_int64() && !t->is_uint64()) return Error::bad_json("timeout must be an integer");
  int64_t ms = t->is_int64() ? t->as_int64() : static_cast<int64_t>(std::min<uint64_t>(t->as_uint64(), 60'000));
  return std::chrono::milliseconds(std::clamp<int64_t>(ms, 0, 60'000));
}

// Moves every member of the objects under the keys of `part` into `out`.
void merge_into(json::object& out, json::object part) {
  for (const char* field : {"device_keys", "master_keys", "self_signing_keys", "failures", "one_time_keys"}) {
    auto* from = part.if_contains(field);
    if (!from || !from->is_object()) continue;
    json::value& to = out[field];
    if (!to.is_object()) to = json::object{};
    for (auto& [k, v] : from->as_object()) to.as_object()[k] = std::move(v);
  }
}

}  // namespace

Result<json::object> KeyService::query_local(const std::string& requester,
                                             const std::map<std::string, std::set<std::string>>& wanted) {
  storage::Stores& s = db_.read();
  std::vector<std::string> users;
  for (auto& [user, only] : wanted) users.push_back(user);
  // Four reads for the whole request, however many users it names.
  DS_ASSIGN(auto keys, s.device_keys().device_keys_of(users));
  DS_ASSIGN(auto devices, s.devices().devices_of_users(users));
  DS_ASSIGN(auto sigs, s.cross_signing().signatures_of(users, requester));
  DS_ASSIGN(auto cs, s.cross_signing().keys_of(users));
  std::map<std::pair<std::string, std::string>, const std::optional<std::string>*> names;
  for (auto& d : devices) names[{d.user_id, d.device_id}] = &d.display_name;
  std::map<std::pair<std::string, std::string>, std::vector<const storage::KeySignature*>> sigs_for;
  for (auto& sig : sigs) sigs_for[{sig.target_user, sig.target_key}].push_back(&sig);
  auto merge = [&](json::object& obj, const std::string& user, const std::string& target) {
    auto it = sigs_for.find({user, target});
    if (it == sigs_for.end()) return;
    for (auto* sig : it->second) {
      json::value& all = obj["signatures"];
      if (!all.is_object()) all = json::object{};
      json::value& by = all.as_object()[sig->signer];
      if (!by.is_object()) by = json::object{};
      by.as_object()[sig->signer_key_id] = sig->signature;
    }
  };
  json::object device_keys, master, self_signing, user_signing;
  for (auto& [user, only] : wanted) device_keys[user] = json::object{};
  for (auto& dk : keys) {
    const std::string& user = dk.user_id;
    const auto& only = wanted.at(user);
    if (!only.empty() && !only.count(dk.device_id)) continue;
    json::object k = std::move(dk.keys);
    merge(k, user, dk.device_id);
    json::object u;
    if (auto it = names.find({user, dk.device_id}); it != names.end() && *it->second)
      u["device_display_name"] = **it->second;
    k["unsigned"] = std::move(u);
    device_keys[user].as_object()[dk.device_id] = std::move(k);
  }
  for (auto& key : cs) {
    const std::string& user = key.user_id;
    json::object k = std::move(key.key);
    if (key.usage == "master") {
      if (auto* ks = k.if_contains("keys"); ks && ks->is_object() && !ks->as_object().empty())
        merge(k, user, std::string(ks->as_object().begin()->value().as_string()));
      master[user] = std::move(k);
    } else if (key.usage == "self_signing") {
      self_signing[user] = std::move(k);
    } else if (key.usage == "user_signing" && user == requester) {
      user_signing[user] = std::move(k);
    }
  }
  json::object out{{"device_keys", std::move(device_keys)}, {"master_keys", std::move(master)},
                   {"self_signing_keys", std::move(self_signing)}};
  if (!requester.empty()) {
    out["user_signing_keys"] = std::move(user_signing);
    out["failures"] = json::object{};
  }
  return out;
}

asio::awaitable<Result<json::object>> KeyService::query(const std::string& requester, const json::object& body) {
  auto* want = body.if_contains("device_keys");
  if (!want || !want->is_object()) co_return Error::bad_json("device_keys must be an object");
  DS_CO_ASSIGN(auto timeout, remote_timeout(body));
  std::map<std::string, std::set<std::string>> local, remote;  // user -> devices (empty: all)
  for (auto& [uid, devs] : want->as_object()) {
    std::string user(uid);
    if (!is_valid_user_id(user)) co_return Error::invalid_param("Invalid user ID " + user);
    if (!devs.is_array()) co_return Error::bad_json("device lists must be arrays");
    bool is_remote = federation_ && server_name_of(user) != server_name_;
    auto& only = (is_remote ? remote : local)[user];
    for (auto& d : devs.as_array()) {
      if (!d.is_string()) co_return Error::bad_json("device IDs must be strings");
      only.insert(std::string(d.as_string()));
    }
  }
  DS_CO_ASSIGN(json::object out, query_local(requester, local));
  if (!remote.empty()) {
    json::object theirs = co_await federation_->query(std::move(remote), timeout);
    merge_into(out, std::move(theirs));
  }
  co_return out;
}

asio::awaitable<Result<json::object>> KeyService::claim(const json::object& body) {
  auto* want = body.if_contains("one_time_keys");
  if (!want || !want->is_object()) co_return Error::bad_json("one_time_keys must be an object");
  DS_CO_ASSIGN(auto timeout, remote_timeout(body));
  json::object local, remote;
  for (auto& [uid, devs] : want->as_object()) {
    if (!is_valid_user_id(uid)) co_return Error::invalid_param("Invalid user ID " + std::string(uid));
    bool is_remote = federation_ && server_name_of(uid) != server_name_;
    (is_remote ? remote : local)[uid] = devs;
  }
  DS_CO_ASSIGN(json::object out, co_await claim_local(local));
  if (!remote.empty()) {
    for (auto& [uid, devs] : remote) {
      if (!devs.is_object()) co_return Error::bad_json("one_time_keys values must be objects");
      for (auto& [d, alg] : devs.as_object())
        if (!alg.is_string()) co_return Error::bad_json("algorithms must be strings");
    }
    json::object theirs = co_await federation_->claim(std::move(remote), timeout);
    merge_into(out, std::move(theirs));
  }
  co_return out;
}

asio::awaitable<Result<json::object>> KeyService::claim_local(const json::object& request) {
  for (auto& [uid, devs] : request) {
    if (!is_valid_user_id(uid)) co_return Error::invalid_param("Invalid user ID " + std::string(uid));
    if (!devs.is_object()) co_return Error::bad_json("one_time_keys values must be objects");
    for (auto& [d, alg] : devs.as_object())
      if (!alg.is_string()) co_return Error::bad_json("algorithms must be strings");
  }
  ServerDevice* own = server_device_;
  // A Conn job for the server's own device (ServerDevice takes the Conn); keys go through
  // the stores of the same transaction.
  auto job = [this, request, own](Conn& c) -> Result<json::object> {
    auto t = db_.txn_over(c);
    json::object out;
    bool own_claimed = false;
    for (auto& [uid, devs] : request) {
      std::string user(uid);
      json::object per_user;
      for (auto& [did, alg_v] : devs.as_object()) {
        std::string device(did), alg(alg_v.as_string());
        DS_ASSIGN(auto claimed, claim_device_key(*t, user, device, alg));
        if (!claimed) continue;
        per_user[device] = json::object{{alg + ":" + claimed->key_id, std::move(claimed->key)}};
        if (own && user == own->user_id() && device == own->device_id()) own_claimed = true;
      }
      if (!per_user.empty()) out[user] = std::move(per_user);
    }
    if (own_claimed) DS_TRY(own->keys_claimed(c));
    return json::object{{"one_time_keys", std::move(out)}, {"failures", json::object{}}};
  };
  co_return co_await db_.write<json::object>(job);
}

Result<json::object> KeyService::user_devices(const std::string& user) {
  std::map<std::string, std::set<std::string>> wanted{{user, {}}};
  DS_ASSIGN(json::object keys, query_local("", wanted));
  storage::Stores& s = db_.read();
  DS_ASSIGN(int64_t stream_id, s.device_lists().last_device_change(user, INT64_MAX));
  json::array devices;
  for (auto& [device, k] : keys["device_keys"].as_object()[user].as_object()) {
    json::object key = k.as_object();
    json::object d{{"device_id", device}};
    if (auto* u = key.if_contains("unsigned"); u && u->is_object())
      if (auto* name = u->as_object().if_contains("device_display_name")) d["device_display_name"] = *name;
    key.erase("unsigned");
    d["keys"] = std::move(key);
    devices.push_back(std::move(d));
  }
  json::object out{{"user_id", user}, {"stream_id", stream_id}, {"devices", std::move(devices)}};
  if (auto* m = keys["master_keys"].as_object().if_contains(user)) out["master_key"] = *m;
  if (auto* ss = keys["self_signing_keys"].as_object().if_contains(user)) out["self_signing_key"] = *ss;
  return out;
}

}  // namespace despatch
