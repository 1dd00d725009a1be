#include "service/federation/remote_keys.h"

#include "core/ids.h"
#include "core/log.h"
#include "service/common/time.h"
#include "storage/membership_store.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <map>

namespace despatch {

namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

// The outbox's name for one /sendToDevice commit (message IDs are unique per sender only).
std::string to_device_commit(const std::string& sender, const std::string& message_id) {
  return "to-device:" + sender + "|" + message_id;
}

// What `failures` says of a server that did not answer (the spec leaves the object's
// contents open).
json::object failure(const Error& e) {
  json::object f;
  f["status"] = e.status;
  f["errcode"] = e.errcode;
  f["error"] = e.message;
  return f;
}

// A device keys object as published for user's device `device`: it must say so itself.
bool device_keys_of(const json::value& v, const std::string& user, const std::string& device) {
  if (!v.is_object()) return false;
  auto* u = json_string_at(v.as_object(), "user_id");
  auto* d = json_string_at(v.as_object(), "device_id");
  return u && *u == user && d && *d == device;
}

// A cross-signing key of user.
bool cross_key_of(const json::value& v, const std::string& user) {
  if (!v.is_object()) return false;
  auto* u = json_string_at(v.as_object(), "user_id");
  return u && *u == user && v.as_object().contains("keys");
}

// The part of a cached list a /keys/query asks for, in the client API's shape.
void answer_from(const storage::RemoteDeviceList& list, const std::set<std::string>& only, json::object& device_keys,
                 json::object& master, json::object& self_signing) {
  json::object devices;
  for (auto& d : list.devices) {
    if (!only.empty() && !only.count(d.device_id)) continue;
    json::object k = d.keys;
    json::object u;
    if (d.display_name) u["device_display_name"] = *d.display_name;
    k["unsigned"] = std::move(u);
    devices[d.device_id] = std::move(k);
  }
  device_keys[list.user_id] = std::move(devices);
  if (list.master_key) master[list.user_id] = *list.master_key;
  if (list.self_signing_key) self_signing[list.user_id] = *list.self_signing_key;
}

Error remote_error(const std::string& server, const FederationResponse& res) {
  std::string why = "no reason given";
  if (res.body.is_object())
    if (auto* e = json_string_at(res.body.as_object(), "error")) why = std::string(*e);
  return Error::make(502, errc::kUnknown, server + " answered " + std::to_string(res.status) + ": " + why);
}

}  // namespace

RemoteKeys::RemoteKeys(const Config& config, storage::Database& db, FederationSender& sender, Outbox& outbox,
                       Notifier& notifier, asio::io_context& io)
    : config_(config), db_(db), sender_(sender), outbox_(outbox), notifier_(notifier), io_(io) {}

asio::awaitable<Result<FederationResponse>> RemoteKeys::send_by(const std::string& destination,
                                                                const std::string& method, const std::string& target,
                                                                std::optional<json::value> body,
                                                                Clock::time_point deadline) {
  auto now = Clock::now();
  if (deadline <= now) co_return Error::make(504, errc::kUnknown, "no time left to ask " + destination);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_at(deadline);
  auto request = sender_.send(destination, method, target, std::move(body));
  auto wait = timer.async_wait(asio::use_awaitable);
  auto first = co_await (std::move(request) || std::move(wait));
  if (first.index() == 1) co_return Error::make(504, errc::kUnknown, destination + " did not answer in time");
  co_return std::move(std::get<0>(first));
}

bool RemoteKeys::shared_with_local(const std::string& user) {
  auto others = db_.read().memberships().co_members(user);
  if (!others.ok()) return false;
  for (auto& o : *others)
    if (server_name_of(o) == config_.server_name) return true;
  return false;
}

void RemoteKeys::wake_co_members(const std::string& user) {
  auto others = db_.read().memberships().co_members(user);
  if (others.ok()) notifier_.notify_users(*others);
}

