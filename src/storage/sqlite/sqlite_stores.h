// Every store over one SQLite connection: a thread's read view, or a write job's
// transaction. The stores are members, not allocations: a write job makes one per job.
#pragma once

#include "storage/sqlite/account_change_store.h"
#include "storage/sqlite/account_data_store.h"
#include "storage/sqlite/announce_store.h"
#include "storage/sqlite/archive_store.h"
#include "storage/sqlite/audit_store.h"
#include "storage/sqlite/cross_signing_store.h"
#include "storage/sqlite/device_key_store.h"
#include "storage/sqlite/device_list_store.h"
#include "storage/sqlite/device_store.h"
#include "storage/sqlite/event_store.h"
#include "storage/sqlite/federation_queue_store.h"
#include "storage/sqlite/keeper_store.h"
#include "storage/sqlite/key_backup_store.h"
#include "storage/sqlite/legal_hold_store.h"
#include "storage/sqlite/media_store.h"
#include "storage/sqlite/membership_store.h"
#include "storage/sqlite/meta_store.h"
#include "storage/sqlite/oauth_store.h"
#include "storage/sqlite/receipt_store.h"
#include "storage/sqlite/remote_membership_store.h"
#include "storage/sqlite/report_store.h"
#include "storage/sqlite/alert_store.h"
#include "storage/sqlite/registration_token_store.h"
#include "storage/sqlite/room_store.h"
#include "storage/sqlite/scim_store.h"
#include "storage/sqlite/server_key_store.h"
#include "storage/sqlite/state_store.h"
#include "storage/sqlite/to_device_store.h"
#include "storage/sqlite/user_store.h"

#include <functional>

namespace despatch::storage {

class SqliteStores final : public Txn {
 public:
  // next_pos hands out stream positions; only write transactions may call it.
  SqliteStores(Conn& c, std::function<int64_t()> next_pos) : c_(c), next_pos_(std::move(next_pos)) {}

  AccountChangeStore& account_changes() override { return account_changes_; }
  AccountDataStore& account_data() override { return account_data_; }
  AlertStore& alerts() override { return alerts_; }
  AnnounceStore& announce() override { return announce_; }
  ArchiveStore& archive() override { return archive_; }
  AuditStore& audit() override { return audit_; }
  CrossSigningStore& cross_signing() override { return cross_signing_; }
  DeviceKeyStore& device_keys() override { return device_keys_; }
  DeviceListStore& device_lists() override { return device_lists_; }
  DeviceStore& devices() override { return devices_; }
  EventStore& events() override { return events_; }
  FederationQueueStore& federation_queue() override { return federation_queue_; }
  KeeperStore& keeper() override { return keeper_; }
  KeyBackupStore& key_backups() override { return key_backups_; }
  LegalHoldStore& legal_holds() override { return legal_holds_; }
  MediaStore& media() override { return media_; }
  MembershipStore& memberships() override { return memberships_; }
  MetaStore& meta() override { return meta_; }
  OAuthStore& oauth() override { return oauth_; }
  ReceiptStore& receipts() override { return receipts_; }
  RemoteMembershipStore& remote_memberships() override { return remote_memberships_; }
  ReportStore& reports() override { return reports_; }
  RegistrationTokenStore& registration_tokens() override { return registration_tokens_; }
  RoomStore& rooms() override { return rooms_; }
  ScimStore& scim() override { return scim_; }
  ServerKeyStore& server_keys() override { return server_keys_; }
  StateStore& state() override { return state_; }
  ToDeviceStore& to_device() override { return to_device_; }
  UserStore& users() override { return users_; }
  int64_t next_stream_pos() override { return next_pos_(); }

 private:
  Conn& c_;
  std::function<int64_t()> next_pos_;
  // One line per store, each over the same connection.
  SqliteAccountChangeStore account_changes_{c_};
  SqliteAccountDataStore account_data_{c_};
  SqliteAlertStore alerts_{c_};
  SqliteAnnounceStore announce_{c_};
  SqliteArchiveStore archive_{c_};
  SqliteAuditStore audit_{c_};
  SqliteCrossSigningStore cross_signing_{c_};
  SqliteDeviceKeyStore device_keys_{c_};
  SqliteDeviceListStore device_lists_{c_};
  SqliteDeviceStore devices_{c_};
  SqliteEventStore events_{c_};
  SqliteFederationQueueStore federation_queue_{c_};
  SqliteKeeperStore keeper_{c_};
  SqliteKeyBackupStore key_backups_{c_};
  SqliteLegalHoldStore legal_holds_{c_};
  SqliteMediaStore media_{c_};
  SqliteMembershipStore memberships_{c_};
  SqliteMetaStore meta_{c_};
  SqliteOAuthStore oauth_{c_};
  SqliteReceiptStore receipts_{c_};
  SqliteRemoteMembershipStore remote_memberships_{c_};
  SqliteReportStore reports_{c_};
  SqliteRegistrationTokenStore registration_tokens_{c_};
  SqliteRoomStore rooms_{c_};
  SqliteScimStore scim_{c_};
  SqliteServerKeyStore server_keys_{c_};
  SqliteStateStore state_{c_};
  SqliteToDeviceStore to_device_{c_};
  SqliteUserStore users_{c_};
};

}  // namespace despatch::storage
