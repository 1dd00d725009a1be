// What this server answers other servers about its rooms' events (server-server spec
// "Retrieving events", "Backfilling and retrieving missing events", "Retrieving the auth
// chain"): single events, the state at an event, auth chains, backfill and missing events.
// Only a server with a user joined to the room, now or before, is answered (403
// M_FORBIDDEN for any other), and only when the room's server ACL allows it. Events
// (single ones, backfill, missing events) then follow the room's history visibility as the
// asking server may see it (ServerView in event_reads.cpp): what none of its users could
// read goes out redacted, so its graph stays whole while the content stays here.
#pragma once

#include "core/result.h"
#include "storage/database.h"

#include <string>
#include <vector>

namespace despatch {

class FederationReads {
 public:
  FederationReads(std::string server_name, storage::Database& db) : server_name_(std::move(server_name)), db_(db) {}

  // GET /event/{eventId}: {origin, origin_server_ts, pdus: [the event]}.
  Result<json::object> event(const std::string& origin, const std::string& event_id);
  // GET /state_ids/{roomId}?event_id=: the state before the event, as IDs, and its auth chain.
  Result<json::object> state_ids(const std::string& origin, const std::string& room_id, const std::string& event_id);
  // GET /state/{roomId}?event_id=: the same with the events themselves.
  Result<json::object> state(const std::string& origin, const std::string& room_id, const std::string& event_id);
  // GET /event_auth/{roomId}/{eventId}: {auth_chain: [...]}.
  Result<json::object> event_auth(const std::string& origin, const std::string& room_id, const std::string& event_id);
  // GET /backfill/{roomId}?v=&limit=: up to limit events from the v events back, newest first.
  Result<json::object> backfill(const std::string& origin, const std::string& room_id,
                                const std::vector<std::string>& from, int limit);
  // POST /get_missing_events/{roomId}: the events before latest_events back to (not
  // including) earliest_events, no shallower than min_depth, at most limit, oldest first.
  Result<json::object> missing_events(const std::string& origin, const std::string& room_id,
                                      const std::vector<std::string>& earliest, const std::vector<std::string>& latest,
                                      int limit, int64_t min_depth);

 private:
  Status may_read(const std::string& origin, const std::string& room_id);
  // The room's event, as sent over federation; 404 when it is unknown or elsewhere.
  Result<json::object> pdu_in(const std::string& room_id, const std::string& event_id);
  Result<std::vector<std::string>> state_before(const std::string& room_id, const std::string& event_id);
  // Every event reachable through auth_events from `ids` (not the ids themselves), by ID.
  Result<std::vector<std::string>> auth_chain(const std::vector<std::string>& ids);
  json::object envelope(json::array pdus) const;
  class ServerView;

  std::string server_name_;
  storage::Database& db_;
};

}  // namespace despatch
