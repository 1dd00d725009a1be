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

const char* example_config() {
  return R"(# Despatch example configuration. Every option is shown with its default.
# Command-line flags to `despatch serve` override what is set here.

# The name in every user and room ID (@alice:SERVER_NAME). Cannot change once users exist.
server_name = "localhost"

# Base URL clients should use, advertised in /.well-known/matrix/client.
# Empty means http://<listen.address>:<listen.port>.
public_baseurl = ""

# Where the database, signing key and other state live.
data_dir = "./data"

# debug, info, warn or error.
log_level = "info"

# Threads serving HTTP. Writes always go through one writer thread.
io_threads = 2

[listen]
address = "127.0.0.1"
port = 8008

[registration]
# Open self-registration (m.login.dummy). Off: administrators create accounts with
# `despatch user add NAME`.
open = false
min_password_length = 8

[limits]
# Largest request body accepted; larger ones get M_TOO_LARGE (413).
max_request_bytes = 1048576
# Longest a /sync long-poll may park, whatever the client asks.
max_sync_timeout_ms = 60000

[rooms]
# Room version for new rooms: "10" or "11".
default_version = "11"

[rate_limit]
# Token bucket per user (or per address before login). Over the limit: M_LIMIT_EXCEEDED (429).
enabled = true
per_second = 10.0
burst = 50.0
# Stricter bucket for login and registration attempts, per address.
login_per_second = 1.0
login_burst = 10.0

[admin]
# Shared-secret registration as Synapse's admin API offers it (POST /_synapse/admin/v1/register
# with an HMAC-SHA1 of the nonce, user, password and admin flag), for existing provisioning
# scripts. Off while both are empty. Prefer the file (first line, mode 0600) to the inline value.
registration_shared_secret = ""
registration_shared_secret_file = ""

[records]
# The records office's public key (a file holding base64, from `despatch records keygen`).
# Every event is sealed to it in the archive; the matching secret key stays offline with
# the records office and is needed only to export. Empty: <data_dir>/records_office.pub
# (`despatch records keygen --out DIR --data DATA_DIR` puts it there). With neither, the
# first start makes a pair, keeps the public half there and prints the secret half once.
public_key_file = ""
# The heads of the archive, the audit log and the data keys are signed this often (seconds)
# while records arrive, and at shutdown; witnesses pull these signed heads. One checkpoint
# is kept for good every checkpoint_every records or five minutes; the others are replaced
# by the next.
checkpoint_seconds = 1
checkpoint_every = 1000
# With federation on, the newest signed head goes this often (seconds) to every approved
# server in [federation] allow, which keeps it as a witness; 0: never.
peer_witness_seconds = 300
# How long archived records are kept, in days (fractions allowed); 0 keeps them for ever.
# A record is deleted (leaving a tombstone that keeps the hash chain verifiable) only when
# its period has ended and no legal hold covers it.
retention_days = 0
# Periods for direct chats and for group rooms; -1 uses retention_days.
retention_direct_days = -1
retention_group_days = -1
# How often (seconds) the server looks for expired records.
retention_check_seconds = 3600

# The records keeper (@records:SERVER_NAME): a visible member of every room it covers, whose
# device receives end-to-end encryption room keys like any member's so that the decrypted
# messages are sealed into the archive beside their ciphertext. Users cannot kick, ban or
# demote it. Its keys are stored encrypted with <data_dir>/keeper.key.
keeper = true
keeper_localpart = "records"
# Room kinds it stays out of: "direct" (direct chats) and/or "group".
keeper_exclude = []

# Periods for single rooms override everything above, e.g.
# [records.retention_rooms]
# "!abcdefghijklmnopqr:example.gov" = 3650

[media]
# Largest upload accepted (bytes); larger ones get M_TOO_LARGE (413). JSON endpoints keep
# limits.max_request_bytes.
max_upload_bytes = 52428800
# Content types accepted, checked against the type sniffed from the bytes (libmagic), not
# the one the client claims. "type/*" allows a family. Anything else: M_FORBIDDEN (403).
# application/octet-stream is what end-to-end encrypted attachments look like.
allowed_types = ["image/jpeg", "image/png", "image/gif", "image/webp", "image/avif",
  "image/heic", "image/heif", "image/tiff", "image/bmp", "audio/*", "video/*",
  "application/ogg", "text/plain", "text/csv", "application/pdf", "application/json",
  "application/zip", "application/msword", "application/vnd.ms-excel",
  "application/vnd.ms-powerpoint", "application/vnd.openxmlformats-officedocument.*",
  "application/vnd.oasis.opendocument.*", "application/octet-stream"]
# Also serve media uploaded from now on through the deprecated unauthenticated
# /_matrix/media/v3/download and /thumbnail routes. Off, new media is only served through
# the authenticated /_matrix/client/v1/media routes (the "freeze" of spec 1.11); media
# uploaded while this was on stays reachable there.
legacy_unauthenticated = false
# Thumbnails (libvips, generated once per size and cached).
thumbnails = true
# Images with more pixels than this get M_TOO_LARGE instead of a thumbnail.
max_thumbnail_pixels = 40000000
# Worker threads for sniffing, hashing, scanning and thumbnails (never the HTTP threads).
worker_threads = 2
# How long an mxc:// URI from /_matrix/media/v1/create waits for its upload (seconds), and
# how many such pending uploads one user may have.
unused_upload_seconds = 86400
max_pending_uploads = 10
# Total bytes one user may have uploaded; past it uploads get M_FORBIDDEN (0: no limit).
max_user_bytes = 0
# Longest a download of a not yet uploaded file waits, whatever timeout_ms asks (ms).
max_download_wait_ms = 60000
# Media cached from other servers and not downloaded for this many days is deleted
# (0: keep for ever). Checked every cleanup_seconds, with expired pending uploads.
remote_retention_days = 30
cleanup_seconds = 3600
# Antivirus: stream every upload to a ClamAV daemon (clamd) before storing it. Infected files
# are refused with M_FORBIDDEN and logged; while clamd cannot be reached uploads are refused.
# clamd refuses streams longer than its StreamMaxLength (25M in Debian's clamd.conf): set
# that to at least max_upload_bytes, or larger uploads are refused as unscannable.
antivirus = false
clamd_socket = "/var/run/clamav/clamd.ctl"
clamd_timeout_seconds = 30
# Scan again before every download (catches files that newer signatures recognise).
scan_on_download = false

[federation]
# Federation with other servers (server-server API) on a TLS listener of its own, serving
# /_matrix/federation/* and /_matrix/key/*. Off by default. `despatch serve` flags:
# --federation-listen, --federation-allow (repeatable), --tls-cert, --tls-key.
enabled = false
# Address of the TLS listener, "host:port". Other servers find it from the server name
# (an explicit port, /.well-known/matrix/server, or 8448 by default).
listen = "0.0.0.0:8448"
# The listener's certificate chain and private key (PEM). Both are required when enabled.
tls_cert_file = ""
tls_key_file = ""
# CA certificates (PEM) trusted for outgoing connections instead of the system's CAs
# (a department's own CA, for example). Empty: the system CAs.
ca_file = ""
# Check other servers' certificates (chain and host name or IP address). Setting this to
# false accepts any certificate: it is logged as a warning at every start; never do it in
# production.
verify_tls = true
# The server names this server federates with. Empty: nobody. "*": anyone. A server not
# listed is never contacted, and each of its requests gets M_FORBIDDEN (403), is counted in
# the admin metrics (federation_refused_not_allowed) and audited (federation.refused, at
# most one entry per server per minute; the rest are counted).
allow = []
# The highest classification (one of classification.levels) a room may have to be shared
# with a server: invites to its users and its servers' joins, invites and knocks of rooms
# above it are refused, and a room it shares cannot be raised above it. "*" covers every
# server not named; servers with no entry take classification.maximum. For example:
# [federation.max_classification]
# "dept-b.example.gov" = "OFFICIAL"

[classification]
# Protective markings, lowest first. Every room has one (the gov.despatch.classification
# state event, content {"marking": "OFFICIAL", "descriptors": ["PERSONAL"]}); room admins
# raise or lower it. A message may carry its own under the same key in its content, never
# above its room's. The records archive keeps each record's marking.
levels = ["OFFICIAL", "OFFICIAL-SENSITIVE"]
# The marking of a room without a classification event.
default = "OFFICIAL"
# The highest marking this server carries; rooms and messages above it are refused (403).
maximum = "OFFICIAL-SENSITIVE"
# Descriptors that may go with a marking.
descriptors = ["PERSONAL", "COMMERCIAL", "LOCSEN"]
# Markings always refused: as a room's or message's marking, and as the first line of an
# unencrypted message or file name ("SECRET", "TOP SECRET UK EYES ONLY", any case). Each
# attempt is refused with M_FORBIDDEN and audited as suspicious.classification.
refused = ["SECRET", "TOP SECRET"]
# Told to whoever tries, after what was refused.
refused_advice = "Send it only through your department's approved systems for SECRET and TOP SECRET information, and ask your security team if you are unsure."
# Rooms show their marking at the start of their topic ("[OFFICIAL-SENSITIVE] ..."); the
# default marking is shown too only when this is true (OFFICIAL need not be marked).
label_default = false

[alerts]
# Suspicious activity: each rule counts one signal per user and raises an alert when
# `threshold` of them fall within `window_seconds`. Each alert is written to the audit log
# (alert.RULE), listed by GET /_despatch/admin/v1/alerts and counted in the metrics. A
# [[alerts.rules]] list replaces the rules below. Signals: login.failed, token.deactivated,
# keeper.removal, classification.refused, redaction.own, room.join, media.download.
enabled = true
# [[alerts.rules]]
# name = "failed_logins"
# signal = "login.failed"
# threshold = 5
# window_seconds = 300
# severity = "medium"        # low | medium | high
# Shipped: failed_logins (login.failed, 5 in 300 s), leaver_token (token.deactivated, 1),
# keeper_removal (keeper.removal, 1), refused_classification (classification.refused, 1),
# mass_redaction (redaction.own, 20 in 600 s), room_join_burst (room.join, 10 in 300 s),
# bulk_media_download (media.download, 200 in 600 s).

[metrics]
# Prometheus text format at http://LISTEN/metrics, on a listener of its own with no
# authentication: keep it on loopback or a monitoring network. Empty: off.
listen = ""

[oidc]
# Single sign-on with the department's OpenID Connect provider (Entra ID, Keycloak, ...).
# Empty issuer: off. Despatch's redirect URI at the provider is
# <public_baseurl>/_despatch/oidc/callback. The issuer must be https (plain http is accepted
# only for loopback addresses, for tests); discovery reads <issuer>/.well-known/openid-configuration.
issuer = ""
client_id = ""
# A file holding the client secret (not the secret itself).
client_secret_file = ""
scopes = ["openid", "profile", "email"]
# The ID token claim whose value (up to any '@', lower-cased) becomes the localpart of the
# account made at first login, and the claim giving its display name.
localpart_claim = "preferred_username"
display_name_claim = "name"
# The name clients show on the single sign-on button.
idp_name = "Single sign-on"
# CA certificates (PEM) trusted for the provider's https instead of the system's.
ca_file = ""
# Lifetime of access tokens issued through the OAuth 2.0 API (clients refresh them).
access_token_seconds = 300
# The legacy m.login.sso flow sends a login token to the client's redirectUrl: straight away
# for these hosts (e.g. ["element.dept.example"]), after asking the user for any other.
trusted_client_hosts = []

[login]
# false: accounts made by single sign-on cannot log in with a password; accounts made with
# `despatch user add` always can.
password_for_sso_users = true

[announce]
# Public announcements: rooms marked with `despatch announce create` publish their posts
# over ActivityPub (followable from Mastodon as @HANDLE@SERVER_NAME), as an Atom feed and as
# an HTML page. The public https:// origin of this server's client listener (behind a
# reverse proxy that terminates TLS). Empty: https://<server_name>.
base_url = ""
# Outgoing deliveries and key fetches use https; plain http only to loopback addresses
# unless this is on (never in production).
allow_http = false
# CA certificates (PEM) trusted for outgoing https instead of the system's. Empty: the system CAs.
ca_file = ""
verify_tls = true
# Name the Matrix user who wrote each post. Off: posts speak only as the channel.
show_matrix_ids = false
# Posts per outbox page, Atom feed and HTML page.
page_size = 20
# Delivery to a follower's inbox is retried after retry_seconds, doubling up to 6 hours, and
# dropped after max_attempts tries.
max_attempts = 12
retry_seconds = 30
)";
}

}  // namespace despatch
