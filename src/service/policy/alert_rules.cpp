#include "service/policy/alert_rules.h"

namespace despatch {

std::vector<FiredAlert> AlertEngine::observe(const AlertSignal& s) {
  std::vector<FiredAlert> out;
  if (seen_.size() > kSweepAbove) sweep(s.ts);
  for (size_t i = 0; i < rules_.size(); ++i) {
    const AlertRule& r = rules_[i];
    if (r.signal != s.signal) continue;
    Seen& seen = seen_[{i, s.user_id}];
    if (s.ts < seen.quiet_until) continue;
    auto& times = seen.times;
    int64_t since = s.ts - r.window_seconds * 1000;
    while (!times.empty() && times.front() <= since) times.pop_front();
    times.push_back(s.ts);
    if (static_cast<int64_t>(times.size()) < r.threshold) continue;
    out.push_back(FiredAlert{r.name, r.signal, r.severity, s.user_id,
                             static_cast<int64_t>(times.size()), s.ts, s.details});
    times.clear();
    seen.quiet_until = s.ts + r.window_seconds * 1000;
  }
  return out;
}

void AlertEngine::sweep(int64_t now) {
  for (auto it = seen_.begin(); it != seen_.end();) {
    int64_t window_ms = rules_[it->first.first].window_seconds * 1000;
    const Seen& seen = it->second;
    if ((seen.times.empty() || seen.times.back() <= now - window_ms) && seen.quiet_until <= now)
      it = seen_.erase(it);
    else
      ++it;
  }
}

std::vector<FiredAlert> evaluate(const std::vector<AlertRule>& rules,
                                 const std::vector<AlertSignal>& signals) {
  AlertEngine engine(rules);
  std::vector<FiredAlert> out;
  for (const auto& s : signals) {
    auto fired = engine.observe(s);
    out.insert(out.end(), fired.begin(), fired.end());
  }
  return out;
}

}  // namespace despatch
