// Server configuration: defaults that run a working server with no file, a TOML file that
// overrides them, and command-line flags that override both.
#pragma once

#include "core/result.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace despatch {

// The content repository ([media] in the config file).
struct Media {
  size_t max_upload_bytes = 50 << 20;  // larger uploads get M_TOO_LARGE (413)
  // Content types accepted, checked against what libmagic sniffs from the bytes (not what
  // the client claims). "type/*" matches a whole family. application/octet-stream covers
  // end-to-end encrypted attachments, which are opaque to the server.
  std::vector<std::string> allowed_types = {
      "image/jpeg", "image/png", "image/gif", "image/webp", "image/avif", "image/heic",
      "image/heif", "image/tiff", "image/bmp", "audio/*", "video/*", "application/ogg",
      "text/plain", "text/csv", "application/pdf", "application/json", "application/zip",
      "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
      "application/vnd.openxmlformats-officedocument.*", "application/vnd.oasis.opendocument.*",
      "application/octet-stream"};
  // Serve media uploaded from now on through the deprecated unauthenticated /_matrix/media/v3
  // download and thumbnail routes too. Off: new media is frozen out of them, as spec 1.11
  // recommends (media uploaded while this was on stays reachable there).
  bool legacy_unauthenticated = false;
  bool thumbnails = true;
  int64_t max_thumbnail_pixels = 40'000'000;  // larger images: M_TOO_LARGE instead of a thumbnail
  int64_t worker_threads = 2;              // the worker pool for sniffing, hashing, scanning
  int64_t unused_upload_seconds = 86400;      // lifetime of an mxc:// URI from /create
  int64_t max_pending_uploads = 10;           // per user, from /create, not yet uploaded
  int64_t max_user_bytes = 0;  // total size one user may store; past it M_FORBIDDEN (0: no limit)
  int64_t max_download_wait_ms = 60'000;      // cap on a download's timeout_ms
  // Cached media from other servers not downloaded for this many days is deleted (0: never).
  int64_t remote_retention_days = 30;
  int64_t cleanup_seconds = 3600;             // how often expired media is looked for
  // ClamAV: every upload is streamed to clamd (INSTREAM) before it is stored; infected files
  // are refused with M_FORBIDDEN and logged. With the scanner down, uploads are refused.
  bool antivirus = false;
  std::string clamd_socket = "/var/run/clamav/clamd.ctl";
  int64_t clamd_timeout_seconds = 30;
  bool scan_on_download = false;  // also scan again before serving (signatures may be newer)
};

// Federation with other departments' servers ([federation] in the config file).
struct Federation {
  bool enabled = false;
  std::string listen = "0.0.0.0:8448";  // the TLS listener, "host:port"
  std::string tls_cert_file;  // PEM certificate chain the listener presents
  std::string tls_key_file;   // its PEM private key
  // CA certificates (PEM) that outgoing connections trust instead of the system's. Empty:
  // the system CAs.
  std::string ca_file;
  // Check the certificates of the servers we connect to (chain and name). Turning this off
  // must be said in the config and is logged as a warning at every start.
  bool verify_tls = true;
  // Server names federated with: empty federates with nobody, "*" with anyone. Others are
  // never contacted and their requests get M_FORBIDDEN.
  std::vector<std::string> allow;
  // The highest classification a room may have to be shared with a server
  // ([federation.max_classification], server name -> marking; "*" for every server not
  // named). Unnamed servers take the server's own maximum.
  std::map<std::string, std::string> max_classification;

  std::string listen_host() const;  // the parts of listen; "" / 0 when it is malformed
  uint16_t listen_port() const;
};

// Protective markings ([classification] in the config file). Defaults: the UK Government
// Security Classifications as far as a messaging service may carry them.
struct Classification {
  std::vector<std::string> levels = {"OFFICIAL", "OFFICIAL-SENSITIVE"};  // lowest first
  std::string default_marking = "OFFICIAL";    // a room without a classification event
  std::string maximum = "OFFICIAL-SENSITIVE";  // the highest a room or message may carry
  std::vector<std::string> descriptors = {"PERSONAL", "COMMERCIAL", "LOCSEN"};
  // Markings never accepted, as a room's or message's marking or as the first line of an
  // unencrypted message or file name.
  std::vector<std::string> refused = {"SECRET", "TOP SECRET"};
  // What an official is told to do instead when a refused marking is refused.
  std::string refused_advice =
      "Send it only through your department's approved systems for SECRET and TOP SECRET "
      "information, and ask your security team if you are unsure.";
  // Show the default marking in room topics too (off: only rooms marked above it, or with
  // descriptors, carry a label, as OFFICIAL information need not be marked).
  bool label_default = false;
};

// Public announcements over ActivityPub, Atom and HTML ([announce] in the config file).
struct Announce {
  // The public https:// origin the channels' ActivityPub IDs and pages live under (a reverse
  // proxy in front of the client listener). Empty: https://<server_name>.
  std::string base_url;
  // Deliveries and key fetches go over https only; plain http is allowed to loopback
  // addresses (tests, a local relay) and, with this on, anywhere (never in production).
  bool allow_http = false;
  std::string ca_file;     // CAs trusted for outgoing https instead of the system's
  bool verify_tls = true;  // false: any certificate is accepted (logged at every start)
  bool show_matrix_ids = false;  // posts name the Matrix user who wrote them
  int64_t page_size = 20;        // posts per outbox page, feed and HTML page
  int64_t max_attempts = 12;     // a delivery still failing after this many tries is dropped
  int64_t retry_seconds = 30;    // first retry delay; doubled after each failure, up to 6 hours
};

