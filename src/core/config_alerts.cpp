// The suspicious-activity rules' defaults and checks (the [alerts] section).
#include <algorithm>
#include <set>

#include "core/config.h"

namespace despatch {

const std::vector<std::string>& alert_signals() {
  static const std::vector<std::string> kSignals = {
      "login.failed",            // a wrong password for an existing account
      "token.deactivated",       // an access token of a deactivated account presented
      "keeper.removal",          // an attempt to kick, ban, demote or silence the records keeper
      "classification.refused",  // a message or room refused for its protective marking
      "redaction.own",           // a user redacting one of their own events
      "room.join",               // a user joining a room
      "media.download",          // a user downloading a media file
  };
  return kSignals;
}

std::vector<AlertRule> default_alert_rules() {
  return {
      {"failed_logins", "login.failed", 5, 300, "medium"},
      {"leaver_token", "token.deactivated", 1, 60, "high"},
      {"keeper_removal", "keeper.removal", 1, 60, "high"},
      {"refused_classification", "classification.refused", 1, 60, "high"},
      {"mass_redaction", "redaction.own", 20, 600, "medium"},
      {"room_join_burst", "room.join", 10, 300, "low"},
      {"bulk_media_download", "media.download", 200, 600, "medium"},
  };
}

Status check_alerts(const Alerts& a) {
  std::set<std::string> names;
  const auto& signals = alert_signals();
  for (const auto& r : a.rules) {
    if (r.name.empty()) return Error::invalid_param("config: every alerts.rules entry needs a name");
    if (!names.insert(r.name).second)
      return Error::invalid_param("config: alerts.rules names " + r.name + " twice");
    if (std::find(signals.begin(), signals.end(), r.signal) == signals.end())
      return Error::invalid_param("config: alerts.rules " + r.name + ": unknown signal \"" +
                                  r.signal + "\"");
    if (r.threshold < 1 || r.threshold > 1'000'000)
      return Error::invalid_param("config: alerts.rules " + r.name + ": threshold must be 1 to 1000000");
    if (r.window_seconds < 1 || r.window_seconds > 7 * 86400)
      return Error::invalid_param("config: alerts.rules " + r.name +
                                  ": window_seconds must be 1 to 604800 (a week)");
    if (r.severity != "low" && r.severity != "medium" && r.severity != "high")
      return Error::invalid_param("config: alerts.rules " + r.name + ": severity is low, medium or high");
  }
  return ok_status();
}

std::string Metrics::host() const {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return "";
  std::string h = listen.substr(0, colon);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  return h;
}

uint16_t Metrics::port() const {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) return 0;
  std::string p = listen.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) return 0;
  int n = std::stoi(p);
  return n <= 65535 ? static_cast<uint16_t>(n) : 0;
}

Status check_metrics(const Metrics& m) {
  if (m.listen.empty()) return ok_status();
  if (m.host().empty() || m.port() == 0)
    return Error::invalid_param("config: metrics.listen wants HOST:PORT, not " + m.listen);
  return ok_status();
}

}  // namespace despatch