asio::awaitable<Result<storage::RemoteDeviceList>> RemoteKeys::fetch_devices(const std::string& user,
                                                                             Clock::time_point deadline) {
  std::string server(server_name_of(user));
  const std::string method = "GET";
  std::string target = "/_matrix/federation/v1/user/devices/" + query_escape(user);
  DS_CO_ASSIGN(FederationResponse res, co_await send_by(server, method, target, std::nullopt, deadline));
  if (res.status != 200 || !res.body.is_object()) co_return remote_error(server, res);
  const json::object& b = res.body.as_object();
  auto* uid = json_string_at(b, "user_id");
  auto* stream = b.if_contains("stream_id");
  auto* devices = b.if_contains("devices");
  if (!uid || *uid != user || !stream || !stream->is_int64() || !devices || !devices->is_array())
    co_return Error::make(502, errc::kUnknown, server + " sent a malformed device list for " + user);
  storage::RemoteDeviceList list;
  list.user_id = user;
  list.stream_id = stream->as_int64();
  for (auto& d : devices->as_array()) {
    if (!d.is_object()) continue;
    auto* id = json_string_at(d.as_object(), "device_id");
    auto* keys = d.as_object().if_contains("keys");
    if (!id || !keys || !device_keys_of(*keys, user, std::string(*id))) continue;
    storage::RemoteDevice dev{std::string(*id), keys->as_object(), std::nullopt};
    if (auto* name = json_string_at(d.as_object(), "device_display_name")) dev.display_name = std::string(*name);
    list.devices.push_back(std::move(dev));
  }
  if (auto* m = b.if_contains("master_key"); m && cross_key_of(*m, user)) list.master_key = m->as_object();
  if (auto* s = b.if_contains("self_signing_key"); s && cross_key_of(*s, user)) list.self_signing_key = s->as_object();
  co_return list;
}

asio::awaitable<json::object> RemoteKeys::query(std::map<std::string, std::set<std::string>> wanted,
                                                std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  json::object device_keys, master, self_signing, failures;
  std::map<std::string, std::vector<std::string>> by_server;
  std::vector<std::string> users;
  for (auto& [user, only] : wanted) {
    by_server[std::string(server_name_of(user))].push_back(user);
    users.push_back(user);
  }
  std::map<std::string, storage::RemoteDeviceList> cached;
  auto lists = db_.read().device_lists().remote_lists(users);
  if (lists.ok())
    for (auto& l : *lists) cached[l.user_id] = std::move(l);
  for (auto& [server, server_users] : by_server) {
    if (!sender_.allows(server)) {
      failures[server] = failure(Error::forbidden(server + " is not on this server's federation allow-list"));
      continue;
    }
    json::object ask;  // asked with user/keys/query: users no local user shares a room with
    bool failed = false;
    for (auto& user : server_users) {
      const auto& only = wanted[user];
      bool shared = shared_with_local(user);
      if (auto it = cached.find(user); it != cached.end() && !it->second.stale && shared) {
        answer_from(it->second, only, device_keys, master, self_signing);
        continue;
      }
      if (!shared) {
        json::array devs;
        for (auto& d : only) devs.push_back(json::string(d));
        ask[user] = std::move(devs);
        continue;
      }
      // First sight of a user we share a room with (or a copy gone stale): the whole list,
      // with the stream_id later updates follow on from.
      auto fetched = co_await fetch_devices(user, deadline);
      if (!fetched.ok()) {
        failures[server] = failure(fetched.error());
        failed = true;
        break;
      }
      storage::RemoteDeviceList list = std::move(*fetched);
      int64_t ts = now_ms();
      auto job = [&list, ts](storage::Txn& t) -> Status { return t.device_lists().put_remote_list(list, ts); };
      auto st = co_await db_.transact<Ok>(job);
      if (!st.ok()) DS_LOG(kError, "federation: cannot cache the device list of {}: {}", user, st.error().message);
      answer_from(list, only, device_keys, master, self_signing);
    }
    if (failed || ask.empty()) continue;
    json::object body;
    body["device_keys"] = std::move(ask);
    json::object asked = body["device_keys"].as_object();
    const std::string method = "POST";
    const std::string target = "/_matrix/federation/v1/user/keys/query";
    auto res = co_await send_by(server, method, target, json::value(std::move(body)), deadline);
    if (!res.ok() || res->status != 200 || !res->body.is_object()) {
      failures[server] = failure(res.ok() ? remote_error(server, *res) : res.error());
      continue;
    }
    // Only what was asked, and only keys that say whose they are.
    const json::object& b = res->body.as_object();
    for (auto& [user_v, devs_v] : asked) {
      std::string user(user_v);
      json::object devices;
      if (auto* dk = b.if_contains("device_keys"); dk && dk->is_object())
        if (auto* theirs = dk->as_object().if_contains(user); theirs && theirs->is_object())
          for (auto& [device, keys] : theirs->as_object())
            if (device_keys_of(keys, user, std::string(device))) devices[device] = keys;
      device_keys[user] = std::move(devices);
      for (auto [field, out] : {std::pair{"master_keys", &master}, std::pair{"self_signing_keys", &self_signing}})
        if (auto* all = b.if_contains(field); all && all->is_object())
          if (auto* k = all->as_object().if_contains(user); k && cross_key_of(*k, user)) (*out)[user] = *k;
    }
  }
  json::object out;
  out["device_keys"] = std::move(device_keys);
  out["master_keys"] = std::move(master);
  out["self_signing_keys"] = std::move(self_signing);
  out["failures"] = std::move(failures);
  co_return out;
}

