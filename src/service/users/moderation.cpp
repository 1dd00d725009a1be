// Leavers' cut-off, account locking and suspension (spec 1.18), administrators' password
// resets: the account changes that must reach every session at once, in this process or,
// through the account changes log, in a server running beside the command line.
#include "service/users/user_service.h"

#include "core/ids.h"
#include "service/common/time.h"
#include "service/records/audit.h"
#include "service/users/erasure.h"
#include "storage/account_change_store.h"
#include "storage/device_store.h"
#include "storage/user_store.h"

namespace despatch {

namespace asio = boost::asio;
using storage::Conn;
using storage::Txn;

Error unknown_token_error() {
  Error e{401, errc::kUnknownToken, "Unknown or expired access token", {}};
  e.extra["soft_logout"] = false;
  return e;
}

Error user_locked_error() {
  Error e{401, errc::kUserLocked, "This account has been locked", {}};
  e.extra["soft_logout"] = true;
  return e;
}

Error user_suspended_error() {
  return Error{403, errc::kUserSuspended, "You cannot perform this action while suspended", {}};
}

Result<int64_t> log_account_change(Txn& t, const std::string& user_id, const std::string& action,
                                   const AccountActor& by, json::object details) {
  details["user_id"] = user_id;
  if (!by.via.empty()) details["via"] = by.via;
  DS_TRY(audit_append(t, by.actor, "user." + action, by.case_ref, details));
  storage::AccountChange c;
  c.user_id = user_id;
  c.action = action;
  c.actor = by.actor;
  c.details = json::serialize(details);
  c.ts = now_ms();
  c.done_ts = c.ts;
  return t.account_changes().append(c);
}

Result<int64_t> cut_off_account(Txn& t, const std::string& user_id, bool erase, const AccountActor& by) {
  DS_ASSIGN(auto account, t.users().account(user_id));
  if (!account) return Error::not_found("Unknown user");
  DS_TRY(t.users().deactivate(user_id, erase || account->erased));
  DS_TRY(t.users().retire_tokens(user_id, now_ms()));
  DS_TRY(t.users().remove_all_tokens(user_id));
  json::object details{{"user_id", user_id}, {"erase", erase}};
  if (!by.via.empty()) details["via"] = by.via;
  if (by.via == "self") details["by"] = "self";
  DS_TRY(audit_append(t, by.actor, "user.deactivate", by.case_ref, details));
  storage::AccountChange c;
  c.user_id = user_id;
  c.action = "deactivate";
  c.actor = by.actor;
  c.details = json::serialize(details);
  c.ts = now_ms();
  return t.account_changes().append(c);  // done once the rooms are dealt with
}

asio::awaitable<Result<int64_t>> UserService::deactivate(const std::string& user_id, bool erase, AccountActor by) {
  std::vector<std::string> wake;
  auto job = [this, user_id, erase, by, &wake](Conn& c) -> Result<int64_t> {
    auto t = db_.txn_over(c);
    DS_ASSIGN(int64_t seq, cut_off_account(*t, user_id, erase, by));
    DS_TRY(remove_devices(c, *t, user_id, {}, "", &wake));
    return seq;
  };
  auto r = co_await db_.write<int64_t>(job);
  if (r.ok() && erase) mark_erased(user_id);
  forget_sessions(user_id);
  wake.push_back(user_id);  // their own parked requests: each finds its session gone
  notifier_.notify_users(wake);
  co_return r;
}

asio::awaitable<Status> UserService::set_locked(const std::string& user_id, bool locked, AccountActor by) {
  auto job = [user_id, locked, by](Txn& t) -> Status {
    DS_ASSIGN(auto account, t.users().account(user_id));
    if (!account || account->deactivated) return Error::not_found("Unknown or deactivated user");
    DS_TRY(t.users().set_locked(user_id, locked));
    DS_TRY(log_account_change(t, user_id, locked ? "lock" : "unlock", by, {}));
    return ok_status();
  };
  auto r = co_await db_.transact<Ok>(job);
  forget_sessions(user_id);
  notifier_.notify_users({user_id});
  co_return r;
}

asio::awaitable<Status> UserService::set_suspended(const std::string& user_id, bool suspended, AccountActor by) {
  auto job = [user_id, suspended, by](Txn& t) -> Status {
    DS_ASSIGN(auto account, t.users().account(user_id));
    if (!account || account->deactivated) return Error::not_found("Unknown or deactivated user");
    DS_TRY(t.users().set_suspended(user_id, suspended));
    DS_TRY(log_account_change(t, user_id, suspended ? "suspend" : "unsuspend", by, {}));
    return ok_status();
  };
  auto r = co_await db_.transact<Ok>(job);
  forget_sessions(user_id);
  co_return r;
}

asio::awaitable<Status> UserService::reset_password(const std::string& user_id, const std::string& new_password,
                                                    bool logout_devices, AccountActor by) {
  if (new_password.size() < config_.min_password_length)
    co_return Error::make(400, errc::kWeakPassword,
                          "Password must have at least " + std::to_string(config_.min_password_length) +
                              " characters");
  auto hash = co_await cpu_.run([&] { return hash_password(new_password); });
  if (!hash.ok()) co_return hash.error();
  auto job = [user_id, logout_devices, by, h = *hash](Txn& t) -> Status {
    DS_ASSIGN(auto account, t.users().account(user_id));
    if (!account || account->deactivated) return Error::not_found("Unknown or deactivated user");
    DS_TRY(t.users().set_password_hash(user_id, h));
    if (logout_devices) DS_TRY(t.users().remove_all_tokens(user_id));
    DS_TRY(log_account_change(t, user_id, "password", by, json::object{{"logout_devices", logout_devices}}));
    return ok_status();
  };
  auto r = co_await db_.transact<Ok>(job);
  if (logout_devices) {
    forget_sessions(user_id);
    notifier_.notify_users({user_id});
  }
  co_return r;
}

asio::awaitable<Status> UserService::reactivate(const std::string& user_id, const std::string& new_password,
                                                AccountActor by) {
  if (new_password.size() < config_.min_password_length)
    co_return Error::make(400, errc::kWeakPassword, "Reactivating an account needs a new password");
  auto hash = co_await cpu_.run([&] { return hash_password(new_password); });
  if (!hash.ok()) co_return hash.error();
  auto job = [user_id, by, h = *hash](Txn& t) -> Status {
    DS_ASSIGN(auto account, t.users().account(user_id));
    if (!account) return Error::not_found("Unknown user");
    if (!account->deactivated) return ok_status();
    DS_TRY(t.users().reactivate(user_id));
    DS_TRY(t.users().set_password_hash(user_id, h));
    DS_TRY(log_account_change(t, user_id, "reactivate", by, {}));
    return ok_status();
  };
  co_return co_await db_.transact<Ok>(job);
}

asio::awaitable<Status> UserService::set_admin(const std::string& user_id, bool admin, AccountActor by) {
  auto job = [user_id, admin, by](Txn& t) -> Status {
    DS_ASSIGN(auto account, t.users().account(user_id));
    if (!account) return Error::not_found("Unknown user");
    if (account->is_admin == admin) return ok_status();
    DS_TRY(t.users().set_admin(user_id, admin));
    DS_TRY(log_account_change(t, user_id, admin ? "admin_granted" : "admin_revoked", by, {}));
    return ok_status();
  };
  auto r = co_await db_.transact<Ok>(job);
  forget_sessions(user_id);
  co_return r;
}

Result<std::optional<storage::UserAccount>> UserService::account(const std::string& user_id) {
  return db_.read().users().account(user_id);
}

Result<storage::UserPage> UserService::list_accounts(const storage::UserQuery& q) {
  return db_.read().users().list(q);
}

Status UserService::check_session(const std::string& user_id, const std::string& device_id) {
  storage::Stores& s = db_.read();
  DS_ASSIGN(auto account, s.users().account(user_id));
  if (!account || account->deactivated) return unknown_token_error();
  // Ended sessions (logout, a removed device, a password reset) have no token left.
  DS_ASSIGN(bool open, s.users().has_token(user_id, device_id));
  if (!open) return unknown_token_error();
  if (account->locked) return user_locked_error();
  return ok_status();
}

void UserService::forget_sessions(const std::string& user_id) {
  forget_tokens_where([&](const Session& s) { return s.user_id == user_id; });
}

}  // namespace despatch
