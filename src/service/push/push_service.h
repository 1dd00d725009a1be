// Stores each user's push rule changes and serves their effective rules, cached, to the
// writer (which evaluates them for every new event) and to /pushrules and /sync.
#pragma once

#include "service/notifier/notifier.h"
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
  PushService(storage::Database& db, Notifier& notifier) : db_(db), notifier_(notifier) {}

  // The user's stored overrides ({} when none).
  Result<json::object> overrides(const std::string& user_id);
  // The merged ruleset ({"global": ...}), cached.
  std::shared_ptr<const json::object> effective(const std::string& user_id);
  // Applies an edit to the user's overrides, stores the result and wakes the user's syncs
  // (the new rules reach their clients as m.push_rules account data).
  boost::asio::awaitable<Status> edit(
      const std::string& user_id,
      std::function<Result<json::object>(const json::object& overrides)> change);

 private:
  storage::Database& db_;
  Notifier& notifier_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const json::object>> cache_;
};

}  // namespace despatch
