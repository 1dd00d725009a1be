#pragma once

#include "storage/account_data_store.h"
#include "storage/conn.h"

namespace despatch::storage {

class SqliteAccountDataStore final : public AccountDataStore {
 public:
  explicit SqliteAccountDataStore(Conn& c) : c_(c) {}
  Status put(const std::string& user, const std::string& room_id, const std::string& type,
             const json::object& content, int64_t stream_pos) override;
  Result<std::optional<json::object>> get(const std::string& user, const std::string& room_id,
                                          const std::string& type) override;
  Result<std::vector<AccountDataEntry>> changed(const std::string& user, const std::string& room_id,
                                                int64_t from, int64_t to) override;
  Result<std::vector<std::string>> rooms_changed(const std::string& user, int64_t from, int64_t to) override;
  Result<int64_t> add_filter(const std::string& user, const json::object& filter) override;
  Result<std::optional<json::value>> filter(const std::string& user, int64_t filter_id) override;
  Result<json::object> push_rule_overrides(const std::string& user) override;
  Status set_push_rule_overrides(const std::string& user, const json::object& overrides) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
