#include "service/policy/reports.h"

#include "core/ids.h"
#include "core/log.h"
#include "service/common/time.h"
#include "service/records/audit.h"
#include "storage/event_store.h"
#include "storage/membership_store.h"
#include "storage/report_store.h"
#include "storage/room_store.h"
#include "storage/user_store.h"

namespace despatch {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

json::object report_json(const storage::Report& r) {
  json::object o{{"report_id", r.id},
                 {"kind", r.kind},
                 {"reporter", r.reporter},
                 {"reason", r.reason},
                 {"ts", r.ts}};
  if (r.room_id) o["room_id"] = *r.room_id;
  if (r.event_id) o["event_id"] = *r.event_id;
  if (r.user_id) o["user_id"] = *r.user_id;
  o["acknowledged"] = r.acknowledged_ts.has_value();
  if (r.acknowledged_ts) {
    o["acknowledged_by"] = r.acknowledged_by.value_or("");
    o["acknowledged_ts"] = *r.acknowledged_ts;
    o["note"] = r.note.value_or("");
  }
  return o;
}

Status check_reason(const std::string& reason) {
  if (reason.size() > ReportService::kMaxReasonBytes)
    return Error::invalid_param("The reason is longer than " +
                                std::to_string(ReportService::kMaxReasonBytes) + " bytes");
  return ok_status();
}

}  // namespace

asio::awaitable<Status> ReportService::store(storage::Report report) {
  report.ts = now_ms();
  auto job = [report](storage::Txn& t) -> Result<int64_t> {
    DS_ASSIGN(int64_t id, t.reports().add(report));
    json::object details = report_json(report);
    details["report_id"] = id;
    details.erase("reason");  // the reason stays in the report, read through the admin API
    details.erase("acknowledged");
    DS_TRY(audit_append(t, report.reporter, "report." + report.kind, "", details));
    return id;
  };
  auto id = co_await db_.transact<int64_t>(job);
  if (!id.ok()) co_return id.error();
  DS_LOG(kInfo, "report {} ({}) from {}", *id, report.kind, report.reporter);
  co_return ok_status();
}

asio::awaitable<Status> ReportService::report_room(std::string reporter, std::string room_id,
                                                   std::string reason) {
  DS_CO_TRY(check_reason(reason));
  auto room = db_.read().rooms().room(room_id);
  if (!room.ok()) co_return room.error();
  if (!*room) co_return Error::not_found("The room was not found.");
  storage::Report r;
  r.kind = "room";
  r.reporter = std::move(reporter);
  r.room_id = std::move(room_id);
  r.reason = std::move(reason);
  co_return co_await store(std::move(r));
}

asio::awaitable<Status> ReportService::report_event(std::string reporter, std::string room_id,
                                                    std::string event_id, std::string reason) {
  DS_CO_TRY(check_reason(reason));
  storage::Stores& s = db_.read();
  // One answer for every miss, so that a non-member learns nothing of the room.
  Error missing = Error::not_found("The event was not found or you are not joined to the room.");
  auto membership = s.memberships().membership(room_id, reporter);
  if (!membership.ok()) co_return membership.error();
  if (!*membership || **membership != "join") co_return missing;
  auto ev = s.events().event(event_id);
  if (!ev.ok()) co_return ev.error();
  if (!*ev) co_return missing;
  auto* in_room = (*ev)->pdu.if_contains("room_id");
  if (!in_room || !in_room->is_string() || in_room->as_string() != room_id) co_return missing;
  storage::Report r;
  r.kind = "event";
  r.reporter = std::move(reporter);
  r.room_id = std::move(room_id);
  r.event_id = std::move(event_id);
  if (auto* sender = (*ev)->pdu.if_contains("sender"); sender && sender->is_string())
    r.user_id = std::string(sender->as_string());
  r.reason = std::move(reason);
  co_return co_await store(std::move(r));
}

asio::awaitable<Status> ReportService::report_user(std::string reporter, std::string user_id,
                                                   std::string reason) {
  DS_CO_TRY(check_reason(reason));
  auto local = server_name_of(user_id) == server_name_of(reporter);
  if (local) {
    auto exists = db_.read().users().exists(user_id);
    if (!exists.ok()) co_return exists.error();
    if (!*exists) co_return Error::not_found("The user was not found.");
  }
  storage::Report r;
  r.kind = "user";
  r.reporter = std::move(reporter);
  r.user_id = std::move(user_id);
  r.reason = std::move(reason);
  co_return co_await store(std::move(r));
}

Result<json::object> ReportService::list(bool include_acknowledged, int64_t before, int64_t limit) {
  DS_ASSIGN(auto rows, db_.read().reports().list(include_acknowledged, before, limit + 1));
  json::object out;
  json::array reports;
  for (size_t i = 0; i < rows.size() && static_cast<int64_t>(i) < limit; ++i)
    reports.push_back(report_json(rows[i]));
  if (static_cast<int64_t>(rows.size()) > limit)
    out["next_before"] = rows[static_cast<size_t>(limit) - 1].id;
  out["reports"] = std::move(reports);
  return out;
}

asio::awaitable<Status> ReportService::acknowledge(std::string admin, int64_t id,
                                                   std::string note) {
  auto job = [admin, id, note](storage::Txn& t) -> Result<Ok> {
    DS_ASSIGN(auto report, t.reports().get(id));
    if (!report) return Error::not_found("No report " + std::to_string(id));
    DS_ASSIGN(bool changed, t.reports().acknowledge(id, admin, now_ms(), note));
    if (!changed)
      return Error::invalid_param("Report " + std::to_string(id) + " is acknowledged already");
    json::object details{{"report_id", id}, {"kind", report->kind}, {"note", note}};
    DS_TRY(audit_append(t, admin, "report.acknowledged", "", details));
    return Ok{};
  };
  auto r = co_await db_.transact<Ok>(job);
  if (!r.ok()) co_return r.error();
  co_return ok_status();
}

}  // namespace despatch
