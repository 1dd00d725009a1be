#include "storage/migrations.h"

#include "core/log.h"
#include "storage/sqlite/graph_backfill.h"

namespace despatch::storage {
namespace {

// Never edit a released step: add a new one.
const char* const kMigrations[] = {
    // 1: the homeserver core.
    R"SQL(
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

-- user_id -> account
CREATE TABLE users (
  user_id TEXT PRIMARY KEY, password_hash TEXT, is_admin INTEGER NOT NULL DEFAULT 0,
  deactivated INTEGER NOT NULL DEFAULT 0, created_ts INTEGER NOT NULL,
  displayname TEXT, avatar_url TEXT);

-- (user_id, device_id) -> device
CREATE TABLE devices (
  user_id TEXT NOT NULL, device_id TEXT NOT NULL, display_name TEXT,
  last_seen_ts INTEGER, last_seen_ip TEXT, created_ts INTEGER NOT NULL,
  PRIMARY KEY (user_id, device_id));

-- token -> (user_id, device_id)
CREATE TABLE access_tokens (
  token TEXT PRIMARY KEY, user_id TEXT NOT NULL, device_id TEXT NOT NULL, created_ts INTEGER NOT NULL);
CREATE INDEX access_tokens_device ON access_tokens(user_id, device_id);

-- room_id -> room
CREATE TABLE rooms (
  room_id TEXT PRIMARY KEY, room_version TEXT NOT NULL, creator TEXT NOT NULL,
  is_public INTEGER NOT NULL DEFAULT 0, created_ts INTEGER NOT NULL,
  last_event_id TEXT, depth INTEGER NOT NULL DEFAULT 0);

-- stream_pos -> event, in the order this server accepted them
CREATE TABLE events (
  stream_pos INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, room_id TEXT NOT NULL,
  type TEXT NOT NULL, state_key TEXT, sender TEXT NOT NULL, origin_server_ts INTEGER NOT NULL,
  json TEXT NOT NULL, redacted_by TEXT, txn_device TEXT, txn_id TEXT, relates_to TEXT,
  rel_type TEXT);
CREATE INDEX events_room ON events(room_id, stream_pos);
CREATE INDEX events_state ON events(room_id, type, state_key, stream_pos) WHERE state_key IS NOT NULL;
-- child events by the event they relate to, for /relations and bundled edits
CREATE INDEX events_relates ON events(relates_to, rel_type, stream_pos) WHERE relates_to IS NOT NULL;

-- (room_id, type, state_key) -> current state event
CREATE TABLE current_state (
  room_id TEXT NOT NULL, type TEXT NOT NULL, state_key TEXT NOT NULL,
  event_id TEXT NOT NULL, stream_pos INTEGER NOT NULL,
  PRIMARY KEY (room_id, type, state_key));

-- (room_id, user_id) -> current membership, indexed by user for /sync
CREATE TABLE memberships (
  room_id TEXT NOT NULL, user_id TEXT NOT NULL, membership TEXT NOT NULL,
  event_id TEXT NOT NULL, stream_pos INTEGER NOT NULL, forgotten INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (room_id, user_id));
CREATE INDEX memberships_user ON memberships(user_id, stream_pos);

-- (user_id, device_id, txn_id) -> event_id, for /send idempotency
CREATE TABLE txn_ids (
  user_id TEXT NOT NULL, device_id TEXT NOT NULL, txn_id TEXT NOT NULL, event_id TEXT NOT NULL,
  PRIMARY KEY (user_id, device_id, txn_id));

-- alias -> room
CREATE TABLE room_aliases (alias TEXT PRIMARY KEY, room_id TEXT NOT NULL, creator TEXT NOT NULL);
CREATE INDEX room_aliases_room ON room_aliases(room_id);

-- (room_id, user_id, receipt_type, thread_id) -> latest receipt
CREATE TABLE receipts (
  room_id TEXT NOT NULL, user_id TEXT NOT NULL, receipt_type TEXT NOT NULL,
  thread_id TEXT NOT NULL DEFAULT '', event_id TEXT NOT NULL, event_pos INTEGER NOT NULL,
  ts INTEGER NOT NULL, stream_pos INTEGER NOT NULL,
  PRIMARY KEY (room_id, user_id, receipt_type, thread_id));
CREATE INDEX receipts_stream ON receipts(room_id, stream_pos);

-- (user_id, room_id or '', type) -> account data content
CREATE TABLE account_data (
  user_id TEXT NOT NULL, room_id TEXT NOT NULL, type TEXT NOT NULL, content TEXT NOT NULL,
  stream_pos INTEGER NOT NULL, PRIMARY KEY (user_id, room_id, type));
CREATE INDEX account_data_stream ON account_data(user_id, stream_pos);

-- (user_id, filter_id) -> filter JSON
CREATE TABLE filters (user_id TEXT NOT NULL, filter_id INTEGER NOT NULL, json TEXT NOT NULL,
  PRIMARY KEY (user_id, filter_id));

-- user_id -> the user's changes to the default push rules
CREATE TABLE push_rules (user_id TEXT PRIMARY KEY, overrides TEXT NOT NULL);

-- (room_id, user_id, stream_pos) -> a notification for user
CREATE TABLE notifications (
  room_id TEXT NOT NULL, user_id TEXT NOT NULL, stream_pos INTEGER NOT NULL,
  highlight INTEGER NOT NULL, PRIMARY KEY (room_id, user_id, stream_pos));
)SQL",
    // 2: end-to-end encryption: device and cross-signing keys, to-device messages, backups.
    R"SQL(
-- (user_id, device_id) -> the device's signed device_keys object
CREATE TABLE device_keys (user_id TEXT NOT NULL, device_id TEXT NOT NULL, json TEXT NOT NULL,
  PRIMARY KEY (user_id, device_id));

-- (user_id, device_id, algorithm, key_id) -> an unclaimed one-time key
CREATE TABLE one_time_keys (user_id TEXT NOT NULL, device_id TEXT NOT NULL,
  algorithm TEXT NOT NULL, key_id TEXT NOT NULL, json TEXT NOT NULL,
  PRIMARY KEY (user_id, device_id, algorithm, key_id));

-- (user_id, device_id, algorithm) -> the device's fallback key
CREATE TABLE fallback_keys (user_id TEXT NOT NULL, device_id TEXT NOT NULL,
  algorithm TEXT NOT NULL, key_id TEXT NOT NULL, json TEXT NOT NULL, used INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, device_id, algorithm));

-- (user_id, usage) -> cross-signing key (master, self_signing, user_signing)
CREATE TABLE cross_signing_keys (user_id TEXT NOT NULL, usage TEXT NOT NULL, json TEXT NOT NULL,
  PRIMARY KEY (user_id, usage));

-- signatures uploaded through /keys/signatures/upload, merged into key objects on query:
-- (target user, target key or device, signer, signing key id) -> signature
CREATE TABLE key_signatures (target_user TEXT NOT NULL, target_key TEXT NOT NULL,
  signer TEXT NOT NULL, signer_key_id TEXT NOT NULL, signature TEXT NOT NULL,
  PRIMARY KEY (target_user, target_key, signer, signer_key_id));

-- stream_pos -> a user whose device list changed
CREATE TABLE device_list_changes (stream_pos INTEGER NOT NULL, user_id TEXT NOT NULL,
  PRIMARY KEY (stream_pos, user_id));
CREATE INDEX device_list_changes_user ON device_list_changes(user_id, stream_pos);

-- stream_pos -> a to-device message waiting for (user_id, device_id)
CREATE TABLE to_device (stream_pos INTEGER NOT NULL, user_id TEXT NOT NULL,
  device_id TEXT NOT NULL, sender TEXT NOT NULL, type TEXT NOT NULL, content TEXT NOT NULL,
  PRIMARY KEY (user_id, device_id, stream_pos));

-- (user_id, device_id, txn_id) for /sendToDevice idempotency
CREATE TABLE to_device_txns (user_id TEXT NOT NULL, device_id TEXT NOT NULL, txn_id TEXT NOT NULL,
  PRIMARY KEY (user_id, device_id, txn_id));

-- (user_id, version) -> a server-side key backup version
CREATE TABLE backup_versions (user_id TEXT NOT NULL, version INTEGER NOT NULL,
  algorithm TEXT NOT NULL, auth_data TEXT NOT NULL, etag INTEGER NOT NULL DEFAULT 0,
  deleted INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (user_id, version));

-- (user_id, version, room_id, session_id) -> KeyBackupData
CREATE TABLE backup_keys (user_id TEXT NOT NULL, version INTEGER NOT NULL, room_id TEXT NOT NULL,
  session_id TEXT NOT NULL, json TEXT NOT NULL,
  PRIMARY KEY (user_id, version, room_id, session_id));
)SQL",
    // 3: the records archive, its signed checkpoints, legal holds and the audit log.
    R"SQL(
