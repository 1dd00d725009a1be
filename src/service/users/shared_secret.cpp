#include "service/users/shared_secret.h"

#include "core/hmac.h"
#include "core/ids.h"
#include "service/common/time.h"

#include <fstream>

namespace despatch {

namespace asio = boost::asio;

namespace {
constexpr int64_t kNonceMs = 60'000;
}  // namespace

SharedSecretRegistration::SharedSecretRegistration(const Config& config, UserService& users)
    : config_(config), users_(users), secret_(config.admin_registration_shared_secret) {}

Status SharedSecretRegistration::load() {
  if (config_.admin_registration_shared_secret_file.empty()) return ok_status();
  std::ifstream in(config_.admin_registration_shared_secret_file);
  if (!in) return Error::invalid_param("cannot read [admin] registration_shared_secret_file " +
                                       config_.admin_registration_shared_secret_file);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.empty()) return Error::invalid_param("[admin] registration_shared_secret_file is empty");
  secret_ = line;
  return ok_status();
}

Result<std::string> SharedSecretRegistration::nonce() {
  if (!enabled()) return Error::forbidden("Shared secret registration is not enabled");
  std::string n = random_string(32);
  int64_t now = now_ms();
  std::lock_guard lock(mu_);
  if (nonces_.size() > 10'000)
    for (auto it = nonces_.begin(); it != nonces_.end();) it = it->second < now ? nonces_.erase(it) : std::next(it);
  nonces_[n] = now + kNonceMs;
  return n;
}

asio::awaitable<Result<LoginResult>> SharedSecretRegistration::register_user(SharedSecretRequest req) {
  if (!enabled()) co_return Error::forbidden("Shared secret registration is not enabled");
  {
    std::lock_guard lock(mu_);
    auto it = nonces_.find(req.nonce);
    bool fresh = it != nonces_.end() && it->second >= now_ms();
    if (it != nonces_.end()) nonces_.erase(it);
    if (!fresh) co_return Error::unknown("Unrecognised nonce");
  }
  std::string msg = req.nonce;
  msg.push_back('\0');
  msg += req.username;
  msg.push_back('\0');
  msg += req.password;
  msg.push_back('\0');
  msg += req.admin ? "admin" : "notadmin";
  if (!constant_time_equal(hmac_sha1_hex(secret_, msg), req.mac)) co_return Error::forbidden("HMAC incorrect");
  DS_CO_ASSIGN(std::string user_id, co_await users_.register_user(req.username, req.password, req.admin));
  if (!req.displayname.empty()) {
    const std::string field = "displayname";
    DS_CO_TRY(co_await users_.set_profile_field(user_id, field, req.displayname));
  }
  const std::string device, device_name = "shared-secret registration";
  co_return co_await users_.open_session(user_id, device, device_name);
}

}  // namespace despatch
