// Accounts, devices, access tokens, passwords and user-interactive auth.
#pragma once

#include "core/config.h"
#include "core/result.h"
#include "service/common/cpu_pool.h"
#include "service/notifier/notifier.h"
#include "service/policy/alerts.h"
#include "storage/database.h"
#include "storage/user_store.h"

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
  bool locked = false;     // every request but logout is refused with M_USER_LOCKED
  bool suspended = false;  // new activity is refused with M_USER_SUSPENDED
  int64_t expires_ts = 0;  // ms; 0: the token never expires
};

// Who changed an account and under which case: kept in the audit log and the account
// changes log.
struct AccountActor {
  std::string actor;     // a user ID (the user themselves too), "cli:<login>", "scim:<token name>"
  std::string case_ref;  // may be empty
  std::string via;       // the trigger: "admin_api", "synapse_admin", "cli", "scim", "self"
};

// The 401 for a token that no longer opens a session (soft_logout false: log in again).
Error unknown_token_error();
// The 401 of spec 1.18 for a locked account (soft_logout true: keep the session).
Error user_locked_error();
Error user_suspended_error();

// Inside a write job of any process: the part of a deactivation that needs no stream
// position, so that `despatch user deactivate` may run it beside a running server. Marks the
// account deactivated (erase: erased too), keeps its tokens as retired and ends every
// session, audits who did it and appends the change to the account changes log (not done:
// the server that next reads the log removes devices and keys, withdraws invites and leaves
// the rooms). Returns the change's seq.
Result<int64_t> cut_off_account(storage::Txn& t, const std::string& user_id, bool erase, const AccountActor& by);
// Inside a write job: appends a done account change and its audit entry ("user.<action>").
Result<int64_t> log_account_change(storage::Txn& t, const std::string& user_id, const std::string& action,
                                   const AccountActor& by, json::object details);

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
  // Whether the session of user's device is still open, read from committed data: what a
  // parked /sync checks each time it wakes. M_UNKNOWN_TOKEN once the account is deactivated
  // or the device gone, M_USER_LOCKED while the account is locked.
  Status check_session(const std::string& user_id, const std::string& device_id);
  // Drops cached sessions of the user (after a change made outside this process, read from
  // the account changes log).
  void forget_sessions(const std::string& user_id);
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
  // The cut-off of a leaver, in one commit: cut_off_account, and the devices with their keys
  // removed (members sharing a room hear of the device list change); then every parked
  // request of the user is woken, to find its session gone. Returns the account change's
  // seq. erase: the user's messages are then served redacted to everyone else (never
  // removed from the records archive). Called through Leavers, which also takes the user
  // out of their rooms.
  boost::asio::awaitable<Result<int64_t>> deactivate(const std::string& user_id, bool erase, AccountActor by);
  // Account moderation (spec 1.18). Each change is audited and logged in one commit; the
  // user's cached sessions are dropped and their parked requests woken.
  boost::asio::awaitable<Status> set_locked(const std::string& user_id, bool locked, AccountActor by);
  boost::asio::awaitable<Status> set_suspended(const std::string& user_id, bool suspended, AccountActor by);
  // An administrator's password reset: ends every session but keeps the devices.
  boost::asio::awaitable<Status> reset_password(const std::string& user_id, const std::string& new_password,
                                                bool logout_devices, AccountActor by);
  // Undoes a deactivation (Synapse's admin API): a new password is required.
  boost::asio::awaitable<Status> reactivate(const std::string& user_id, const std::string& new_password,
                                            AccountActor by);
  Result<std::optional<storage::UserAccount>> account(const std::string& user_id);
  // Makes the account a server administrator or not (audited, logged).
  boost::asio::awaitable<Status> set_admin(const std::string& user_id, bool admin, AccountActor by);
  Result<storage::UserPage> list_accounts(const storage::UserQuery& q);
  // Wakes the user's parked requests (after a change another process made).
  void wake(const std::string& user_id) { notifier_.notify_users({user_id}); }

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
