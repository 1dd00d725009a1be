#include "service/users/erasure.h"

#include "storage/user_store.h"

#include <mutex>
#include <shared_mutex>
#include <unordered_set>

namespace despatch {

namespace {
std::shared_mutex g_mu;
std::unordered_set<std::string> g_erased;
}  // namespace

Status load_erased_users(storage::Stores& s) {
  DS_ASSIGN(auto users, s.users().erased_users());
  std::unique_lock lock(g_mu);
  for (auto& u : users) g_erased.insert(std::move(u));
  return ok_status();
}

void mark_erased(const std::string& user_id) {
  std::unique_lock lock(g_mu);
  g_erased.insert(user_id);
}

bool is_erased(const std::string& user_id) {
  std::shared_lock lock(g_mu);
  return !g_erased.empty() && g_erased.count(user_id);
}

}  // namespace despatch