// One rule of the suspicious-activity engine ([[alerts.rules]] in the config file): it fires
// when one user produces `threshold` signals named `signal` within `window_seconds`.
struct AlertRule {
  std::string name;
  std::string signal;
  int64_t threshold = 1;
  int64_t window_seconds = 60;
  std::string severity = "medium";  // low | medium | high
};

// The signals the server produces, and the rules shipped when the config names none.
const std::vector<std::string>& alert_signals();
std::vector<AlertRule> default_alert_rules();

struct Alerts {
  bool enabled = true;
  std::vector<AlertRule> rules = default_alert_rules();
};

// Prometheus metrics ([metrics] in the config file), on a listener of their own.
struct Metrics {
  std::string listen;  // HOST:PORT; empty: no metrics listener
  std::string host() const;  // the parts of listen; "" / 0 when it is malformed
  uint16_t port() const;
};
Status check_metrics(const Metrics& m);

// Single sign-on against the department's OpenID Connect provider ([oidc] in the config
// file). Off while issuer is empty.
struct Oidc {
  std::string issuer;              // e.g. https://login.microsoftonline.com/TENANT/v2.0
  std::string client_id;           // Despatch's client at the provider
  std::string client_secret_file;  // file holding the client secret (trailing newline dropped)
  std::vector<std::string> scopes = {"openid", "profile", "email"};
  std::string localpart_claim = "preferred_username";  // part before any '@' becomes the localpart
  std::string display_name_claim = "name";
  std::string idp_name = "Single sign-on";  // shown by clients on the login button
  std::string ca_file;  // CAs trusted for the provider's https instead of the system's
  int64_t access_token_seconds = 300;  // lifetime of OAuth 2.0 access tokens (refreshed by clients)
  // Hosts of web clients (the department's Element Web) the legacy flow hands a login token
  // to straight away; for any other redirectUrl the user is asked first.
  std::vector<std::string> trusted_client_hosts;
  bool enabled() const { return !issuer.empty(); }
};

// Password login ([login] in the config file).
struct Login {
  // false: accounts that single sign-on made cannot log in with a password (accounts made
  // with `despatch user add` always can).
  bool password_for_sso_users = true;
};

struct Config {
  std::string server_name = "localhost";
  std::string listen_address = "127.0.0.1";
  uint16_t listen_port = 8008;
  std::string data_dir = "./data";
  std::string log_level = "info";
  int io_threads = 2;
  std::string public_baseurl;  // advertised in .well-known; derived from listen if empty

  bool open_registration = false;
  size_t min_password_length = 8;

  size_t max_request_bytes = 1 << 20;  // whole request body
  int64_t max_sync_timeout_ms = 60'000;
  std::string default_room_version = "11";

  bool rate_limit_enabled = true;
  double rate_limit_per_second = 10;  // sustained requests per second per user or address
  double rate_limit_burst = 50;       // bucket size
  double login_rate_per_second = 1;   // login and register attempts per address
  double login_rate_burst = 10;

  // Records: the records office's public key (base64 file); empty means
  // <data_dir>/records_office.pub (made on first start if missing; the secret half is shown
  // once, never stored).
  std::string records_public_key_file;
  // [admin]: Synapse-compatible shared-secret registration (/_synapse/admin/v1/register);
  // off while both are empty. The file's first line wins over the inline secret.
  std::string admin_registration_shared_secret;
  std::string admin_registration_shared_secret_file;
  int64_t records_checkpoint_every = 1000;    // records between durable signed checkpoints
  int64_t records_checkpoint_seconds = 1;     // the heads are signed this often while they move
  int64_t records_peer_witness_seconds = 300;  // the newest signed head goes to approved servers
  // Retention of archived records, in days (0: keep for ever). Direct chats and group rooms
  // may have their own periods (-1: use the default); single rooms override both.
  // Days may be fractional (0.5: twelve hours).
  double retention_days = 0;
  double retention_direct_days = -1;
  double retention_group_days = -1;
  std::map<std::string, double> retention_room_days;
  int64_t retention_check_seconds = 3600;  // how often expired records are looked for

  // The records keeper: a visible member of every covered room whose device receives room
  // keys like any member's, so that end-to-end encrypted messages reach the archive
  // decrypted. Covered: every room made on this server except the kinds excluded here
  // ("direct", "group").
  bool records_keeper = true;
  std::string records_keeper_localpart = "records";
  std::vector<std::string> records_keeper_exclude;

  // The keeper's user ID, or "" when the keeper is off.
  std::string keeper_user_id() const {
    return records_keeper ? "@" + records_keeper_localpart + ":" + server_name : "";
  }

  Media media;
  Federation federation;
  Classification classification;
  Announce announce;
  Alerts alerts;
  Metrics metrics;
  Oidc oidc;
  Login login;

  // The URL clients reach this server at: public_baseurl, or http://<listen> when empty;
  // no trailing slash.
  std::string base_url() const;
};

// Checks [[alerts.rules]]: names unique and non-empty, known signals, positive thresholds and
// windows, severities low, medium or high.
Status check_alerts(const Alerts& a);

// Checks [federation] after the file and the flags: listen is HOST:PORT, allow holds server
// names or "*", and an enabled listener has its certificate and key.
Status check_federation(const Federation& f);
// Checks [classification] and [federation.max_classification]: the default and the maximum
// are levels (default not above maximum), no level is also refused, every server cap names
// a server (or "*") and a level.
Status check_classification(const Config& c);

// Checks [oidc]: issuer an https URL (http only to loopback), client_id and
// client_secret_file set when the issuer is, claims named.
Status check_oidc(const Oidc& o);

// Loads `path` (TOML) over the defaults. Unknown keys are an error so typos do not pass silently.
Result<Config> load_config_file(const std::string& path);

// The fully commented example config printed by `despatch config example`.
const char* example_config();

}  // namespace despatch