-- id -> a data key, sealed (libsodium sealed box) to the records office's public key.
-- Records are encrypted with a data key (XChaCha20-Poly1305); keys rotate every 1,000
-- records, so the costly public-key step is paid once per thousand.
CREATE TABLE archive_keys (id INTEGER PRIMARY KEY, sealed_key TEXT NOT NULL);

-- seq -> one archived record. Append-only and hash-chained: hash = SHA-256(prev_hash ||
-- content_hash), content_hash = SHA-256 of the canonical JSON of every other column.
-- sealed = base64(nonce || ciphertext) under data key key_id; a tombstone keeps
-- content_hash but drops sealed.
CREATE TABLE archive (
  seq INTEGER PRIMARY KEY, stream_pos INTEGER NOT NULL, event_id TEXT NOT NULL,
  room_id TEXT NOT NULL, sender TEXT NOT NULL, type TEXT NOT NULL, ts INTEGER NOT NULL,
  classification TEXT NOT NULL, kind TEXT NOT NULL, key_id INTEGER NOT NULL, sealed TEXT,
  content_hash TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX archive_room ON archive(room_id, ts);
CREATE INDEX archive_sender ON archive(sender, ts);
CREATE INDEX archive_event ON archive(event_id);

-- seq -> a checkpoint: the server's ed25519 signature over the chain head at seq
CREATE TABLE archive_checkpoints (seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, ts INTEGER NOT NULL,
  key_id TEXT NOT NULL, signature TEXT NOT NULL);

-- retention policies tell direct chats from group rooms
ALTER TABLE rooms ADD COLUMN kind TEXT NOT NULL DEFAULT 'group';
-- erased users' events are served redacted to everyone else
ALTER TABLE users ADD COLUMN erased INTEGER NOT NULL DEFAULT 0;

-- id -> a legal hold on a user, a room and/or a time range
CREATE TABLE legal_holds (id INTEGER PRIMARY KEY, case_ref TEXT NOT NULL, user_id TEXT,
  room_id TEXT, from_ts INTEGER, to_ts INTEGER, placed_by TEXT NOT NULL, placed_ts INTEGER NOT NULL,
  lifted_by TEXT, lifted_ts INTEGER);

-- seq -> one audit entry, hash-chained like the archive
CREATE TABLE audit_log (seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, actor TEXT NOT NULL,
  action TEXT NOT NULL, case_ref TEXT NOT NULL, details TEXT NOT NULL,
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
)SQL",
    // 4: the records keeper: its Olm account, sessions and the events it could not decrypt.
    R"SQL(
-- user_id -> the keeper's account (one row): its device, the libolm account pickle and the
-- cross-signing seeds, both encrypted with the key in <data_dir>/keeper.key
CREATE TABLE keeper_account (user_id TEXT PRIMARY KEY, device_id TEXT NOT NULL,
  pickle TEXT NOT NULL, cross_signing TEXT NOT NULL, created_ts INTEGER NOT NULL);

-- (sender_key, session_id) -> an Olm session with a client device, pickled (encrypted);
-- rank orders one sender's sessions, most recently used first
CREATE TABLE keeper_olm_sessions (sender_key TEXT NOT NULL, session_id TEXT NOT NULL,
  rank INTEGER NOT NULL, pickle TEXT NOT NULL, PRIMARY KEY (sender_key, session_id));

-- (room_id, session_id, sender_key) -> a Megolm inbound session, pickled (encrypted), with
-- the user whose device it belongs to and how the keeper got it (m.room_key or forwarded)
CREATE TABLE keeper_megolm_sessions (room_id TEXT NOT NULL, session_id TEXT NOT NULL,
  sender_key TEXT NOT NULL, sender_user TEXT NOT NULL, first_index INTEGER NOT NULL,
  source TEXT NOT NULL, pickle TEXT NOT NULL, received_ts INTEGER NOT NULL,
  PRIMARY KEY (room_id, session_id, sender_key));

-- event_id -> an m.room.encrypted event the keeper could not decrypt (yet); retried when
-- keys for its session arrive
CREATE TABLE keeper_pending (event_id TEXT PRIMARY KEY, room_id TEXT NOT NULL,
  session_id TEXT NOT NULL, sender_key TEXT NOT NULL, sender TEXT NOT NULL,
  stream_pos INTEGER NOT NULL, ts INTEGER NOT NULL, reason TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 1, first_seen_ts INTEGER NOT NULL);
CREATE INDEX keeper_pending_session ON keeper_pending(room_id, session_id);

-- (room_id, session_id, sender_key) -> why a sender withheld a session from the keeper
-- (m.room_key.withheld)
CREATE TABLE keeper_withheld (room_id TEXT NOT NULL, session_id TEXT NOT NULL,
  sender_key TEXT NOT NULL, sender TEXT NOT NULL, code TEXT NOT NULL, reason TEXT NOT NULL,
  ts INTEGER NOT NULL, PRIMARY KEY (room_id, session_id, sender_key));
)SQL",
    // 5: the content repository.
    R"SQL(
