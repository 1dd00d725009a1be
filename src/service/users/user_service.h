// Accounts, devices, access tokens, passwords and user-interactive auth.
#pragma once

#include "core/config.h"
#include "core/result.h"
#include "service/common/cpu_pool.h"
#include "service/notifier/notifier.h"
#include "service/policy/alerts.h"
#include "storage/database.h"

#include <boost/asio/awaitable.hpp>

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace despatch {

// A resolved access token.
struct Session {
  std::string user_id;
  std::string device_id;
  bool is_admin = false;
  int64_t expires_ts = 0;  // ms; 0: the token never expires
};

struct LoginResult {
  std::string user_id, device_id, access_token;
};

// A registration's user-interactive auth session: the parameters of the request that
// opened it, so that the request completing it need not repeat them, and the account it
// made, so that a retry of a completed session answers with the same account.
struct RegistrationSession {
  json::object params;
  std::string user_id;  // empty until the account is made
};

struct DeviceInfo {
  std::string device_id, display_name, last_seen_ip;
  int64_t last_seen_ts = 0;
};

// The longest user directory or room directory search term accepted.
inline constexpr size_t kMaxSearchTermBytes = 256;

// Argon2id hashing (libsodium). Slow on purpose: call through CpuPool from request paths.
Result<std::string> hash_password(const std::string& password);
bool verify_password(const std::string& hash, const std::string& password);

// The key an access token is stored under (its hash; the token itself is never stored).
std::string access_token_key(const std::string& token);

// Inside a write job: creates a user (display name: the localpart), M_USER_IN_USE when the
// ID is taken. Used by registration, `despatch user add` and the records keeper.
Status insert_user(storage::Txn& t, const std::string& user_id, const std::string& password_hash,
                   bool admin);

class UserService {
 public:
  UserService(const Config& config, storage::Database& db, CpuPool& cpu, Notifier& notifier);

  // Full user ID for a localpart or user ID given at login/registration; validates grammar.
  Result<std::string> qualify(const std::string& user, bool new_user) const;

  boost::asio::awaitable<Result<std::string>> register_user(const std::string& localpart,
                                                            const std::string& password,
                                                            bool admin);
  Result<bool> is_available(const std::string& localpart);
  // Registration sessions (registration.cpp), kept in memory for 15 minutes.
  std::string start_registration(json::object params);
  std::optional<RegistrationSession> registration(const std::string& session);
  void finish_registration(const std::string& session, const std::string& user_id);

  // Checks the password and opens a session on a new (or the named) device.
  boost::asio::awaitable<Result<LoginResult>> login(const std::string& user_id,
                                                    const std::string& password,
                                                    const std::string& device_id,
                                                    const std::string& display_name);
  // Opens a session without a password (after registration).
  boost::asio::awaitable<Result<LoginResult>> open_session(const std::string& user_id,
                                                           const std::string& device_id,
                                                           const std::string& display_name);
  Result<Session> authenticate(const std::string& token);
  // Drops cached sessions of one device, after a write job outside this service (the OAuth
  // token endpoint) replaced its access token.
  void forget_sessions(const std::string& user_id, const std::string& device_id);
  boost::asio::awaitable<Status> logout(const std::string& token);
  boost::asio::awaitable<Status> logout_all(const std::string& user_id);

  // User-interactive auth with m.login.password. Returns ok when `auth` completes it, else the
  // 401 error carrying flows and a session for the client to retry with.
  // Accounts single sign-on made have no password: they are offered m.login.sso, completed
  // through its fallback page (complete_sso_uia) and then retried with the session.
  boost::asio::awaitable<Status> check_uia(const std::string& user_id, const json::value* auth);
  // Whether session is a user-interactive auth session still open.
  bool uia_session_open(const std::string& session);
  // The provider signed user_id in for this session's m.login.sso stage.
  void complete_sso_uia(const std::string& session, const std::string& user_id);

  boost::asio::awaitable<Status> set_password(const std::string& user_id,
                                              const std::string& new_password, bool logout_devices,
                                              const std::string& keep_device);
  // Marks the account deactivated and ends all its sessions.
  // erase: the user's messages are then served redacted to everyone else (never removed
  // from the records archive).
  boost::asio::awaitable<Status> deactivate(const std::string& user_id, bool erase);
  // The same at the user's own request (POST /account/deactivate), with its audit log entry
  // in the same commit.
  boost::asio::awaitable<Status> deactivate_self(const std::string& user_id, bool erase);

  Result<bool> user_exists(const std::string& user_id);
  Result<json::object> get_profile(const std::string& user_id);
  boost::asio::awaitable<Status> set_profile_field(const std::string& user_id,
                                                   const std::string& field,
                                                   const std::string& value);

  Result<std::vector<DeviceInfo>> list_devices(const std::string& user_id);
  Result<DeviceInfo> get_device(const std::string& user_id, const std::string& device_id);
  boost::asio::awaitable<Status> update_device(const std::string& user_id,
                                               const std::string& device_id,
                                               const std::string& display_name);
  boost::asio::awaitable<Status> delete_devices(const std::string& user_id,
                                                const std::vector<std::string>& device_ids);

  // Users whose ID or display name contains term, visible to searcher (shares a room or is
  // in a public room). M_INVALID_PARAM for a term over kMaxSearchTermBytes.
  Result<json::array> search_directory(const std::string& searcher, const std::string& term,
                                       size_t limit, bool* limited);

  const Config& config() const { return config_; }
  // Wrong passwords for existing accounts and deactivated accounts' tokens are reported
  // here as suspicious-activity signals; null: not reported.
  void set_alerts(AlertService* alerts) { alerts_ = alerts; }

 private:
  void forget_tokens_where(const std::function<bool(const Session&)>& pred);
  // Inside a write job: removes devices (all of user's when devices is empty, except keep)
  // with their tokens and keys; adds who must hear of it to wake. t is the job's
  // transaction; c the same one as a connection, for KeyService::remove_device, which still
  // takes one.
  Status remove_devices(storage::Conn& c, storage::Txn& t, const std::string& user,
                        const std::vector<std::string>& devices, const std::string& keep,
                        std::vector<std::string>* wake);
  // deactivate and deactivate_self; audit_details: the self-deactivation's audit entry.
  boost::asio::awaitable<Status> deactivate_account(const std::string& user_id, bool erase,
                                                    std::optional<json::object> audit_details);
  boost::asio::awaitable<Result<bool>> password_ok(const std::string& user_id,
                                                   const std::string& password);

  const Config& config_;
  storage::Database& db_;
  AlertService* alerts_ = nullptr;
  CpuPool& cpu_;
  Notifier& notifier_;
  std::mutex mu_;
  std::unordered_map<std::string, Session> token_cache_;  // token hash -> session
  std::unordered_map<std::string, int64_t> uia_sessions_;  // session id -> expiry (ms)
  std::unordered_map<std::string, std::string> uia_sso_done_;  // session id -> who signed in for it
  std::unordered_map<std::string, std::pair<RegistrationSession, int64_t>> registrations_;  // id -> (session, expiry)
};

}  // namespace despatch