asio::awaitable<json::object> RemoteKeys::claim(json::object wanted, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::map<std::string, json::object> by_server;
  for (auto& [user, devs] : wanted) by_server[std::string(server_name_of(user))][user] = devs;
  json::object one_time_keys, failures;
  for (auto& [server, asked] : by_server) {
    json::object body;
    body["one_time_keys"] = asked;
    const std::string method = "POST";
    const std::string target = "/_matrix/federation/v1/user/keys/claim";
    auto res = co_await send_by(server, method, target, json::value(std::move(body)), deadline);
    if (!res.ok() || res->status != 200 || !res->body.is_object()) {
      failures[server] = failure(res.ok() ? remote_error(server, *res) : res.error());
      continue;
    }
    auto* otk = res->body.as_object().if_contains("one_time_keys");
    if (!otk || !otk->is_object()) continue;
    // Keys only for the devices asked for.
    for (auto& [user, devs] : asked) {
      auto* theirs = otk->as_object().if_contains(user);
      if (!theirs || !theirs->is_object()) continue;
      json::object per_user;
      for (auto& [device, keys] : theirs->as_object())
        if (devs.as_object().contains(device) && keys.is_object()) per_user[device] = keys;
      if (!per_user.empty()) one_time_keys[user] = std::move(per_user);
    }
  }
  json::object out;
  out["one_time_keys"] = std::move(one_time_keys);
  out["failures"] = std::move(failures);
  co_return out;
}

Status RemoteKeys::queue_to_device(storage::Txn& t, const std::string& sender, const std::string& type,
                                   const std::string& message_id, const json::object& messages) {
  std::map<std::string, json::object> by_server;
  for (auto& [user, devs] : messages) by_server[std::string(server_name_of(user))][user] = devs;
  for (auto& [server, subset] : by_server) {
    if (!sender_.allows(server)) {
      DS_LOG(kInfo, "to-device message {} of {}: {} is not on the allow-list; not sent there", message_id, sender,
             server);
      continue;
    }
    json::object content;
    content["sender"] = sender;
    content["type"] = type;
    content["message_id"] = message_id;
    content["messages"] = std::move(subset);
    json::object edu;
    edu["edu_type"] = "m.direct_to_device";
    edu["content"] = std::move(content);
    DS_TRY(outbox_.enqueue_edu_in(t, to_device_commit(sender, message_id), server, edu));
  }
  return ok_status();
}

void RemoteKeys::to_device_committed(const std::string& sender, const std::string& message_id) {
  outbox_.wake_queued(to_device_commit(sender, message_id));
}