-- (server_name, media_id) -> one piece of content: local uploads and cached remote media.
-- The bytes live in <data_dir>/media/<aa>/<bb>/<sha256>, shared by identical uploads;
-- sha256 is NULL while an mxc:// URI from /create waits for its upload (until expires_ts).
-- legacy_ok: also served on the deprecated unauthenticated download routes.
CREATE TABLE media (
  server_name TEXT NOT NULL, media_id TEXT NOT NULL, user_id TEXT, content_type TEXT,
  upload_name TEXT, sha256 TEXT, size INTEGER NOT NULL DEFAULT 0, created_ts INTEGER NOT NULL,
  expires_ts INTEGER, last_access_ts INTEGER NOT NULL, legacy_ok INTEGER NOT NULL DEFAULT 0,
  quarantined INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (server_name, media_id));
CREATE INDEX media_sha256 ON media(sha256);
CREATE INDEX media_pending ON media(user_id, expires_ts) WHERE sha256 IS NULL;
CREATE INDEX media_user ON media(user_id, size);
CREATE INDEX media_last_access ON media(server_name, last_access_ts);

-- (server_name, media_id, requested size, method) -> a generated thumbnail, stored by
-- sha256 like the media itself
CREATE TABLE media_thumbnails (
  server_name TEXT NOT NULL, media_id TEXT NOT NULL, req_width INTEGER NOT NULL,
  req_height INTEGER NOT NULL, method TEXT NOT NULL, sha256 TEXT NOT NULL,
  content_type TEXT NOT NULL, size INTEGER NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL,
  PRIMARY KEY (server_name, media_id, req_width, req_height, method));
