#include "service/push/push_service.h"

#include "storage/account_data_store.h"

namespace despatch {

Result<json::object> PushService::overrides(const std::string& user_id) {
  return db_.read().account_data().push_rule_overrides(user_id);
}

std::shared_ptr<const json::object> PushService::effective(const std::string& user_id) {
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(user_id);
    if (it != cache_.end()) return it->second;
  }
  auto ov = overrides(user_id);
  auto rules = std::make_shared<const json::object>(
      effective_push_rules(user_id, ov.ok() ? *ov : json::object{}));
  std::lock_guard lock(mu_);
  if (cache_.size() > 100'000) cache_.clear();
  cache_[user_id] = rules;
  return rules;
}

boost::asio::awaitable<Status> PushService::edit(
    const std::string& user_id,
    std::function<Result<json::object>(const json::object& overrides)> change) {
  auto job = [user_id, change](storage::Txn& t) -> Status {
    DS_ASSIGN(json::object current, t.account_data().push_rule_overrides(user_id));
    DS_ASSIGN(json::object next, change(current));
    DS_TRY(t.account_data().set_push_rule_overrides(user_id, next));
    // Clients learn of rule changes from the m.push_rules account data in /sync.
    return t.account_data().put(user_id, "", "m.push_rules", effective_push_rules(user_id, next),
                                t.next_stream_pos());
  };
  auto r = co_await db_.transact<Ok>(job);
  {
    std::lock_guard lock(mu_);
    cache_.erase(user_id);
  }
  if (r.ok()) notifier_.notify_users({user_id});
  co_return r;
}

}  // namespace despatch
