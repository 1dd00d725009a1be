#include "service/federation/backfill.h"

#include "core/ids.h"
#include "core/log.h"
#include "service/federation/event_signatures.h"
#include "service/federation/inbox.h"
#include "storage/event_store.h"
#include "storage/membership_store.h"

#include <algorithm>

namespace despatch {

namespace asio = boost::asio;

namespace {

// At most this many events per request, and servers asked per page.
constexpr int kMaxBackfill = 100;
constexpr size_t kMaxServers = 3;
constexpr int kExtremities = 5;

}  // namespace

asio::awaitable<void> FederationBackfill::before_page(const std::string& room_id, int64_t from, int limit) {
  if (!config_.federation.enabled) co_return;
  storage::Stores& s = rooms_.db().read();
  auto held = s.events().room_events(room_id, storage::EventRange{storage::kHistoryFloor, from, true, limit});
  if (!held.ok()) co_return;
  // The page reaches down to `lowest`: a gap named from there up is what it would skip.
  int64_t lowest = static_cast<int>(held->size()) < limit ? storage::kHistoryFloor : held->back().pos;
  auto gaps = s.events().backward_extremities(room_id, 4 * kExtremities);
  if (!gaps.ok()) co_return;
  std::vector<std::string> ext;
  for (auto& g : *gaps)
    if (g.named_at >= lowest && g.named_at <= from && static_cast<int>(ext.size()) < kExtremities)
      ext.push_back(g.event_id);
  if (ext.empty()) co_return;
  {
    // A server that had nothing more for these extremities is not asked again at once.
    std::lock_guard lock(mu_);
    auto it = exhausted_.find(room_id);
    if (it != exhausted_.end() && it->second.first == ext &&
        std::chrono::steady_clock::now() - it->second.second < std::chrono::minutes(1))
      co_return;
  }
  auto version = rooms_.room_version(room_id);
  auto joined = s.memberships().users_with(room_id, "join");
  if (!version.ok() || !joined.ok()) co_return;
  // The room ID's server first (it made the room), then the other servers with members.
  std::vector<std::string> servers;
  auto add = [&](std::string_view server) {
    std::string name(server);
    if (name.empty() || name == config_.server_name || !allow_.allows(name)) return;
    if (std::find(servers.begin(), servers.end(), name) == servers.end()) servers.push_back(name);
  };
  add(server_name_of(room_id));
  for (auto& user : *joined) add(server_name_of(user));
  int n = std::clamp(limit + 10, 1, kMaxBackfill);
  for (size_t i = 0; i < servers.size() && i < kMaxServers; ++i) {
    auto got = co_await fetch(servers[i], room_id, *version, ext, n);
    if (!got.ok()) {
      DS_LOG(kWarn, "federation: backfill of {} from {} failed: {}", room_id, servers[i], got.error().message);
      continue;
    }
    if (*got == 0) {
      std::lock_guard lock(mu_);
      exhausted_[room_id] = {ext, std::chrono::steady_clock::now()};
    }
    co_return;
  }
}

asio::awaitable<Result<int>> FederationBackfill::fetch(const std::string& server, const std::string& room_id,
                                                       const std::string& version,
                                                       const std::vector<std::string>& from, int limit) {
  std::string target = "/_matrix/federation/v1/backfill/" + query_escape(room_id) + "?limit=" + std::to_string(limit);
  for (auto& id : from) target += "&v=" + query_escape(id);
  const std::string get = "GET";
  DS_CO_ASSIGN(FederationResponse resp, co_await sender_.send(server, get, target, std::nullopt));
  if (resp.status != 200 || !resp.body.is_object())
    co_return Error::make(502, errc::kUnknown, server + " answered /backfill with " + std::to_string(resp.status));
  auto* pdus = resp.body.as_object().if_contains("pdus");
  if (!pdus || !pdus->is_array()) co_return Error::make(502, errc::kUnknown, server + " sent no pdus");
  auto room_version = [&](const std::string& id) -> Result<std::string> {
    if (id != room_id) return Error::not_found("Another room");
    return version;
  };
  std::vector<json::object> events;
  for (auto& v : pdus->as_array()) {
    if (static_cast<int>(events.size()) >= limit) break;
    auto checked = precheck_pdu(v, room_version, allow_);
    if (!checked.ok()) continue;
    Status signed_ok = co_await check_event_signatures(keys_, checked->pdu, checked->event_id, version);
    if (!signed_ok.ok() || !apply_content_hash(*checked).ok()) {
      DS_LOG(kWarn, "federation: {} sent history event {} that fails its checks", server, checked->event_id);
      continue;
    }
    json::object ev = std::move(checked->pdu);
    ev.erase("unsigned");  // what a server says outside the signed event is not kept
    ev["event_id"] = checked->event_id;
    events.push_back(std::move(ev));
  }
  co_return co_await rooms_.take_history(room_id, std::move(events), server);
}

}  // namespace despatch