CREATE INDEX media_thumbnails_sha256 ON media_thumbnails(sha256);
)SQL",
    // 6: the event graph: each event's prev_events and depth, each room's forward
    // extremities, and the state before and after every event as state groups. An event may
    // be an outlier (known, but not part of the room's timeline), rejected (failed the auth
    // rules; the reason is kept) or soft-failed (passed them but not current state). The
    // rows for events stored before this step are filled in by backfill_event_graph.
    R"SQL(
ALTER TABLE events ADD COLUMN depth INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN outlier INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN rejected TEXT;
ALTER TABLE events ADD COLUMN soft_failed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX events_topological ON events(room_id, depth, stream_pos);

-- (event_id, prev_event_id): the graph's edges, an event to each of its prev_events
CREATE TABLE event_edges (event_id TEXT NOT NULL, prev_event_id TEXT NOT NULL,
  PRIMARY KEY (event_id, prev_event_id));
CREATE INDEX event_edges_prev ON event_edges(prev_event_id);

-- (room_id, event_id): the room's forward extremities, the events nothing refers to yet
CREATE TABLE forward_extremities (room_id TEXT NOT NULL, event_id TEXT NOT NULL,
  PRIMARY KEY (room_id, event_id));

-- id -> a room's state as a delta on prev_id (NULL: the whole state); chain counts the
-- deltas back to a whole state, so that reading a group never walks far
CREATE TABLE state_groups (id INTEGER PRIMARY KEY, room_id TEXT NOT NULL, prev_id INTEGER,
  chain INTEGER NOT NULL);
-- (group_id, type, state_key) -> event_id; '' removes the key from the previous group
CREATE TABLE state_group_entries (group_id INTEGER NOT NULL, type TEXT NOT NULL,
  state_key TEXT NOT NULL, event_id TEXT NOT NULL, PRIMARY KEY (group_id, type, state_key));
-- event_id -> the state group before it and after it (0: the empty state before a create)
CREATE TABLE event_state (event_id TEXT PRIMARY KEY, before_group INTEGER NOT NULL,
  after_group INTEGER NOT NULL);
)SQL",
    // 7: to-device messages know their size, so that /sync can hand them out by bytes and a
    // sender's backlog for one device can be bounded (KeyService::queue_to_device). bytes
    // comes before content: reading it must not walk a large message's overflow pages.
    R"SQL(
