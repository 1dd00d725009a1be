// Stores each user's push rule changes and serves their effective rules, cached, to the
// writer (which evaluates them for every new event) and to /pushrules and /sync.
#pragma once

#include "service/push/push_rules.h"
#include "storage/database.h"

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace despatch {

class PushService {
 public:
  explicit PushService(storage::Database& db) : db_(db) {}

  // The user's stored overrides ({} when none).
  Result<json::object> overrides(const std::string& user_id);
  // The merged ruleset ({"global": ...}), cached.
  std::shared_ptr<const json::object> effective(const std::string& user_id);
  // Applies an edit to the user's overrides and stores the result.
  boost::asio::awaitable<Status> edit(
      const std::string& user_id,
      std::function<Result<json::object>(const json::object& overrides)> change);

 private:
  storage::Database& db_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const json::object>> cache_;
};

}  // namespace despatch
