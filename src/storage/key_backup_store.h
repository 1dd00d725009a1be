// Server-side key backups: each user's backup versions with their opaque auth_data and an
// etag that changes with the keys (backup_versions), and the encrypted room keys of each
// version by room and session (backup_keys).
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <optional>
#include <string>
#include <vector>

namespace despatch::storage {

struct BackupVersion {
  int64_t version = 0;
  std::string algorithm;
  json::object auth_data;
  int64_t etag = 0;
  bool deleted = false;
};

// One backed-up session: KeyBackupData as the client sent it.
struct BackupKey {
  std::string room_id, session_id;
  json::object data;
};

class KeyBackupStore {
 public:
  virtual ~KeyBackupStore() = default;

  // backup_versions: (user_id, version) -> version; numbers count up from 1 per user and are
  // never reused (deleted versions stay, marked).
  // Adds the user's next version and returns its number.
  virtual Result<int64_t> create_version(const std::string& user, const std::string& algorithm,
                                         const json::object& auth_data) = 0;
  // The user's newest version not deleted, nullopt when none.
  virtual Result<std::optional<int64_t>> current_version(const std::string& user) = 0;
  // The version, deleted or not.
  virtual Result<std::optional<BackupVersion>> version(const std::string& user, int64_t version) = 0;
  virtual Status set_auth_data(const std::string& user, int64_t version, const json::object& auth_data) = 0;
  // Marks the version deleted and drops its keys; false when there was no such version left.
  virtual Result<bool> delete_version(const std::string& user, int64_t version) = 0;
  // The keys of the version changed: a new etag.
  virtual Status bump_etag(const std::string& user, int64_t version) = 0;

  // backup_keys: (user_id, version, room_id, session_id) -> KeyBackupData.
  virtual Result<std::optional<json::object>> key(const std::string& user, int64_t version,
                                                  const std::string& room_id, const std::string& session_id) = 0;
  // Stores (or replaces) the session's key.
  virtual Status put_key(const std::string& user, int64_t version, const BackupKey& k) = 0;
  // The version's keys, narrowed to one room and one session when those are not "".
  virtual Result<std::vector<BackupKey>> keys(const std::string& user, int64_t version, const std::string& room_id,
                                              const std::string& session_id) = 0;
  virtual Result<int64_t> count_keys(const std::string& user, int64_t version) = 0;
  // Deletes the keys keys() would return; returns how many went.
  virtual Result<int64_t> remove_keys(const std::string& user, int64_t version, const std::string& room_id,
                                      const std::string& session_id) = 0;
};

}  // namespace despatch::storage
