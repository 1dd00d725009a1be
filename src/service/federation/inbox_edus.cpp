// Inbox: the EDUs of an incoming transaction (server-server spec "EDUs", "Typing
// Notifications", "Receipts", "Send-to-device messaging", "Device Management", "End-to-End
// Encryption", "Presence"). Each is taken only for users of the server that sent it.
#include "service/federation/inbox.h"

#include "core/ids.h"
#include "core/log.h"
#include "service/rooms/server_acl.h"
#include "storage/device_list_store.h"
#include "storage/membership_store.h"

namespace despatch {

namespace asio = boost::asio;

namespace {

// EDUs about a room are ignored when the room's ACL denies the server that sent them.
bool acl_allows(storage::Database& db, const std::string& room_id, const std::string& origin) {
  return check_server_acl(db.read(), room_id, origin).ok();
}

}  // namespace

asio::awaitable<void> Inbox::receive_edu(const std::string& origin, const json::value& edu) {
  if (!edu.is_object()) co_return;
  auto* type = json_string_at(edu.as_object(), "edu_type");
  auto* content = edu.as_object().if_contains("content");
  if (!type || !content || !content->is_object()) co_return;
  const json::object& c = content->as_object();
  if (*type == "m.typing") co_await typing_edu(origin, c);
  else if (*type == "m.presence") presence_edu(origin, c);
  else if (*type == "m.receipt") co_await receipt_edu(origin, c);
  else if (*type == "m.direct_to_device") co_await to_device_edu(origin, c);
  else if (*type == "m.device_list_update") co_await device_list_edu(origin, c);
  else if (*type == "m.signing_key_update" && remote_keys_) co_await remote_keys_->signing_key_update(origin, c);
}

asio::awaitable<void> Inbox::typing_edu(const std::string& origin, const json::object& c) {
  auto* room = json_string_at(c, "room_id");
  auto* user = json_string_at(c, "user_id");
  auto* typing = c.if_contains("typing");
  if (!room || !user || !typing || !typing->is_bool() || !is_valid_user_id(*user)) co_return;
  if (server_name_of(*user) != origin || !acl_allows(db_, std::string(*room), origin)) co_return;
  auto m = db_.read().memberships().membership(std::string(*room), std::string(*user));
  if (!m.ok() || !*m || **m != "join") co_return;
  // The spec sets no timeout for remote typing; the sender stops it or it lapses in 30 s.
  typing_.set(std::string(*room), std::string(*user), typing->as_bool(), std::chrono::seconds(30));
  co_return;
}

void Inbox::presence_edu(const std::string& origin, const json::object& c) {
  // {push: [{user_id, presence, last_active_ago, status_msg?, currently_active?}]}
  auto* push = c.if_contains("push");
  if (!push || !push->is_array()) return;
  for (auto& item : push->as_array()) {
    if (!item.is_object()) continue;
    const json::object& p = item.as_object();
    auto* user = json_string_at(p, "user_id");
    auto* presence = json_string_at(p, "presence");
    if (!user || !presence || !is_valid_user_id(*user) || server_name_of(*user) != origin) continue;
    if (!is_presence_value(*presence)) continue;
    std::string u(*user);
    // Kept only for users someone here shares a room with: nobody else may see it.
    auto others = db_.read().memberships().co_members(u);
    if (!others.ok() || others->empty()) continue;
    std::optional<std::string> status;
    if (auto* m = json_string_at(p, "status_msg")) status = std::string(*m);
    int64_t ago = 0;
    if (auto* a = p.if_contains("last_active_ago"); a && a->is_int64()) ago = a->as_int64();
    bool active = false;
    if (auto* a = p.if_contains("currently_active"); a && a->is_bool()) active = a->as_bool();
    presence_.set_remote(u, std::string(*presence), std::move(status), ago, active);
  }
}

asio::awaitable<void> Inbox::receipt_edu(const std::string& origin, const json::object& c) {
  // {room_id: {receipt_type: {user_id: {event_ids: [...], data: {thread_id?}}}}}
  for (auto& [room, types] : c) {
    if (!types.is_object() || !acl_allows(db_, std::string(room), origin)) continue;
    for (auto& [type, users] : types.as_object()) {
      if (type != "m.read" || !users.is_object()) continue;  // private receipts never leave their server
      for (auto& [user, receipt] : users.as_object()) {
        if (!is_valid_user_id(user) || server_name_of(user) != origin || !receipt.is_object()) continue;
        auto* ids = receipt.as_object().if_contains("event_ids");
        if (!ids || !ids->is_array() || ids->as_array().empty() || !ids->as_array()[0].is_string()) continue;
        std::string thread;
        if (auto* data = receipt.as_object().if_contains("data"); data && data->is_object())
          if (auto* t = json_string_at(data->as_object(), "thread_id"); t && *t != "main") thread = *t;
        std::string r(room), u(user), ty(type), ev(ids->as_array()[0].as_string());
        auto st = co_await account_.put_receipt(u, r, ty, ev, thread);
        if (!st.ok()) DS_LOG(kInfo, "federation: receipt of {} in {} from {} not taken: {}", u, r, origin,
                             st.error().message);
      }
    }
  }
}

asio::awaitable<void> Inbox::to_device_edu(const std::string& origin, const json::object& c) {
  auto* sender = json_string_at(c, "sender");
  auto* type = json_string_at(c, "type");
  auto* message_id = json_string_at(c, "message_id");
  auto* messages = c.if_contains("messages");
  if (!sender || !type || !message_id || !messages || !messages->is_object() || !is_valid_user_id(*sender)) co_return;
  if (server_name_of(*sender) != origin) co_return;
  // Only this server's users; the rest are not ours to deliver.
  json::object local;
  for (auto& [user, devices] : messages->as_object())
    if (is_valid_user_id(user) && server_name_of(user) == config_.server_name) local[user] = devices;
  if (local.empty()) co_return;
  // message_id is the remote sender's transaction: the to-device store remembers it under a
  // device name no local device can have, so a repeated message is delivered once.
  const std::string device = "federation:" + origin;
  std::string s(*sender), t(*type), id(*message_id);
  auto st = co_await key_service_.send_to_device(s, device, t, id, local);
  if (!st.ok()) DS_LOG(kInfo, "federation: to-device message {} from {} not delivered: {}", id, s,
                       st.error().message);
}

asio::awaitable<void> Inbox::device_list_edu(const std::string& origin, const json::object& c) {
  if (remote_keys_) {
    co_await remote_keys_->device_list_update(origin, c);
    co_return;
  }
  auto* user = json_string_at(c, "user_id");
  if (!user || !is_valid_user_id(*user) || server_name_of(*user) != origin) co_return;
  std::string u(*user);
  // Without the cache of remote keys: recorded as a change of the user's device list, which
  // local users sharing a room with them see in /sync's device_lists.changed.
  auto job = [u](storage::Txn& t) -> Status { return t.device_lists().mark_changed(u, t.next_stream_pos(), ""); };
  auto st = co_await db_.transact<Ok>(job);
  if (!st.ok()) {
    DS_LOG(kError, "federation: cannot record the device list change of {}: {}", u, st.error().message);
    co_return;
  }
  auto others = db_.read().memberships().co_members(u);
  if (others.ok()) notifier_.notify_users(*others);
}

}  // namespace despatch
