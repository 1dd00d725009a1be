#pragma once

#include "storage/conn.h"
#include "storage/key_backup_store.h"

namespace despatch::storage {

class SqliteKeyBackupStore final : public KeyBackupStore {
 public:
  explicit SqliteKeyBackupStore(Conn& c) : c_(c) {}
  Result<int64_t> create_version(const std::string& user, const std::string& algorithm,
                                 const json::object& auth_data) override;
  Result<std::optional<int64_t>> current_version(const std::string& user) override;
  Result<std::optional<BackupVersion>> version(const std::string& user, int64_t version) override;
  Status set_auth_data(const std::string& user, int64_t version, const json::object& auth_data) override;
  Result<bool> delete_version(const std::string& user, int64_t version) override;
  Status bump_etag(const std::string& user, int64_t version) override;
  Result<std::optional<json::object>> key(const std::string& user, int64_t version, const std::string& room_id,
                                          const std::string& session_id) override;
  Status put_key(const std::string& user, int64_t version, const BackupKey& k) override;
  Result<std::vector<BackupKey>> keys(const std::string& user, int64_t version, const std::string& room_id,
                                      const std::string& session_id) override;
  Result<int64_t> count_keys(const std::string& user, int64_t version) override;
  Result<int64_t> remove_keys(const std::string& user, int64_t version, const std::string& room_id,
                              const std::string& session_id) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