-- stream_pos -> a to-device message waiting for (user_id, device_id); bytes: content's size
CREATE TABLE to_device_sized (stream_pos INTEGER NOT NULL, user_id TEXT NOT NULL,
  device_id TEXT NOT NULL, sender TEXT NOT NULL, type TEXT NOT NULL, bytes INTEGER NOT NULL,
  content TEXT NOT NULL, PRIMARY KEY (user_id, device_id, stream_pos));
INSERT INTO to_device_sized(stream_pos, user_id, device_id, sender, type, bytes, content)
  SELECT stream_pos, user_id, device_id, sender, type, length(CAST(content AS BLOB)), content
  FROM to_device;
DROP TABLE to_device;
ALTER TABLE to_device_sized RENAME TO to_device;
-- what one sender has waiting for one device, counted from the index alone
CREATE INDEX to_device_sender ON to_device(user_id, device_id, sender, bytes);
)SQL",
    // 8: a device's curve25519 identity key in a column of its own, so that the device that
    // sent an Olm message is found by its sender key (DeviceKeyStore::devices_with_identity_key)
    // without reading every device's keys.
    R"SQL(
ALTER TABLE device_keys ADD COLUMN curve25519 TEXT;
UPDATE device_keys SET curve25519 = (SELECT value FROM json_each(device_keys.json, '$.keys')
  WHERE key = 'curve25519:' || device_keys.device_id AND type = 'text');
-- curve25519 identity key -> device
CREATE INDEX device_keys_curve25519 ON device_keys(curve25519) WHERE curve25519 IS NOT NULL;
)SQL",
    // 9: federation's server signing keys (ServerKeyStore): this server's own, current and
    // rotated out, and those fetched from other servers, with each remote server's last
    // self-signed key response for the notary API.
    R"SQL(
-- (server_name, key_id) -> public key; expired_ts set for old_verify_keys
CREATE TABLE server_keys (server_name TEXT NOT NULL, key_id TEXT NOT NULL, key TEXT NOT NULL,
  valid_until_ts INTEGER NOT NULL, expired_ts INTEGER, fetched_ts INTEGER NOT NULL,
  PRIMARY KEY (server_name, key_id));
-- server_name -> its last verified /_matrix/key/v2/server response, as received
CREATE TABLE server_key_responses (server_name TEXT PRIMARY KEY, json TEXT NOT NULL,
  valid_until_ts INTEGER NOT NULL, fetched_ts INTEGER NOT NULL);
)SQL",
    // 10: federation's outgoing queues (FederationQueueStore): PDUs and EDUs waiting for each
    // destination until it acknowledges them. AUTOINCREMENT so that ids are never reused:
    // transaction IDs are made of them.
    R"SQL(
-- id -> a PDU or EDU waiting for destination, in id order
CREATE TABLE federation_queue (id INTEGER PRIMARY KEY AUTOINCREMENT, destination TEXT NOT NULL,
  kind TEXT NOT NULL, json TEXT NOT NULL, queued_ts INTEGER NOT NULL);
CREATE INDEX federation_queue_destination ON federation_queue(destination, kind, id);
)SQL",
    // 11: memberships of local users in rooms this server is not in (RemoteMembershipStore):
    // invites other servers sent, knocks sent for them, and the leaves that rejected either.
    R"SQL(
-- (user_id, room_id) -> the member event (JSON, with event_id), the stripped state it came
-- with, the server that sent or answered it, and the stream position /sync orders it by
CREATE TABLE remote_memberships (user_id TEXT NOT NULL, room_id TEXT NOT NULL,
  membership TEXT NOT NULL, event_id TEXT NOT NULL, event TEXT NOT NULL, room_version TEXT NOT NULL,
  stripped_state TEXT NOT NULL, via TEXT NOT NULL, stream_pos INTEGER NOT NULL,
  PRIMARY KEY (user_id, room_id));
CREATE INDEX remote_memberships_pos ON remote_memberships(user_id, stream_pos);
)SQL",
    // 12: device lists across servers (DeviceListStore): which device each change of a
    // user's list was about (NULL for cross-signing keys, and for rows older than this step),
    // so that m.device_list_update EDUs can name it; and the cached device lists of users of
    // other servers, kept up to date by their EDUs.
    R"SQL(
ALTER TABLE device_list_changes ADD COLUMN device_id TEXT;
-- user_id (of another server) -> the stream_id its server gave our copy, stale when an update was missed
CREATE TABLE remote_device_lists (user_id TEXT PRIMARY KEY, stream_id INTEGER NOT NULL,
  stale INTEGER NOT NULL DEFAULT 0, master_key TEXT, self_signing_key TEXT, fetched_ts INTEGER NOT NULL);
