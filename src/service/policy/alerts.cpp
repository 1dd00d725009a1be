#include "service/policy/alerts.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "core/log.h"
#include "service/common/time.h"
#include "service/records/audit.h"
#include "storage/alert_store.h"

namespace despatch {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

json::object alert_json(const storage::Alert& a) {
  json::object o{{"alert_id", a.id},   {"rule", a.rule},   {"signal", a.signal},
                 {"severity", a.severity}, {"user_id", a.user_id}, {"count", a.count},
                 {"ts", a.ts}};
  json::error_code ec;
  json::value details = json::parse(a.details, ec);
  if (!ec && details.is_object())
    o["details"] = std::move(details);
  else
    o["details"] = json::object{};
  o["acknowledged"] = a.acknowledged_ts.has_value();
  if (a.acknowledged_ts) {
    o["acknowledged_by"] = a.acknowledged_by.value_or("");
    o["acknowledged_ts"] = *a.acknowledged_ts;
    o["note"] = a.note.value_or("");
  }
  return o;
}

}  // namespace

AlertService::AlertService(const Alerts& config, storage::Database& db,
                           asio::any_io_executor ex)
    : enabled_(config.enabled), rules_(config.rules), db_(db), ex_(std::move(ex)),
      engine_(config.rules) {
  for (const auto& r : rules_) raised_[r.name] = 0;
}

void AlertService::signal(const std::string& signal, const std::string& user_id,
                          json::object details) {
  if (!enabled_) return;
  std::vector<FiredAlert> fired;
  {
    std::lock_guard lock(mu_);
    fired = engine_.observe({signal, user_id, now_ms(), std::move(details)});
    for (const auto& a : fired) ++raised_[a.rule];
  }
  for (auto& a : fired) {
    DS_LOG(kWarn, "alert {} ({}): {} signals {} from {}", a.rule, a.severity, a.count, a.signal,
           a.user_id);
    asio::co_spawn(ex_, write(std::move(a)), asio::detached);
  }
}

asio::awaitable<void> AlertService::write(FiredAlert a) {
  storage::Alert row;
  row.rule = a.rule;
  row.signal = a.signal;
  row.severity = a.severity;
  row.user_id = a.user_id;
  row.count = a.count;
  row.details = json::serialize(a.details);
  row.ts = a.ts;
  auto job = [row](storage::Txn& t) -> Result<int64_t> {
    DS_ASSIGN(int64_t id, t.alerts().add(row));
    storage::Alert stored = row;
    stored.id = id;
    json::object details = alert_json(stored);
    details.erase("acknowledged");
    DS_TRY(audit_append(t, row.user_id, "alert." + row.rule, "", details));
    return id;
  };
  auto id = co_await db_.transact<int64_t>(job);
  if (!id.ok()) DS_LOG(kError, "alert {} not stored: {}", a.rule, id.error().message);
}

Result<json::object> AlertService::list(bool include_acknowledged, int64_t before,
                                        int64_t limit) {
  DS_ASSIGN(auto rows, db_.read().alerts().list(include_acknowledged, before, limit + 1));
  json::object out;
  json::array alerts;
  for (size_t i = 0; i < rows.size() && static_cast<int64_t>(i) < limit; ++i)
    alerts.push_back(alert_json(rows[i]));
  if (static_cast<int64_t>(rows.size()) > limit)
    out["next_before"] = rows[static_cast<size_t>(limit) - 1].id;
  out["alerts"] = std::move(alerts);
  return out;
}

asio::awaitable<Status> AlertService::acknowledge(std::string admin, int64_t id,
                                                  std::string note) {
  auto job = [admin, id, note](storage::Txn& t) -> Result<Ok> {
    DS_ASSIGN(auto alert, t.alerts().get(id));
    if (!alert) return Error::not_found("No alert " + std::to_string(id));
    DS_ASSIGN(bool changed, t.alerts().acknowledge(id, admin, now_ms(), note));
    if (!changed)
      return Error::invalid_param("Alert " + std::to_string(id) + " is acknowledged already");
    json::object details{{"alert_id", id}, {"rule", alert->rule}, {"note", note}};
    DS_TRY(audit_append(t, admin, "alert.acknowledged", "", details));
    return Ok{};
  };
  auto r = co_await db_.transact<Ok>(job);
  if (!r.ok()) co_return r.error();
  co_return ok_status();
}

std::vector<std::pair<std::string, int64_t>> AlertService::raised_by_rule() const {
  std::lock_guard lock(mu_);
  return {raised_.begin(), raised_.end()};
}

}  // namespace despatch
