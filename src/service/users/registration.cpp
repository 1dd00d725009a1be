// Registration's user-interactive auth sessions (see RegistrationSession).
#include "service/users/user_service.h"

#include "core/ids.h"
#include "service/common/time.h"

namespace despatch {

namespace {

constexpr int64_t kRegistrationSessionMs = 15 * 60 * 1000;
constexpr size_t kMaxRegistrationSessions = 10'000;

}  // namespace

std::string UserService::start_registration(json::object params) {
  std::string id = random_string(24);
  int64_t now = now_ms();
  std::lock_guard lock(mu_);
  if (registrations_.size() >= kMaxRegistrationSessions)
    for (auto it = registrations_.begin(); it != registrations_.end();)
      it = it->second.second < now ? registrations_.erase(it) : std::next(it);
  if (registrations_.size() >= kMaxRegistrationSessions) registrations_.erase(registrations_.begin());
  registrations_[id] = {RegistrationSession{std::move(params), ""}, now + kRegistrationSessionMs};
  return id;
}

std::optional<RegistrationSession> UserService::registration(const std::string& session) {
  std::lock_guard lock(mu_);
  auto it = registrations_.find(session);
  if (it == registrations_.end() || it->second.second < now_ms()) return std::nullopt;
  return it->second.first;
}

void UserService::finish_registration(const std::string& session, const std::string& user_id) {
  std::lock_guard lock(mu_);
  if (auto it = registrations_.find(session); it != registrations_.end()) it->second.first.user_id = user_id;
}

}  // namespace despatch
