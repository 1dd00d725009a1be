// Checking the signatures on an event another server sent (server-server API "Validating
// hashes and signatures on received events"). Used for transactions and for the events of a
// send_join answer alike.
#pragma once

#include "core/result.h"
#include "service/federation/server_keys.h"

#include <boost/asio/awaitable.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace despatch {

// The servers that must have signed an event: its sender's, and in v1-2 also its event
// ID's (event_id is the event's ID, as the caller knows it).
std::vector<std::string> required_signers(const json::object& pdu, const std::string& event_id,
                                          std::string_view room_version);

// Each required signer must have signed the event with an ed25519 key it publishes; a
// signature that does not verify with a key the server publishes refuses the event. 403
// M_FORBIDDEN naming what failed. The content hash is the caller's to judge (a transaction
// redacts the event, a join refuses it).
boost::asio::awaitable<Status> check_event_signatures(ServerKeys& keys, const json::object& pdu,
                                                      const std::string& event_id, std::string_view room_version);

// One server's signature: at least one ed25519 key it publishes verifies, none fails.
boost::asio::awaitable<Status> check_server_signature(ServerKeys& keys, const json::object& pdu,
                                                      const std::string& server, std::string_view room_version);

}  // namespace despatch
