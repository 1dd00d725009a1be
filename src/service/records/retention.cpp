#include "service/records/retention.h"

#include "core/ids.h"
#include "service/common/time.h"
#include "service/records/audit.h"
#include "service/rooms/event_format.h"
#include "storage/archive_store.h"
#include "storage/event_store.h"
#include "storage/legal_hold_store.h"
#include "storage/room_store.h"

#include <algorithm>
#include <map>
#include <set>

namespace despatch {

namespace asio = boost::asio;
using storage::Txn;

namespace {
constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kBatch = 20'000;  // bounds one run's transaction
constexpr int64_t kPage = 5'000;    // records read at a time

// The kind of a room ("direct" or "group"; "group" when this server does not know it),
// cached in kinds.
Result<std::string> room_kind(Txn& t, const std::string& room_id, std::map<std::string, std::string>& kinds) {
  if (auto it = kinds.find(room_id); it != kinds.end()) return it->second;
  DS_ASSIGN(auto room, t.rooms().room(room_id));
  return kinds[room_id] = room ? room->kind : "group";
}

// The live copy of a record's event, once the record's period is over: the stored event
// becomes its redacted form and leaves every client read (a state event stays whole: the
// room's auth and state need it). Records of other kinds have no event of their own.
Status purge_live_copy(Txn& t, const storage::LiveRecord& r, std::map<std::string, std::string>& versions) {
  static const std::set<std::string> kWithEvent = {"event",   "plaintext", "undecryptable",   "history",
                                                   "outlier", "rejected",  "history_rejected", "soft_failed"};
  if (r.event_id.empty() || !kWithEvent.count(r.kind)) return ok_status();
  DS_ASSIGN(auto ev, t.events().event(r.event_id));
  if (!ev || ev->pdu.contains("state_key")) return ok_status();
  auto it = versions.find(r.room_id);
  if (it == versions.end()) {
    DS_ASSIGN(auto room, t.rooms().room(r.room_id));
    it = versions.emplace(r.room_id, room ? room->room_version : "10").first;
  }
  return t.events().purge(r.event_id, json::serialize(redact_event(ev->pdu, it->second)));
}

bool covers(const storage::LegalHold& h, const storage::LiveRecord& r) {
  return (!h.user_id || *h.user_id == r.sender) && (!h.room_id || *h.room_id == r.room_id) &&
         (!h.from_ts || r.ts >= *h.from_ts) && (!h.to_ts || r.ts <= *h.to_ts);
}
}  // namespace

Result<HoldRequest> HoldRequest::from_json(const json::object& body) {
  HoldRequest h;
  for (auto& [k, v] : body) {
    if (k == "case_ref" || k == "user_id" || k == "room_id") {
      if (!v.is_string()) return Error::bad_json(std::string(k) + " must be a string");
      (k == "case_ref" ? h.case_ref : k == "user_id" ? h.user_id : h.room_id) = v.as_string();
    } else if (k == "from_ts" || k == "to_ts") {
      if (!v.is_int64() || v.as_int64() < 0) return Error::bad_json(std::string(k) + " must be a timestamp in ms");
      (k == "from_ts" ? h.from_ts : h.to_ts) = v.as_int64();
    } else {
      return Error::invalid_param("unknown field " + std::string(k));
    }
  }
  if (h.case_ref.empty()) return Error::missing_param("case_ref is required");
  if (!h.user_id.empty() && !is_valid_user_id(h.user_id)) return Error::invalid_param("user_id is not a user ID");
  if (!h.room_id.empty() && !is_valid_room_id(h.room_id)) return Error::invalid_param("room_id is not a room ID");
  if (h.user_id.empty() && h.room_id.empty() && !h.from_ts && !h.to_ts)
    return Error::invalid_param("a hold names a user, a room or a time range");
  if (h.from_ts && h.to_ts && *h.from_ts > *h.to_ts) return Error::invalid_param("from_ts is after to_ts");
  return h;
}

int64_t Retention::period_ms(const std::string& room_id, const std::string& kind) const {
  if (auto it = config_.retention_room_days.find(room_id); it != config_.retention_room_days.end())
    return static_cast<int64_t>(it->second * kDayMs);
  double days = kind == "direct" ? config_.retention_direct_days : config_.retention_group_days;
  if (days < 0) days = config_.retention_days;
  return static_cast<int64_t>(days * kDayMs);
}

int64_t Retention::shortest_period_ms() const {
  int64_t best = 0;
  auto consider = [&](double days) {
    auto ms = static_cast<int64_t>(days * kDayMs);
    if (ms > 0 && (best == 0 || ms < best)) best = ms;
  };
  consider(config_.retention_days);
  consider(config_.retention_direct_days);
  consider(config_.retention_group_days);
  for (auto& [room, days] : config_.retention_room_days) consider(days);
  return best;
}

asio::awaitable<Result<int64_t>> Retention::run(const std::string& actor, int64_t now,
                                                const std::string& case_ref) {
  auto job = [this, actor, now, case_ref](Txn& t) -> Result<int64_t> {
    // Nothing younger than the shortest period can have expired: most runs read nothing.
    int64_t shortest = shortest_period_ms();
    if (shortest <= 0) return int64_t{0};
    DS_ASSIGN(auto holds, t.legal_holds().list(false));
    std::map<std::string, std::string> kinds;
    std::vector<int64_t> doomed;
    std::vector<storage::LiveRecord> doomed_rows;
    for (int64_t after = 0; static_cast<int64_t>(doomed.size()) < kBatch;) {
      DS_ASSIGN(auto rows, t.archive().live_before(now - shortest, after, kPage));
      if (rows.empty()) break;
      for (auto& r : rows) {
        after = r.seq;
        DS_ASSIGN(std::string kind, room_kind(t, r.room_id, kinds));
        int64_t period = period_ms(r.room_id, kind);
        if (period <= 0 || r.ts >= now - period) continue;
        bool held = std::any_of(holds.begin(), holds.end(), [&](auto& h) { return covers(h, r); });
        if (!held) {
          doomed.push_back(r.seq);
          doomed_rows.push_back(r);
        }
        if (static_cast<int64_t>(doomed.size()) >= kBatch) break;
      }
    }
    json::array ranges;
    for (size_t i = 0; i < doomed.size();) {
      size_t j = i;
      while (j + 1 < doomed.size() && doomed[j + 1] == doomed[j] + 1) ++j;
      ranges.push_back(json::array{doomed[i], doomed[j]});
      i = j + 1;
    }
    for (int64_t seq : doomed) DS_TRY(t.archive().tombstone(seq));
    std::map<std::string, std::string> versions;
    for (auto& r : doomed_rows) DS_TRY(purge_live_copy(t, r, versions));
    // verify accepts a tombstone only when an entry like this one names it.
    DS_TRY(audit_append(t, actor, "records.retention", case_ref,
                        json::object{{"deleted", static_cast<int64_t>(doomed.size())}, {"ranges", ranges},
                                     {"before_ts", now - shortest}}));
    if (archive_) DS_TRY(archive_->checkpoint(t));
    return static_cast<int64_t>(doomed.size());
  };
  co_return co_await db_.transact<int64_t>(job);
}

asio::awaitable<Result<int64_t>> Retention::place_hold(const std::string& actor, const HoldRequest& h) {
  auto job = [actor, h](Txn& t) -> Result<int64_t> {
    auto opt = [](const std::string& s) { return s.empty() ? std::nullopt : std::optional<std::string>(s); };
    storage::LegalHold hold;
    hold.case_ref = h.case_ref;
    hold.user_id = opt(h.user_id);
    hold.room_id = opt(h.room_id);
    hold.from_ts = h.from_ts;
    hold.to_ts = h.to_ts;
    hold.placed_by = actor;
    hold.placed_ts = now_ms();
    DS_ASSIGN(int64_t id, t.legal_holds().place(hold));
    json::object details{{"hold_id", id}};
    if (!h.user_id.empty()) details["user_id"] = h.user_id;
    if (!h.room_id.empty()) details["room_id"] = h.room_id;
    if (h.from_ts) details["from_ts"] = *h.from_ts;
    if (h.to_ts) details["to_ts"] = *h.to_ts;
    DS_TRY(audit_append(t, actor, "legal_hold.place", h.case_ref, details));
    return id;
  };
  co_return co_await db_.transact<int64_t>(job);
}

asio::awaitable<Status> Retention::lift_hold(const std::string& actor, int64_t id, const std::string& case_ref) {
  auto job = [actor, id, case_ref](Txn& t) -> Status {
    DS_ASSIGN(auto hold, t.legal_holds().active(id));
    if (!hold) return Error::not_found("No active legal hold with that ID");
    DS_TRY(t.legal_holds().lift(id, actor, now_ms()));
    DS_TRY(audit_append(t, actor, "legal_hold.lift", case_ref.empty() ? hold->case_ref : case_ref,
                        json::object{{"hold_id", id}}));
    return ok_status();
  };
  co_return co_await db_.transact<Ok>(job);
}

Result<json::array> Retention::list_holds(bool include_lifted) {
  DS_ASSIGN(auto holds, db_.read().legal_holds().list(include_lifted));
  json::array out;
  for (auto& h : holds) {
    json::object o{{"hold_id", h.id}, {"case_ref", h.case_ref}, {"placed_by", h.placed_by}, {"placed_ts", h.placed_ts}};
    if (h.user_id) o["user_id"] = *h.user_id;
    if (h.room_id) o["room_id"] = *h.room_id;
    if (h.from_ts) o["from_ts"] = *h.from_ts;
    if (h.to_ts) o["to_ts"] = *h.to_ts;
    if (h.lifted_ts) {
      o["lifted_by"] = h.lifted_by.value_or("");
      o["lifted_ts"] = *h.lifted_ts;
    }
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace despatch
