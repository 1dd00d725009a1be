// A room's history from before this server joined it, fetched from other servers
// (backfill): placed below every stream position, where /messages finds it and /sync never
// looks.
#include "service/rooms/room_service.h"

#include "service/rooms/auth_rules.h"
#include "service/rooms/event_format.h"
#include "service/rooms/room_writer.h"
#include "service/rooms/visibility.h"
#include "storage/event_store.h"

#include <map>
#include <memory>

namespace despatch {

namespace asio = boost::asio;

namespace {

int64_t depth_of(const json::object& ev) {
  auto* d = ev.if_contains("depth");
  return d && d->is_int64() ? d->as_int64() : 0;
}

// The auth events of ev, from the batch or from what this server holds; nullopt when one is
// missing (the event cannot be judged, so it is not taken).
Result<std::optional<std::vector<json::object>>> auth_events_of(storage::Txn& t, const json::object& ev,
                                                                const std::map<std::string, json::object>& batch) {
  std::vector<json::object> out;
  for (auto& id : event_refs(ev, "auth_events")) {
    if (auto it = batch.find(id); it != batch.end()) {
      out.push_back(it->second);
      continue;
    }
    DS_ASSIGN(auto flags, t.events().flags(id));
    if (!flags || !flags->rejected.empty()) return std::optional<std::vector<json::object>>{};
    DS_ASSIGN(auto stored, t.events().event(id));
    if (!stored) return std::optional<std::vector<json::object>>{};
    json::object a = stored->pdu;
    a["event_id"] = id;
    out.push_back(std::move(a));
  }
  return std::optional<std::vector<json::object>>{std::move(out)};
}

// Places each event at its depth's history position: one already in the timeline stays
// where it is, an outlier moves to its place, a new event is judged against its auth events
// and kept, rejected if the rules refuse it.
// Each new event is archived as history, fetched from `from` (an outlier moved to its
// place was archived when it came).
Result<int> place_history(storage::Txn& t, Archive& archive, const std::string& room_id, const std::string& version,
                          const std::vector<json::object>& events, const std::string& from) {
  std::map<std::string, json::object> batch;
  for (auto& ev : events) batch.emplace(std::string(ev.at("event_id").as_string()), ev);
  int placed = 0;
  for (auto& [id, ev] : batch) {
    DS_ASSIGN(auto flags, t.events().flags(id));
    if (flags) {
      if (!flags->outlier || !flags->rejected.empty() || flags->soft_failed) continue;
      DS_ASSIGN(int64_t pos, t.events().history_pos(depth_of(ev)));
      DS_TRY(t.events().place_in_history(id, pos));
      ++placed;
      continue;
    }
    DS_ASSIGN(auto auth, auth_events_of(t, ev, batch));
    if (!auth) continue;
    Status st = check_auth_events(ev, *auth, version);
    if (st.ok()) {
      StateMap auth_state;
      for (auto& a : *auth)
        if (auto* sk = a.if_contains("state_key"); sk && sk->is_string())
          auth_state[{std::string(a.at("type").as_string()), std::string(sk->as_string())}] = a;
      st = check_event_auth(ev, auth_state, version);
    }
    storage::NewEvent row = received_row(ev, room_id, version);
    DS_ASSIGN(row.pos, t.events().history_pos(row.depth));
    if (!st.ok()) row.rejected = st.error().message;
    DS_TRY(t.events().insert(row));
    ArchiveEntry entry{row.pos, row.event_id, room_id, row.sender, row.type, row.origin_server_ts, "",
                       st.ok() ? "history" : "history_rejected", received_record(ev, "backfill", from)};
    DS_TRY(archive.append(t, entry));
    if (st.ok()) ++placed;
  }
  return placed;
}

}  // namespace

asio::awaitable<Result<int>> RoomService::take_history(const std::string& room_id, std::vector<json::object> events,
                                                       std::string from) {
  auto placed = std::make_shared<int>(0);
  // Result<std::string> like the other room jobs, whose instance room_service.cpp makes.
  auto job = [=, this](RoomWriter& w) -> Result<std::string> {
    DS_ASSIGN(std::string version, room_version(room_id));
    w.then([=, this](storage::Txn& t) -> Status {
      DS_ASSIGN(int n, place_history(t, archive_, room_id, version, events, from));
      *placed = n;
      return ok_status();
    });
    return std::string();
  };
  DS_CO_TRY(co_await room_job<std::string>(room_id, job));
  co_return *placed;
}

}  // namespace despatch