-- (user_id, device_id) -> the device's signed keys and display name, as its server published them
CREATE TABLE remote_devices (user_id TEXT NOT NULL, device_id TEXT NOT NULL, keys TEXT NOT NULL,
  display_name TEXT, PRIMARY KEY (user_id, device_id));
)SQL",
    // 13: reports from users (ReportStore): rooms, events and users reported as
    // inappropriate, until an administrator acknowledges them with a note.
    R"SQL(
-- id -> who reported what (room_id, event_id, the reported user or the event's sender) and
-- why, and the administrator's acknowledgement
CREATE TABLE reports (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, reporter TEXT NOT NULL,
  room_id TEXT, event_id TEXT, user_id TEXT, reason TEXT NOT NULL, ts INTEGER NOT NULL,
  acknowledged_by TEXT, acknowledged_ts INTEGER, note TEXT);
CREATE INDEX reports_open ON reports(acknowledged_ts, id);
)SQL",
    // 14: public announcements (AnnounceStore): the rooms marked as channels, their
    // ActivityPub followers, the posts published from them, the delivery queue to
    // followers' inboxes (kept across restarts, with its retry schedule) and the RSA key.
    R"SQL(
-- handle -> the room that publishes as acct:handle@server_name, with its display name
CREATE TABLE announce_channels (handle TEXT PRIMARY KEY, room_id TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
  summary TEXT NOT NULL DEFAULT '', min_power INTEGER NOT NULL, created_by TEXT NOT NULL, created_ts INTEGER NOT NULL);
-- (handle, actor) -> the follower's inbox (its shared inbox when offered) and its Follow's ID
CREATE TABLE announce_followers (handle TEXT NOT NULL, actor TEXT NOT NULL, inbox TEXT NOT NULL,
  follow_id TEXT NOT NULL, followed_ts INTEGER NOT NULL, PRIMARY KEY (handle, actor));
-- id -> a published post: the event it came from, its text and picture, published/edited/withdrawn times
CREATE TABLE announce_posts (id INTEGER PRIMARY KEY AUTOINCREMENT, handle TEXT NOT NULL,
  event_id TEXT NOT NULL UNIQUE, sender TEXT NOT NULL, body TEXT NOT NULL, media TEXT NOT NULL DEFAULT '',
  media_type TEXT NOT NULL DEFAULT '', published_ts INTEGER NOT NULL, updated_ts INTEGER NOT NULL DEFAULT 0,
  withdrawn_ts INTEGER NOT NULL DEFAULT 0);
CREATE INDEX announce_posts_handle ON announce_posts(handle, id);
-- id -> an activity for one inbox, signed as handle's actor when sent, with its retry schedule
CREATE TABLE announce_deliveries (id INTEGER PRIMARY KEY AUTOINCREMENT, handle TEXT NOT NULL, inbox TEXT NOT NULL,
  activity TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_ts INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT '');
CREATE INDEX announce_deliveries_due ON announce_deliveries(next_ts);
-- name -> an RSA key pair (PEM) the server made for HTTP signatures
CREATE TABLE announce_keys (name TEXT PRIMARY KEY, private_pem TEXT NOT NULL, public_pem TEXT NOT NULL);
)SQL",
    // 15: suspicious-activity alerts (AlertStore): what the alert engine's rules found,
    // until an administrator acknowledges them with a note; and the access tokens of
    // deactivated accounts (UserStore), so that a leaver's old token is recognised.
    R"SQL(
-- id -> the rule that fired, for whose activity, how many signals in its window, the last
-- signal's details (JSON), and the administrator's acknowledgement
CREATE TABLE alerts (id INTEGER PRIMARY KEY AUTOINCREMENT, rule TEXT NOT NULL, signal TEXT NOT NULL,
  severity TEXT NOT NULL, user_id TEXT NOT NULL, count INTEGER NOT NULL, details TEXT NOT NULL,
  ts INTEGER NOT NULL, acknowledged_by TEXT, acknowledged_ts INTEGER, note TEXT);
CREATE INDEX alerts_open ON alerts(acknowledged_ts, id);
-- token hash -> the deactivated account it belonged to, and when it was retired
CREATE TABLE retired_tokens (token TEXT PRIMARY KEY, user_id TEXT NOT NULL, retired_ts INTEGER NOT NULL);
)SQL",
    // 16: records that hold against the people who run the server (ArchiveStore): one
    // signature over the heads of the archive, the audit log and the data keys; data keys
    // chained by hash; format 2 records, whose content hash survives their tombstone.
    R"SQL(
