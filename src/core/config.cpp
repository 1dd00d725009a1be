#include "core/config.h"

#include "core/server_name.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <vector>

namespace despatch {
namespace {

// Walks every key so that misspelled options are reported rather than ignored.
void collect_keys(const toml::table& t, const std::string& prefix, std::set<std::string>& out) {
  for (auto&& [k, v] : t) {
    std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (auto* sub = v.as_table()) {
      collect_keys(*sub, key, out);
    } else {
      out.insert(key);
    }
  }
}

template <class T>
Status read(const toml::table& t, const char* path, T& out) {
  auto node = t.at_path(path);
  if (!node) return ok_status();
  if constexpr (std::is_same_v<T, std::string>) {
    if (auto v = node.value<std::string>()) { out = *v; return ok_status(); }
  } else if constexpr (std::is_same_v<T, bool>) {
    if (auto v = node.value<bool>()) { out = *v; return ok_status(); }
  } else if constexpr (std::is_floating_point_v<T>) {
    if (auto v = node.value<double>()) { out = static_cast<T>(*v); return ok_status(); }
  } else {
    if (auto v = node.value<int64_t>(); v && *v >= 0) { out = static_cast<T>(*v); return ok_status(); }
  }
  return Error::invalid_param(std::string("config: wrong type or value for ") + path);
}

// Reads a list of strings at path into out (replacing it) when the key is present.
Status read_string_list(const toml::table& t, const char* path, std::vector<std::string>& out,
                        const char* type_error) {
  auto node = t.at_path(path);
  if (!node) return ok_status();
  auto* arr = node.as_array();
  if (!arr) return Error::invalid_param(type_error);
  std::vector<std::string> values;
  for (auto&& v : *arr) {
    auto s = v.value<std::string>();
    if (!s) return Error::invalid_param(type_error);
    values.push_back(*s);
  }
  out = std::move(values);
  return ok_status();
}

// [[alerts.rules]]: when present, the list replaces the shipped rules.
Status read_alert_rules(const toml::table& t, Alerts& out) {
  auto node = t.at_path("alerts.rules");
  if (!node) return ok_status();
  auto* arr = node.as_array();
  if (!arr) return Error::invalid_param("config: alerts.rules is a list of tables ([[alerts.rules]])");
  static const std::set<std::string> kRuleKeys = {"name", "signal", "threshold", "window_seconds",
                                                   "severity"};
  std::vector<AlertRule> rules;
  for (auto&& v : *arr) {
    auto* rt = v.as_table();
    if (!rt) return Error::invalid_param("config: alerts.rules is a list of tables ([[alerts.rules]])");
    for (auto&& [k, _] : *rt)
      if (!kRuleKeys.count(std::string(k.str())))
        return Error::invalid_param("config: alerts.rules: unknown option " + std::string(k.str()));
    AlertRule r;
    DS_TRY(read(*rt, "name", r.name));
    DS_TRY(read(*rt, "signal", r.signal));
    DS_TRY(read(*rt, "threshold", r.threshold));
    DS_TRY(read(*rt, "window_seconds", r.window_seconds));
    DS_TRY(read(*rt, "severity", r.severity));
    rules.push_back(std::move(r));
  }
  out.rules = std::move(rules);
  return check_alerts(out);
}

}  // namespace

std::string Federation::listen_host() const {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return "";
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return host;
}

uint16_t Federation::listen_port() const {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) return 0;
  std::string port = listen.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return 0;
  int n = std::stoi(port);
  return n <= 65535 ? static_cast<uint16_t>(n) : 0;
}

Status check_federation(const Federation& f) {
  if (f.listen_host().empty() || (f.listen_port() == 0 && f.listen.substr(f.listen.rfind(':') + 1) != "0"))
    return Error::invalid_param("config: federation.listen wants HOST:PORT, not " + f.listen);
  for (const auto& name : f.allow)
    if (name != "*" && !parse_server_name(name))
      return Error::invalid_param("config: federation.allow: " + name + " is not a server name");
  if (f.enabled && (f.tls_cert_file.empty() || f.tls_key_file.empty()))
    return Error::invalid_param("config: federation needs tls_cert_file and tls_key_file (the listener is TLS only)");
  return ok_status();
}

