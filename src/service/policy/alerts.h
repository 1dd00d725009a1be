// Suspicious-activity alerts: services report signals (a failed login, a refused
// classification, an own redaction, ...); the rule engine (alert_rules.h) turns them into
// alerts, each written to the audit log (alert.RULE, hash-chained with every other entry),
// stored for the administrators, who acknowledge it with a note, and counted per rule.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/config.h"
#include "service/policy/alert_rules.h"
#include "storage/database.h"

namespace despatch {

class AlertService {
 public:
  AlertService(const Alerts& config, storage::Database& db, boost::asio::any_io_executor ex);

  // Counts a signal now. Never waits for the database: an alert it raises is written by a
  // write job of its own on the executor. Ignored when [alerts] enabled = false.
  void signal(const std::string& signal, const std::string& user_id, boost::json::object details);

  // Newest first: {"alerts": [...], "next_before": id} (next_before only when more remain).
  Result<boost::json::object> list(bool include_acknowledged, int64_t before, int64_t limit);
  // Acknowledges an open alert with the administrator's note (audited). M_NOT_FOUND for an
  // unknown alert; M_INVALID_PARAM for one acknowledged already.
  boost::asio::awaitable<Status> acknowledge(std::string admin, int64_t id, std::string note);

  // Alerts raised since start, per rule (every configured rule, zeros included).
  std::vector<std::pair<std::string, int64_t>> raised_by_rule() const;
  const std::vector<AlertRule>& rules() const { return rules_; }

  static constexpr size_t kMaxNoteBytes = 4096;

 private:
  boost::asio::awaitable<void> write(FiredAlert alert);

  bool enabled_;
  std::vector<AlertRule> rules_;
  storage::Database& db_;
  boost::asio::any_io_executor ex_;
  mutable std::mutex mu_;  // guards engine_ and raised_
  AlertEngine engine_;
  std::map<std::string, int64_t> raised_;
};

}  // namespace despatch