asio::awaitable<void> RemoteKeys::device_list_update(const std::string& origin, const json::object& c) {
  auto* user_p = json_string_at(c, "user_id");
  auto* device_p = json_string_at(c, "device_id");
  auto* stream = c.if_contains("stream_id");
  if (!user_p || !is_valid_user_id(*user_p) || server_name_of(*user_p) != origin || !device_p || device_p->empty() ||
      !stream || !stream->is_int64())
    co_return;
  std::string user(*user_p), device(*device_p);
  int64_t stream_id = stream->as_int64();
  std::vector<int64_t> prev;
  if (auto* p = c.if_contains("prev_id"); p && p->is_array())
    for (auto& v : p->as_array())
      if (v.is_int64()) prev.push_back(v.as_int64());
  bool deleted = false;
  if (auto* d = c.if_contains("deleted"); d && d->is_bool()) deleted = d->as_bool();
  std::optional<json::object> keys;
  if (auto* k = c.if_contains("keys"); k && !k->is_null()) {
    if (!device_keys_of(*k, user, device)) co_return;
    keys = k->as_object();
  }
  std::optional<std::string> name;
  if (auto* n = json_string_at(c, "device_display_name")) name = std::string(*n);

  bool resync_needed = false;
  auto job = [&](storage::Txn& t) -> Status {
    DS_ASSIGN(auto lists, t.device_lists().remote_lists({user}));
    if (!lists.empty()) {
      auto& list = lists.front();
      bool follows = prev.empty() ? list.stream_id == 0
                                  : std::find(prev.begin(), prev.end(), list.stream_id) != prev.end();
      if (list.stale) {
        resync_needed = true;
      } else if (stream_id <= list.stream_id) {
        // Already applied (a repeated transaction) or older than our copy.
      } else if (!follows) {
        // An update in between never reached us: the copy cannot be trusted until fetched.
        DS_TRY(t.device_lists().set_remote_stream(user, list.stream_id, true));
        resync_needed = true;
      } else {
        if (deleted) {
          DS_TRY(t.device_lists().remove_remote_device(user, device));
        } else if (keys) {
          DS_TRY(t.device_lists().put_remote_device(user, {device, *keys, name}));
        } else {
          // Only the display name changed: keep the keys we hold.
          for (auto& d : list.devices)
            if (d.device_id == device) DS_TRY(t.device_lists().put_remote_device(user, {device, d.keys, name}));
        }
        DS_TRY(t.device_lists().set_remote_stream(user, stream_id, false));
      }
    }
    // Local users sharing a room see the change in /sync's device_lists.changed.
    return t.device_lists().mark_changed(user, t.next_stream_pos(), device);
  };
  auto st = co_await db_.transact<Ok>(job);
  if (!st.ok()) {
    DS_LOG(kError, "federation: cannot record the device list change of {}: {}", user, st.error().message);
    co_return;
  }
  wake_co_members(user);
  if (resync_needed) asio::co_spawn(io_, resync(user), asio::detached);
}

asio::awaitable<void> RemoteKeys::signing_key_update(const std::string& origin, const json::object& c) {
  auto* user_p = json_string_at(c, "user_id");
  if (!user_p || !is_valid_user_id(*user_p) || server_name_of(*user_p) != origin) co_return;
  std::string user(*user_p);
  std::optional<json::object> master, self_signing;
  if (auto* m = c.if_contains("master_key"); m && cross_key_of(*m, user)) master = m->as_object();
  if (auto* s = c.if_contains("self_signing_key"); s && cross_key_of(*s, user)) self_signing = s->as_object();
  auto job = [&](storage::Txn& t) -> Status {
    DS_ASSIGN(auto lists, t.device_lists().remote_lists({user}));
    if (!lists.empty()) {
      if (master) DS_TRY(t.device_lists().put_remote_cross_signing(user, "master", *master));
      if (self_signing) DS_TRY(t.device_lists().put_remote_cross_signing(user, "self_signing", *self_signing));
    }
    return t.device_lists().mark_changed(user, t.next_stream_pos(), "");
  };
  auto st = co_await db_.transact<Ok>(job);
  if (!st.ok()) {
    DS_LOG(kError, "federation: cannot record the cross-signing keys of {}: {}", user, st.error().message);
    co_return;
  }
  wake_co_members(user);
}

asio::awaitable<void> RemoteKeys::resync(std::string user) {
  {
    std::lock_guard lock(mu_);
    if (!resyncing_.insert(user).second) co_return;
  }
  auto fetched = co_await fetch_devices(user, Clock::now() + std::chrono::seconds(30));
  if (!fetched.ok()) {
    // Stays stale: the next /keys/query for the user tries again.
    DS_LOG(kInfo, "federation: cannot fetch the device list of {} again: {}", user, fetched.error().message);
  } else {
    storage::RemoteDeviceList list = std::move(*fetched);
    int64_t ts = now_ms();
    auto job = [&list, ts](storage::Txn& t) -> Status {
      DS_TRY(t.device_lists().put_remote_list(list, ts));
      return t.device_lists().mark_changed(list.user_id, t.next_stream_pos(), "");
    };
    auto st = co_await db_.transact<Ok>(job);
    if (st.ok()) wake_co_members(user);
    else DS_LOG(kError, "federation: cannot cache the device list of {}: {}", user, st.error().message);
  }
  std::lock_guard lock(mu_);
  resyncing_.erase(user);
}

}  // namespace despatch
