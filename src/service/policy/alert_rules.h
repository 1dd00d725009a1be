// The suspicious-activity rule engine: rules from the config ([[alerts.rules]]) over a
// stream of signals (what one user did, when). Pure: no clock, no database, so that a rule's
// behaviour is a fixture (signals in, alerts out).
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/config.h"

namespace despatch {

struct AlertSignal {
  std::string signal;   // one of alert_signals()
  std::string user_id;  // whose activity (for a failed login: the account tried)
  int64_t ts = 0;       // milliseconds
  boost::json::object details;
};

struct FiredAlert {
  std::string rule, signal, severity, user_id;
  int64_t count = 0;  // signals within the window when it fired
  int64_t ts = 0;     // the signal that made it fire
  boost::json::object details;  // that signal's
};

// Not thread-safe: its owner serialises observe().
class AlertEngine {
 public:
  explicit AlertEngine(std::vector<AlertRule> rules) : rules_(std::move(rules)) {}

  // Counts s against every rule for its signal. A rule fires when the user's signals within
  // its window reach its threshold; it then stays quiet for that user for one window, so
  // that a leaver's client retrying an old token, or a long burst, raises one alert per
  // window rather than one per signal.
  std::vector<FiredAlert> observe(const AlertSignal& s);

  const std::vector<AlertRule>& rules() const { return rules_; }

  // Users tracked beyond this make observe() drop the ones whose windows have passed.
  static constexpr size_t kSweepAbove = 10'000;

 private:
  void sweep(int64_t now);
  std::vector<AlertRule> rules_;
  struct Seen {
    std::deque<int64_t> times;  // within the window, oldest first
    int64_t quiet_until = 0;    // after an alert: signals before this are not counted
  };
  std::map<std::pair<size_t, std::string>, Seen> seen_;  // (rule index, user) -> what was seen
};

// A fixture's run: the alerts a fresh engine raises over signals, in order.
std::vector<FiredAlert> evaluate(const std::vector<AlertRule>& rules,
                                 const std::vector<AlertSignal>& signals);

}  // namespace despatch
