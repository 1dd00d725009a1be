#include "service/push/push_service.h"

namespace despatch {

Result<json::object> PushService::load(storage::Conn& c, const std::string& user_id) {
  DS_ASSIGN(auto row, storage::query_one(c, "SELECT overrides FROM push_rules WHERE user_id=?", {user_id}));
  if (!row) return json::object{};
  boost::system::error_code ec;
  auto v = json::parse(row->str(0), ec);
  if (ec || !v.is_object()) return json::object{};
  return v.as_object();
}

Result<json::object> PushService::overrides(const std::string& user_id) {
  return load(db_.reader(), user_id);
}

std::shared_ptr<const json::object> PushService::effective(const std::string& user_id) {
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(user_id);
    if (it != cache_.end()) return it->second;
  }
  auto ov = load(db_.reader(), user_id);
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
  auto job = [this, user_id, change](storage::Conn& c) -> Status {
    DS_ASSIGN(json::object current, load(c, user_id));
    DS_ASSIGN(json::object next, change(current));
    DS_TRY(c.exec("INSERT INTO push_rules(user_id, overrides) VALUES(?,?) ON CONFLICT(user_id) "
                  "DO UPDATE SET overrides=excluded.overrides",
                  {user_id, json::serialize(next)}));
    // Clients learn of rule changes from the m.push_rules account data in /sync.
    return c.exec("INSERT INTO account_data(user_id, room_id, type, content, stream_pos) "
                  "VALUES(?, '', 'm.push_rules', ?, ?) ON CONFLICT(user_id, room_id, type) DO "
                  "UPDATE SET content=excluded.content, stream_pos=excluded.stream_pos",
                  {user_id, json::serialize(effective_push_rules(user_id, next)),
                   db_.next_stream_pos()});
  };
  auto r = co_await db_.write<Ok>(job);
  std::lock_guard lock(mu_);
  cache_.erase(user_id);
  co_return r;
}

}  // namespace despatch
