#include "service/federation/event_signatures.h"

#include "core/ids.h"
#include "service/rooms/event_format.h"
#include "service/rooms/room_version.h"

#include <set>

namespace despatch {

namespace asio = boost::asio;

asio::awaitable<Status> check_event_signatures(ServerKeys& keys, const json::object& pdu, std::string_view room_version) {
  const json::value* sender = pdu.if_contains("sender");
  if (!sender || !sender->is_string() || !is_valid_user_id(sender->as_string()))
    co_return Error::bad_json("The event has no valid sender");
  std::set<std::string> servers{std::string(server_name_of(sender->as_string()))};
  const RoomVersion* v = find_room_version(room_version);
  if (v && v->event_ids == EventIdFormat::kOpaque)
    if (auto* id = pdu.if_contains("event_id"); id && id->is_string())
      servers.insert(std::string(server_name_of(id->as_string())));
  const json::value* sigs = pdu.if_contains("signatures");
  for (const std::string& server : servers) {
    const json::value* mine = sigs && sigs->is_object() ? sigs->as_object().if_contains(server) : nullptr;
    if (!mine || !mine->is_object() || mine->as_object().empty())
      co_return Error::forbidden("The event is not signed by " + server);
    bool verified = false;
    std::string why = "no ed25519 signature";
    for (auto& [key_id, sig] : mine->as_object()) {
      if (!std::string_view(key_id).starts_with("ed25519:")) continue;
      auto key = co_await keys.request_key(server, std::string(key_id));
      if (!key.ok()) {
        why = key.error().message;
        continue;
      }
      auto st = verify_event_signature(pdu, room_version, server, std::string(key_id), *key);
      if (st.ok()) {
        verified = true;
        break;
      }
      why = st.error().message;
    }
    if (!verified) co_return Error::forbidden("The signature of " + server + " does not verify: " + why);
  }
  auto hash = verify_event_content_hash(pdu);
  if (!hash.ok()) co_return Error::forbidden("The event's content hash does not match: " + hash.error().message);
  co_return ok_status();
}

}  // namespace despatch
