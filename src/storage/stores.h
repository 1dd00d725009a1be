// The storage seam: one store per domain, each owning its tables, reached through Stores.
// Services call typed store methods and hold no SQL; a backend (sqlite/ now, PostgreSQL
// next) implements every store. A read view (Database::read) and a write transaction
// (Txn, what Database::transact hands a write job) expose the same stores.
#pragma once

#include <cstdint>

namespace despatch::storage {

class AccountChangeStore;
class AccountDataStore;
class AlertStore;
class AnnounceStore;
class ArchiveStore;
class AuditStore;
class CrossSigningStore;
class DeviceKeyStore;
class DeviceListStore;
class DeviceStore;
class EventStore;
class FederationQueueStore;
class KeeperStore;
class KeyBackupStore;
class LegalHoldStore;
class MediaStore;
class MembershipStore;
class MetaStore;
class OAuthStore;
class ReceiptStore;
class RemoteMembershipStore;
class ReportStore;
class RegistrationTokenStore;
class RoomStore;
class ScimStore;
class ServerKeyStore;
class StateStore;
class ToDeviceStore;
class UserStore;

class Stores {
 public:
  virtual ~Stores() = default;
  virtual AccountChangeStore& account_changes() = 0;  // account_changes
  virtual AccountDataStore& account_data() = 0;  // account_data, filters, push_rules
  virtual AlertStore& alerts() = 0;               // alerts
  virtual AnnounceStore& announce() = 0;          // announce_channels, _followers, _posts, _deliveries, _keys
  virtual ArchiveStore& archive() = 0;           // archive_keys, archive, records_checkpoints
  virtual AuditStore& audit() = 0;               // audit_log
  virtual CrossSigningStore& cross_signing() = 0;  // cross_signing_keys, key_signatures
  virtual DeviceKeyStore& device_keys() = 0;     // device_keys, one_time_keys, fallback_keys
  virtual DeviceListStore& device_lists() = 0;   // device_list_changes
  virtual DeviceStore& devices() = 0;            // devices
  virtual EventStore& events() = 0;              // events, txn_ids
  virtual FederationQueueStore& federation_queue() = 0;  // federation_queue
  virtual KeeperStore& keeper() = 0;             // keeper_account, keeper_*_sessions, _pending, _withheld
  virtual KeyBackupStore& key_backups() = 0;     // backup_versions, backup_keys
  virtual LegalHoldStore& legal_holds() = 0;     // legal_holds
  virtual MediaStore& media() = 0;               // media, media_thumbnails
  virtual MembershipStore& memberships() = 0;    // memberships
  virtual MetaStore& meta() = 0;                 // meta (but its stream_pos: the database's own)
  virtual OAuthStore& oauth() = 0;               // oauth_clients, oauth_codes, refresh_tokens, login_tokens, sso_identities
  virtual ReceiptStore& receipts() = 0;          // receipts, notifications
  virtual RemoteMembershipStore& remote_memberships() = 0;  // remote_memberships
  virtual ReportStore& reports() = 0;            // reports
  virtual RegistrationTokenStore& registration_tokens() = 0;  // registration_tokens
  virtual RoomStore& rooms() = 0;                // rooms, room_aliases
  virtual ScimStore& scim() = 0;                 // scim_tokens, scim_users, scim_groups, scim_group_*
  virtual ServerKeyStore& server_keys() = 0;     // server_keys, server_key_responses
  virtual StateStore& state() = 0;               // current_state, state groups, event_state
  virtual ToDeviceStore& to_device() = 0;        // to_device, to_device_txns
  virtual UserStore& users() = 0;                // users, access_tokens, retired_tokens
};

// A write job's view: the stores, writing inside the group commit, and the stream positions
// that order what it writes for /sync.
class Txn : public Stores {
 public:
  // The next position of the server's one event/receipt/account-data stream (an in-process
  // counter on SQLite, where one writer assigns them; a sequence on PostgreSQL).
  virtual int64_t next_stream_pos() = 0;
};

}  // namespace despatch::storage
