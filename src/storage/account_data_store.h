// Per-user data: account data (global, room "" , and per room), stored /sync filters and
// each user's changes to the default push rules.
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <optional>
#include <string>
#include <vector>

namespace despatch::storage {

struct AccountDataEntry {
  std::string room_id;  // "" for global account data
  std::string type;
  json::object content;
};

class AccountDataStore {
 public:
  virtual ~AccountDataStore() = default;

  // account_data: (user_id, room_id or "", type) -> content, with the stream position of
  // its last change.
  virtual Status put(const std::string& user, const std::string& room_id, const std::string& type,
                     const json::object& content, int64_t stream_pos) = 0;
  virtual Result<std::optional<json::object>> get(const std::string& user, const std::string& room_id,
                                                  const std::string& type) = 0;
  // Entries of one room ("" for global) changed in (from, to].
  virtual Result<std::vector<AccountDataEntry>> changed(const std::string& user, const std::string& room_id,
                                                        int64_t from, int64_t to) = 0;
  // Rooms (never "") whose account data for user changed in (from, to].
  virtual Result<std::vector<std::string>> rooms_changed(const std::string& user, int64_t from, int64_t to) = 0;

  // filters: (user_id, filter_id) -> filter JSON; ids count up from 0 per user.
  virtual Result<int64_t> add_filter(const std::string& user, const json::object& filter) = 0;
  virtual Result<std::optional<json::value>> filter(const std::string& user, int64_t filter_id) = 0;

  // push_rules: user_id -> the user's overrides of the default rules ({} when none).
  virtual Result<json::object> push_rule_overrides(const std::string& user) = 0;
  virtual Status set_push_rule_overrides(const std::string& user, const json::object& overrides) = 0;
};

}  // namespace despatch::storage
