#include "service/users/erasure.h"

#include <mutex>
#include <shared_mutex>
#include <unordered_set>

namespace despatch {

namespace {
std::shared_mutex g_mu;
std::unordered_set<std::string> g_erased;
}  // namespace

Status load_erased_users(storage::Conn& c) {
  DS_ASSIGN(auto rows, c.query("SELECT user_id FROM users WHERE erased=1"));
  std::unique_lock lock(g_mu);
  for (auto& r : rows) g_erased.insert(r.str(0));
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