-- id -> signed heads. Version 1 rows are the archive-only checkpoints of before; a row
-- that is not durable is the rolling head, replaced by the next checkpoint.
CREATE TABLE records_checkpoints (id INTEGER PRIMARY KEY, version INTEGER NOT NULL,
  archive_seq INTEGER NOT NULL, archive_hash TEXT NOT NULL, audit_seq INTEGER NOT NULL,
  audit_hash TEXT NOT NULL, keys_seq INTEGER NOT NULL, keys_hash TEXT NOT NULL, ts INTEGER NOT NULL,
  key_id TEXT NOT NULL, signature TEXT NOT NULL, durable INTEGER NOT NULL);
INSERT INTO records_checkpoints(version, archive_seq, archive_hash, audit_seq, audit_hash, keys_seq,
  keys_hash, ts, key_id, signature, durable)
  SELECT 1, seq, hash, 0, '', 0, '', ts, key_id, signature, 1 FROM archive_checkpoints ORDER BY seq;
DROP TABLE archive_checkpoints;
-- SHA-256 chain over (id, sealed_key), filled in by the records service
ALTER TABLE archive_keys ADD COLUMN hash TEXT;
ALTER TABLE archive ADD COLUMN format INTEGER NOT NULL DEFAULT 1;
ALTER TABLE archive ADD COLUMN live_kind TEXT NOT NULL DEFAULT '';
ALTER TABLE archive ADD COLUMN sealed_hash TEXT NOT NULL DEFAULT '';
-- an event whose record reached the end of its retention period: its stored JSON is the
-- redacted form (the room's graph still needs the shell) and no client read returns it
ALTER TABLE events ADD COLUMN purged INTEGER NOT NULL DEFAULT 0;
)SQL",
    // 17: other departments' signed records heads, kept as their witness (ArchiveStore).
    R"SQL(
-- (origin, ts, archive_seq) -> a signed head that server sent; its signature is checked
-- against the origin's server key before it is stored
CREATE TABLE peer_record_heads (origin TEXT NOT NULL, version INTEGER NOT NULL, archive_seq INTEGER NOT NULL,
  archive_hash TEXT NOT NULL, audit_seq INTEGER NOT NULL, audit_hash TEXT NOT NULL, keys_seq INTEGER NOT NULL,
  keys_hash TEXT NOT NULL, ts INTEGER NOT NULL, key_id TEXT NOT NULL, signature TEXT NOT NULL,
  received_ts INTEGER NOT NULL, PRIMARY KEY (origin, ts, archive_seq));
)SQL",
    // 18: single sign-on and the OAuth 2.0 authorization server (OAuthStore).
    R"SQL(
-- client_id -> the metadata a client registered (JSON)
CREATE TABLE oauth_clients (client_id TEXT PRIMARY KEY, metadata TEXT NOT NULL, created_ts INTEGER NOT NULL);
-- code hash -> the grant it stands for, until redeemed or expired
CREATE TABLE oauth_codes (code TEXT PRIMARY KEY, client_id TEXT NOT NULL, redirect_uri TEXT NOT NULL,
  scope TEXT NOT NULL, device_id TEXT NOT NULL, user_id TEXT NOT NULL, code_challenge TEXT NOT NULL,
  expires_ts INTEGER NOT NULL);
-- refresh token hash -> the device session it renews; replaced_by: the token it was rotated into
CREATE TABLE refresh_tokens (token TEXT PRIMARY KEY, user_id TEXT NOT NULL, device_id TEXT NOT NULL,
  client_id TEXT NOT NULL, scope TEXT NOT NULL, created_ts INTEGER NOT NULL, replaced_by TEXT);
CREATE INDEX refresh_tokens_device ON refresh_tokens(user_id, device_id);
-- login token hash (m.login.token) -> the account it logs in, until used or expired
CREATE TABLE login_tokens (token TEXT PRIMARY KEY, user_id TEXT NOT NULL, expires_ts INTEGER NOT NULL);
-- (issuer, subject) at the OpenID Connect provider -> the account single sign-on made for it
CREATE TABLE sso_identities (issuer TEXT NOT NULL, subject TEXT NOT NULL, user_id TEXT NOT NULL,
  created_ts INTEGER NOT NULL, PRIMARY KEY (issuer, subject));