Status check_classification(const Config& c) {
  const Classification& cl = c.classification;
  auto upper = [](std::string s) {
    for (auto& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return s;
  };
  auto level = [&](const std::string& m) { return std::find(cl.levels.begin(), cl.levels.end(), m) != cl.levels.end(); };
  if (cl.levels.empty()) return Error::invalid_param("config: classification.levels must name at least one marking");
  for (const auto& m : cl.levels) {
    if (m.empty() || m.find_first_of("[]\n") != std::string::npos)
      return Error::invalid_param("config: classification.levels holds an empty or bracketed marking");
    for (const auto& r : cl.refused)
      if (upper(m) == upper(r)) return Error::invalid_param("config: " + m + " is both a level and refused");
  }
  for (const auto& r : cl.refused)
    if (r.empty()) return Error::invalid_param("config: classification.refused holds an empty marking");
  if (!level(cl.default_marking))
    return Error::invalid_param("config: classification.default must be one of classification.levels");
  if (!level(cl.maximum)) return Error::invalid_param("config: classification.maximum must be one of classification.levels");
  auto rank = [&](const std::string& m) { return std::find(cl.levels.begin(), cl.levels.end(), m) - cl.levels.begin(); };
  if (rank(cl.default_marking) > rank(cl.maximum))
    return Error::invalid_param("config: classification.default is above classification.maximum");
  for (const auto& [server, marking] : c.federation.max_classification) {
    if (server != "*" && !parse_server_name(server))
      return Error::invalid_param("config: federation.max_classification: " + server + " is not a server name");
    if (!level(marking))
      return Error::invalid_param("config: federation.max_classification: " + marking + " is not one of classification.levels");
  }
  return ok_status();
}

Result<Config> load_config_file(const std::string& path) {
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return Error::invalid_param("config " + path + ": " + std::string(e.description()));
  }
  static const std::set<std::string> kKnown = {
      "server_name", "public_baseurl", "data_dir", "log_level", "io_threads",
      "listen.address", "listen.port",
      "registration.open", "registration.min_password_length",
      "limits.max_request_bytes", "limits.max_sync_timeout_ms",
      "rooms.default_version",
      "rate_limit.enabled", "rate_limit.per_second", "rate_limit.burst",
      "rate_limit.login_per_second", "rate_limit.login_burst",
      "records.public_key_file", "records.checkpoint_every", "records.checkpoint_seconds", "records.peer_witness_seconds",
      "records.retention_days", "records.retention_direct_days", "records.retention_group_days",
      "records.retention_check_seconds", "records.keeper", "records.keeper_localpart",
      "records.keeper_exclude",
      "media.max_upload_bytes", "media.allowed_types", "media.legacy_unauthenticated",
      "media.thumbnails", "media.max_thumbnail_pixels", "media.worker_threads",
      "media.unused_upload_seconds", "media.max_pending_uploads", "media.max_user_bytes", "media.max_download_wait_ms",
      "media.remote_retention_days", "media.cleanup_seconds", "media.antivirus",
      "media.clamd_socket", "media.clamd_timeout_seconds", "media.scan_on_download",
      "federation.enabled", "federation.listen", "federation.tls_cert_file", "federation.tls_key_file",
      "federation.ca_file", "federation.verify_tls", "federation.allow",
      "classification.levels", "classification.default", "classification.maximum",
      "classification.descriptors", "classification.refused", "classification.refused_advice",
      "classification.label_default",
      "announce.base_url", "announce.allow_http", "announce.ca_file", "announce.verify_tls",
      "announce.show_matrix_ids", "announce.page_size", "announce.max_attempts", "announce.retry_seconds",
      "alerts.enabled", "alerts.rules", "metrics.listen",
      "admin.registration_shared_secret", "admin.registration_shared_secret_file",
      "oidc.issuer", "oidc.client_id", "oidc.client_secret_file", "oidc.scopes",
      "oidc.localpart_claim", "oidc.display_name_claim", "oidc.idp_name", "oidc.ca_file",
      "oidc.access_token_seconds", "oidc.trusted_client_hosts",
      "login.password_for_sso_users"};
  std::set<std::string> keys;
  collect_keys(t, "", keys);
  for (auto& k : keys) {
    if (k.rfind("records.retention_rooms.", 0) == 0) continue;
    if (k.rfind("federation.max_classification.", 0) == 0) continue;
    if (!kKnown.count(k)) return Error::invalid_param("config " + path + ": unknown option " + k);
  }

  Config c;
  DS_TRY(read(t, "server_name", c.server_name));
  DS_TRY(read(t, "public_baseurl", c.public_baseurl));
  DS_TRY(read(t, "data_dir", c.data_dir));
  DS_TRY(read(t, "log_level", c.log_level));
  DS_TRY(read(t, "io_threads", c.io_threads));
  DS_TRY(read(t, "listen.address", c.listen_address));
  DS_TRY(read(t, "listen.port", c.listen_port));
  DS_TRY(read(t, "registration.open", c.open_registration));
  DS_TRY(read(t, "registration.min_password_length", c.min_password_length));
  DS_TRY(read(t, "limits.max_request_bytes", c.max_request_bytes));
  DS_TRY(read(t, "limits.max_sync_timeout_ms", c.max_sync_timeout_ms));
  DS_TRY(read(t, "rooms.default_version", c.default_room_version));
  DS_TRY(read(t, "rate_limit.enabled", c.rate_limit_enabled));
  DS_TRY(read(t, "rate_limit.per_second", c.rate_limit_per_second));
  DS_TRY(read(t, "rate_limit.burst", c.rate_limit_burst));
  DS_TRY(read(t, "rate_limit.login_per_second", c.login_rate_per_second));
  DS_TRY(read(t, "rate_limit.login_burst", c.login_rate_burst));
  DS_TRY(read(t, "records.public_key_file", c.records_public_key_file));
  DS_TRY(read(t, "admin.registration_shared_secret", c.admin_registration_shared_secret));
  DS_TRY(read(t, "admin.registration_shared_secret_file", c.admin_registration_shared_secret_file));
  DS_TRY(read(t, "records.checkpoint_every", c.records_checkpoint_every));
  DS_TRY(read(t, "records.checkpoint_seconds", c.records_checkpoint_seconds));
  DS_TRY(read(t, "records.peer_witness_seconds", c.records_peer_witness_seconds));
  DS_TRY(read(t, "records.retention_days", c.retention_days));
  if (c.retention_days < 0) return Error::invalid_param("config: records.retention_days must be 0 or more");
  DS_TRY(read(t, "records.retention_check_seconds", c.retention_check_seconds));
  DS_TRY(read(t, "records.keeper", c.records_keeper));
  DS_TRY(read(t, "records.keeper_localpart", c.records_keeper_localpart));
  {
    std::vector<std::string> kinds;
    auto st = read_string_list(t, "records.keeper_exclude", kinds,
                               "config: records.keeper_exclude must be a list of room kinds");
    // A non-string entry is named like an unknown kind, as before.
    if (!st.ok() && t.at_path("records.keeper_exclude").as_array())
      return Error::invalid_param("config: records.keeper_exclude holds \"direct\" and/or \"group\"");
    DS_TRY(st);
    for (auto& kind : kinds)
      if (kind != "direct" && kind != "group")
        return Error::invalid_param("config: records.keeper_exclude holds \"direct\" and/or \"group\"");
    c.records_keeper_exclude = std::move(kinds);
  }
  if (c.records_keeper_localpart.empty() ||
      c.records_keeper_localpart.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789._=-/") != std::string::npos)
    return Error::invalid_param("config: records.keeper_localpart is not a valid user localpart");
  for (auto [key, out] : {std::pair{"records.retention_direct_days", &c.retention_direct_days},
                          std::pair{"records.retention_group_days", &c.retention_group_days}}) {
    if (auto node = t.at_path(key)) {
      auto v = node.value<double>();
      if (!v || (*v < 0 && *v != -1)) return Error::invalid_param(std::string("config: wrong value for ") + key);
      *out = *v;
    }
  }
  if (auto* rooms = t.at_path("records.retention_rooms").as_table()) {
    for (auto&& [room, days] : *rooms) {
      auto v = days.value<double>();
      if (!v || *v < 0) return Error::invalid_param("config: records.retention_rooms values are days (0: for ever)");
      c.retention_room_days[std::string(room.str())] = *v;
    }
  }
  Media& m = c.media;
  DS_TRY(read(t, "media.max_upload_bytes", m.max_upload_bytes));
  DS_TRY(read(t, "media.legacy_unauthenticated", m.legacy_unauthenticated));
  DS_TRY(read(t, "media.thumbnails", m.thumbnails));
  DS_TRY(read(t, "media.max_thumbnail_pixels", m.max_thumbnail_pixels));
  DS_TRY(read(t, "media.worker_threads", m.worker_threads));
  DS_TRY(read(t, "media.unused_upload_seconds", m.unused_upload_seconds));
  DS_TRY(read(t, "media.max_pending_uploads", m.max_pending_uploads));
  DS_TRY(read(t, "media.max_user_bytes", m.max_user_bytes));
  DS_TRY(read(t, "media.max_download_wait_ms", m.max_download_wait_ms));
  DS_TRY(read(t, "media.remote_retention_days", m.remote_retention_days));
  DS_TRY(read(t, "media.cleanup_seconds", m.cleanup_seconds));
  DS_TRY(read(t, "media.antivirus", m.antivirus));
  DS_TRY(read(t, "media.clamd_socket", m.clamd_socket));
  DS_TRY(read(t, "media.clamd_timeout_seconds", m.clamd_timeout_seconds));
  DS_TRY(read(t, "media.scan_on_download", m.scan_on_download));
  DS_TRY(read_string_list(t, "media.allowed_types", m.allowed_types,
                          "config: media.allowed_types must be a list of strings"));
  Federation& f = c.federation;
  DS_TRY(read(t, "federation.enabled", f.enabled));
  DS_TRY(read(t, "federation.listen", f.listen));
  DS_TRY(read(t, "federation.tls_cert_file", f.tls_cert_file));
  DS_TRY(read(t, "federation.tls_key_file", f.tls_key_file));
  DS_TRY(read(t, "federation.ca_file", f.ca_file));
  DS_TRY(read(t, "federation.verify_tls", f.verify_tls));
  DS_TRY(read_string_list(t, "federation.allow", f.allow,
                          "config: federation.allow must be a list of server names"));
  if (auto* caps = t.at_path("federation.max_classification").as_table()) {
    for (auto&& [server, marking] : *caps) {
      auto v = marking.value<std::string>();
      if (!v) return Error::invalid_param("config: federation.max_classification values are markings");
      f.max_classification[std::string(server.str())] = *v;
    }
  }
  DS_TRY(check_federation(f));
  Classification& cl = c.classification;
  DS_TRY(read_string_list(t, "classification.levels", cl.levels,
                          "config: classification.levels must be a list of markings"));
  DS_TRY(read_string_list(t, "classification.descriptors", cl.descriptors,
                          "config: classification.descriptors must be a list of strings"));
  DS_TRY(read_string_list(t, "classification.refused", cl.refused,
                          "config: classification.refused must be a list of markings"));
  DS_TRY(read(t, "classification.default", cl.default_marking));
  DS_TRY(read(t, "classification.maximum", cl.maximum));
  DS_TRY(read(t, "classification.refused_advice", cl.refused_advice));
  DS_TRY(read(t, "classification.label_default", cl.label_default));
  DS_TRY(check_classification(c));
  Announce& a = c.announce;
  DS_TRY(read(t, "announce.base_url", a.base_url));
  DS_TRY(read(t, "announce.allow_http", a.allow_http));
  DS_TRY(read(t, "announce.ca_file", a.ca_file));
  DS_TRY(read(t, "announce.verify_tls", a.verify_tls));
  DS_TRY(read(t, "announce.show_matrix_ids", a.show_matrix_ids));
  DS_TRY(read(t, "announce.page_size", a.page_size));
  DS_TRY(read(t, "announce.max_attempts", a.max_attempts));
  DS_TRY(read(t, "announce.retry_seconds", a.retry_seconds));
  DS_TRY(read(t, "alerts.enabled", c.alerts.enabled));
  DS_TRY(read_alert_rules(t, c.alerts));
  DS_TRY(read(t, "metrics.listen", c.metrics.listen));
  DS_TRY(check_metrics(c.metrics));
  Oidc& o = c.oidc;
  DS_TRY(read(t, "oidc.issuer", o.issuer));
  DS_TRY(read(t, "oidc.client_id", o.client_id));
  DS_TRY(read(t, "oidc.client_secret_file", o.client_secret_file));
  DS_TRY(read_string_list(t, "oidc.scopes", o.scopes, "config: oidc.scopes must be a list of strings"));
  DS_TRY(read(t, "oidc.localpart_claim", o.localpart_claim));
  DS_TRY(read(t, "oidc.display_name_claim", o.display_name_claim));
  DS_TRY(read(t, "oidc.idp_name", o.idp_name));
  DS_TRY(read(t, "oidc.ca_file", o.ca_file));
  DS_TRY(read(t, "oidc.access_token_seconds", o.access_token_seconds));
  DS_TRY(read_string_list(t, "oidc.trusted_client_hosts", o.trusted_client_hosts,
                          "config: oidc.trusted_client_hosts must be a list of host names"));
  DS_TRY(read(t, "login.password_for_sso_users", c.login.password_for_sso_users));
  DS_TRY(check_oidc(o));
  if (!a.base_url.empty() && a.base_url.rfind("https://", 0) != 0 && a.base_url.rfind("http://", 0) != 0)
    return Error::invalid_param("config: announce.base_url must start with https:// (or http://)");
  while (!a.base_url.empty() && a.base_url.back() == '/') a.base_url.pop_back();
  if (a.page_size < 1 || a.page_size > 200) return Error::invalid_param("config: announce.page_size must be 1 to 200");
  if (a.max_attempts < 1) return Error::invalid_param("config: announce.max_attempts must be positive");
  if (a.retry_seconds < 1) return Error::invalid_param("config: announce.retry_seconds must be positive");
  if (m.worker_threads < 1) m.worker_threads = 1;
  if (m.max_upload_bytes < 1) return Error::invalid_param("config: media.max_upload_bytes must be positive");
  if (c.default_room_version != "10" && c.default_room_version != "11")
    return Error::invalid_param("config: rooms.default_version must be \"10\" or \"11\"");
  if (c.io_threads < 1) c.io_threads = 1;
  return c;
}

}  // namespace despatch
