#include "service/records/retention.h"

#include "core/ids.h"
#include "service/common/time.h"
#include "service/records/audit.h"

namespace despatch {

namespace asio = boost::asio;
using storage::Conn;

namespace {
constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kBatch = 20'000;  // bounds one run's transaction
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

asio::awaitable<Result<int64_t>> Retention::run(const std::string& actor, int64_t now) {
  auto job = [this, actor, now](Conn& c) -> Result<int64_t> {
    // Nothing younger than the shortest period can have expired: most runs read nothing.
    int64_t shortest = shortest_period_ms();
    if (shortest <= 0) return int64_t{0};
    DS_ASSIGN(auto rows, c.query("SELECT a.seq, a.room_id, a.sender, a.ts, COALESCE(r.kind, 'group') FROM archive a "
                                 "LEFT JOIN rooms r ON r.room_id=a.room_id WHERE a.kind<>'tombstone' AND a.ts<? "
                                 "ORDER BY a.seq",
                                 {now - shortest}));
    DS_ASSIGN(auto holds, c.query("SELECT user_id, room_id, from_ts, to_ts FROM legal_holds WHERE lifted_ts IS NULL"));
    std::vector<int64_t> doomed;
    for (auto& r : rows) {
      int64_t period = period_ms(r.str(1), r.str(4));
      if (period <= 0 || r.i64(3) >= now - period) continue;
      bool held = false;
      for (auto& h : holds) {
        bool covers = (h.is_null(0) || h.str(0) == r.str(2)) && (h.is_null(1) || h.str(1) == r.str(1)) &&
                      (h.is_null(2) || r.i64(3) >= h.i64(2)) && (h.is_null(3) || r.i64(3) <= h.i64(3));
        if (covers) {
          held = true;
          break;
        }
      }
      if (!held) doomed.push_back(r.i64(0));
      if (static_cast<int64_t>(doomed.size()) >= kBatch) break;
    }
    if (doomed.empty()) return int64_t{0};
    json::array ranges;
    for (size_t i = 0; i < doomed.size();) {
      size_t j = i;
      while (j + 1 < doomed.size() && doomed[j + 1] == doomed[j] + 1) ++j;
      ranges.push_back(json::array{doomed[i], doomed[j]});
      i = j + 1;
    }
    for (int64_t seq : doomed)
      DS_TRY(c.exec("UPDATE archive SET kind='tombstone', sealed=NULL WHERE seq=?", {seq}));
    // verify accepts a tombstone only when an entry like this one names it.
    DS_TRY(audit_append(c, actor, "records.retention", "",
                        json::object{{"deleted", static_cast<int64_t>(doomed.size())}, {"ranges", ranges}}));
    return static_cast<int64_t>(doomed.size());
  };
  co_return co_await db_.write<int64_t>(job);
}

asio::awaitable<Result<int64_t>> Retention::place_hold(const std::string& actor, const HoldRequest& h) {
  auto job = [actor, h](Conn& c) -> Result<int64_t> {
    auto opt_str = [](const std::string& s) { return s.empty() ? storage::Value(nullptr) : storage::Value(s); };
    auto opt_int = [](const std::optional<int64_t>& v) { return v ? storage::Value(*v) : storage::Value(nullptr); };
    DS_TRY(c.exec("INSERT INTO legal_holds(case_ref, user_id, room_id, from_ts, to_ts, placed_by, placed_ts) "
                  "VALUES(?,?,?,?,?,?,?)",
                  {h.case_ref, opt_str(h.user_id), opt_str(h.room_id), opt_int(h.from_ts), opt_int(h.to_ts), actor,
                   now_ms()}));
    DS_ASSIGN(auto row, storage::query_one(c, "SELECT MAX(id) FROM legal_holds"));
    int64_t id = row->i64(0);
    json::object details{{"hold_id", id}};
    if (!h.user_id.empty()) details["user_id"] = h.user_id;
    if (!h.room_id.empty()) details["room_id"] = h.room_id;
    if (h.from_ts) details["from_ts"] = *h.from_ts;
    if (h.to_ts) details["to_ts"] = *h.to_ts;
    DS_TRY(audit_append(c, actor, "legal_hold.place", h.case_ref, details));
    return id;
  };
  co_return co_await db_.write<int64_t>(job);
}

asio::awaitable<Status> Retention::lift_hold(const std::string& actor, int64_t id, const std::string& case_ref) {
  auto job = [actor, id, case_ref](Conn& c) -> Status {
    DS_ASSIGN(auto row, storage::query_one(c, "SELECT case_ref FROM legal_holds WHERE id=? AND lifted_ts IS NULL", {id}));
    if (!row) return Error::not_found("No active legal hold with that ID");
    DS_TRY(c.exec("UPDATE legal_holds SET lifted_by=?, lifted_ts=? WHERE id=?", {actor, now_ms(), id}));
    return audit_append(c, actor, "legal_hold.lift", case_ref.empty() ? row->str(0) : case_ref,
                        json::object{{"hold_id", id}}).ok()
               ? ok_status()
               : Error::internal("audit log");
  };
  co_return co_await db_.write<Ok>(job);
}

Result<json::array> Retention::list_holds(bool include_lifted) {
  DS_ASSIGN(auto rows, db_.reader().query("SELECT id, case_ref, user_id, room_id, from_ts, to_ts, placed_by, placed_ts, "
                                          "lifted_by, lifted_ts FROM legal_holds WHERE ?=1 OR lifted_ts IS NULL "
                                          "ORDER BY id",
                                          {int64_t{include_lifted ? 1 : 0}}));
  json::array out;
  for (auto& r : rows) {
    json::object h{{"hold_id", r.i64(0)}, {"case_ref", r.str(1)}, {"placed_by", r.str(6)}, {"placed_ts", r.i64(7)}};
    if (!r.is_null(2)) h["user_id"] = r.str(2);
    if (!r.is_null(3)) h["room_id"] = r.str(3);
    if (!r.is_null(4)) h["from_ts"] = r.i64(4);
    if (!r.is_null(5)) h["to_ts"] = r.i64(5);
    if (!r.is_null(9)) {
      h["lifted_by"] = r.str(8);
      h["lifted_ts"] = r.i64(9);
    }
    out.push_back(std::move(h));
  }
  return out;
}

}  // namespace despatch
