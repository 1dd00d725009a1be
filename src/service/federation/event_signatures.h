// Checking an event another server sent: its content hash and the signatures that vouch for
// it (server-server API "Validating hashes and signatures on received events").
#pragma once

#include "core/result.h"
#include "service/federation/server_keys.h"

#include <boost/asio/awaitable.hpp>

#include <string_view>

namespace despatch {

// The sender's server must have signed the event (v1-2: the event ID's server as well) with
// a key it publishes; M_FORBIDDEN naming what failed. A content hash that does not match
// is M_FORBIDDEN too: an event redacted on the way is refused where this server must take it
// whole (joins), which is what its callers need.
boost::asio::awaitable<Status> check_event_signatures(ServerKeys& keys, const json::object& pdu,
                                                      std::string_view room_version);

}  // namespace despatch
