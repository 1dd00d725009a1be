#include "service/federation/event_signatures.h"

#include "core/ids.h"
#include "service/rooms/event_format.h"
#include "service/rooms/room_version.h"

namespace despatch {

namespace asio = boost::asio;

std::vector<std::string> required_signers(const json::object& pdu, const std::string& event_id,
                                          std::string_view room_version) {
  std::vector<std::string> out{std::string(server_name_of(pdu.at("sender").as_string()))};
  const RoomVersion* rv = find_room_version(room_version);
  if (rv && rv->event_ids == EventIdFormat::kOpaque) {
    std::string id_server(server_name_of(event_id));
    if (id_server != out.front()) out.push_back(id_server);
  }
  return out;
}

asio::awaitable<Status> check_server_signature(ServerKeys& keys, const json::object& pdu, const std::string& server,
                                               std::string_view room_version) {
  const json::value* sigs = pdu.if_contains("signatures");
  const json::value* mine = sigs && sigs->is_object() ? sigs->as_object().if_contains(server) : nullptr;
  if (!mine || !mine->is_object()) co_return Error::forbidden("The event is not signed by " + server);
  bool verified = false;
  for (auto& [key_id, sig] : mine->as_object()) {
    if (!key_id.starts_with("ed25519:")) continue;
    std::string id(key_id);
    auto key = co_await keys.request_key(server, id);
    if (!key.ok()) continue;  // another key of the server may do
    Status st = verify_event_signature(pdu, room_version, server, id, *key);
    if (!st.ok()) co_return Error::forbidden("Bad signature of " + server + " (" + id + ")");
    verified = true;
  }
  if (!verified) co_return Error::forbidden("No signature of " + server + " could be checked");
  co_return ok_status();
}

asio::awaitable<Status> check_event_signatures(ServerKeys& keys, const json::object& pdu, const std::string& event_id,
                                               std::string_view room_version) {
  for (auto& server : required_signers(pdu, event_id, room_version)) {
    Status st = co_await check_server_signature(keys, pdu, server, room_version);
    if (!st.ok()) co_return st;
  }
  co_return ok_status();
}

}  // namespace despatch