CREATE INDEX sso_identities_user ON sso_identities(user_id);
-- OAuth 2.0 access tokens expire (ms); NULL: the token never does
ALTER TABLE access_tokens ADD COLUMN expires_ts INTEGER;
)SQL",
    // 19: account moderation (UserStore: locked and suspended accounts, spec 1.18) and the
    // account changes log (AccountChangeStore), through which a running server hears of
    // deactivations and locks made by `despatch user` in another process.
    R"SQL(
ALTER TABLE users ADD COLUMN locked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN suspended INTEGER NOT NULL DEFAULT 0;
-- seq -> a change to an account (deactivate, lock, unlock, suspend, unsuspend, password):
-- whose, who made it, its details (JSON), when, and when a server finished carrying it out
-- (NULL: a leaver's rooms and invites still to be dealt with by the next server to see it)
CREATE TABLE account_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL,
  action TEXT NOT NULL, actor TEXT NOT NULL, details TEXT NOT NULL, ts INTEGER NOT NULL, done_ts INTEGER);
CREATE INDEX account_changes_pending ON account_changes(done_ts) WHERE done_ts IS NULL;
)SQL",
    // 20: SCIM provisioning (ScimStore) and registration tokens (RegistrationTokenStore).
    R"SQL(
-- id -> a SCIM bearer token (its SHA-256 only), its name and when it was made, revoked, last used
CREATE TABLE scim_tokens (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
  created_ts INTEGER NOT NULL, revoked_ts INTEGER, last_used_ts INTEGER);
-- SCIM id -> a provisioned user and the Matrix account it maps to
CREATE TABLE scim_users (id TEXT PRIMARY KEY, user_id TEXT NOT NULL UNIQUE, user_name TEXT NOT NULL UNIQUE COLLATE NOCASE,
  external_id TEXT, display_name TEXT NOT NULL COLLATE NOCASE, name_json TEXT NOT NULL, emails_json TEXT NOT NULL,
  active INTEGER NOT NULL, created_ts INTEGER NOT NULL, updated_ts INTEGER NOT NULL, version INTEGER NOT NULL);
-- SCIM id -> a provisioned group
CREATE TABLE scim_groups (id TEXT PRIMARY KEY, display_name TEXT NOT NULL UNIQUE COLLATE NOCASE, external_id TEXT,
  created_ts INTEGER NOT NULL, updated_ts INTEGER NOT NULL, version INTEGER NOT NULL);
-- (group, user) -> membership, both SCIM ids
CREATE TABLE scim_group_members (group_id TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (group_id, user_id));
CREATE INDEX scim_group_members_user ON scim_group_members(user_id);
-- (group display name, room) -> the group's members belong in the room
CREATE TABLE scim_group_rooms (group_name TEXT NOT NULL COLLATE NOCASE, room_id TEXT NOT NULL,
  PRIMARY KEY (group_name, room_id));
-- token -> how often it may still be used, and until when
CREATE TABLE registration_tokens (token TEXT PRIMARY KEY, uses_allowed INTEGER, pending INTEGER NOT NULL DEFAULT 0,
  completed INTEGER NOT NULL DEFAULT 0, expiry_time INTEGER);
)SQL",
};

// Steps whose rows need code, not SQL, run right after their SQL in the same transaction.
struct MigrationCode {
  int version;
  Status (*run)(Conn&);
};
const MigrationCode kMigrationCode[] = {
    {6, backfill_event_graph},
};

}  // namespace

int latest_schema_version() { return static_cast<int>(std::size(kMigrations)); }

Status run_migrations(Conn& conn) {
  DS_TRY(conn.exec_script("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"));
  DS_ASSIGN(auto row, query_one(conn, "SELECT MAX(version) FROM schema_version"));
  int current = row && !row->is_null(0) ? static_cast<int>(row->i64(0)) : 0;
  if (current > latest_schema_version())
    return Error::internal("database schema is newer than this build of Despatch");
  for (int v = current + 1; v <= latest_schema_version(); ++v) {
    DS_TRY(conn.exec_script("BEGIN IMMEDIATE"));
    Status st = conn.exec_script(kMigrations[v - 1]);
    for (const auto& code : kMigrationCode)
      if (st.ok() && code.version == v) st = code.run(conn);
    if (st.ok())
      st = conn.exec("INSERT INTO schema_version(version) VALUES(?)", {static_cast<int64_t>(v)});
    if (!st.ok()) {
      (void)conn.exec_script("ROLLBACK");
      return st;
    }
    DS_TRY(conn.exec_script("COMMIT"));
    DS_LOG(kInfo, "database schema migrated to version {}", v);
  }
  return ok_status();
}

}  // namespace despatch::storage
