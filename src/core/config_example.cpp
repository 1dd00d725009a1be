// The fully commented example configuration (`despatch config example`), kept apart from
// the parser so that each stays readable.
#include "core/config.h"

namespace despatch {

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
