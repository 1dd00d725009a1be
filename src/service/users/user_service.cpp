#include "service/users/user_service.h"

#include "core/base64.h"
#include "core/crypto.h"
#include "core/ids.h"
#include "service/common/time.h"
#include "service/keys/key_service.h"
#include "service/records/audit.h"
#include "service/users/erasure.h"
#include "storage/device_store.h"
#include "storage/membership_store.h"
#include "storage/room_store.h"
#include "storage/oauth_store.h"
#include "storage/user_store.h"

#include <sodium.h>

#include <algorithm>
#include <unordered_set>

namespace despatch {

namespace asio = boost::asio;
using storage::Conn;
using storage::Txn;

namespace {

// OWASP's argon2id floor: 19 MiB, 2 passes. Costs ~30 ms here; cheap enough for logins,
// dear enough for guessing.
constexpr unsigned long long kOpsLimit = 2;
constexpr size_t kMemLimit = 19u << 20;

std::string token_key(const std::string& token) { return access_token_key(token); }

DeviceInfo device_info(const storage::DeviceRow& d) {
  return {d.device_id, d.display_name.value_or(""), d.last_seen_ip.value_or(""), d.last_seen_ts};
}

}  // namespace

std::string access_token_key(const std::string& token) { return base64_encode(sha256(token)); }

Result<std::string> hash_password(const std::string& password) {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), kOpsLimit, kMemLimit) != 0)
    return Error::internal("password hashing failed (out of memory)");
  return std::string(out);
}

bool verify_password(const std::string& hash, const std::string& password) {
  if (hash.empty()) return false;
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

Status insert_user(Txn& t, const std::string& user_id, const std::string& password_hash, bool admin) {
  DS_ASSIGN(bool taken, t.users().exists(user_id));
  if (taken) return Error{400, errc::kUserInUse, "User ID already taken", {}};
  storage::UserAccount a;
  a.user_id = user_id;
  a.password_hash = password_hash;
  a.is_admin = admin;
  a.created_ts = now_ms();
  a.profile.displayname = std::string(localpart_of(user_id));
  return t.users().create(a);
}

UserService::UserService(const Config& config, storage::Database& db, CpuPool& cpu,
                         Notifier& notifier)
    : config_(config), db_(db), cpu_(cpu), notifier_(notifier) {}

Status UserService::remove_devices(Conn& c, Txn& t, const std::string& user,
                                   const std::vector<std::string>& devices,
                                   const std::string& keep, std::vector<std::string>* wake) {
  std::vector<std::string> ids = devices;
  if (ids.empty()) {
    DS_ASSIGN(auto all, t.devices().devices_of(user));
    for (auto& d : all)
      if (d.device_id != keep) ids.push_back(d.device_id);
  }
  for (auto& d : ids) {
    DS_TRY(t.users().remove_tokens(user, d));
    DS_TRY(t.oauth().remove_refresh_tokens(user, d));
    DS_TRY(t.devices().remove(user, d));
    DS_ASSIGN(auto w, KeyService::remove_device(t, user, d));
    wake->insert(wake->end(), w.begin(), w.end());
  }
  return ok_status();
}

Result<std::string> UserService::qualify(const std::string& user, bool new_user) const {
  std::string id = user;
  if (id.empty()) return Error::make(400, errc::kInvalidUsername, "User ID is empty");
  if (id[0] != '@') id = "@" + id + ":" + config_.server_name;
  if (server_name_of(id) != config_.server_name)
    return Error::make(400, errc::kInvalidUsername, "User is not on this server");
  if (new_user ? !is_valid_localpart(localpart_of(id)) || id.size() > 255 : !is_valid_user_id(id))
    return Error::make(400, errc::kInvalidUsername,
                       "User ID may only contain a-z, 0-9 and . _ = - / +");
  return id;
}

Result<bool> UserService::user_exists(const std::string& user_id) {
  return db_.read().users().exists(user_id);
}

Result<bool> UserService::is_available(const std::string& localpart) {
  DS_ASSIGN(std::string id, qualify(localpart, true));
  DS_ASSIGN(bool exists, user_exists(id));
  if (exists) return Error{400, errc::kUserInUse, "User ID already taken", {}};
  return true;
}

asio::awaitable<Result<std::string>> UserService::register_user(const std::string& localpart,
                                                                const std::string& password,
                                                                bool admin) {
  DS_CO_ASSIGN(std::string id, qualify(localpart, true));
  if (password.size() < config_.min_password_length)
    co_return Error::make(400, errc::kWeakPassword,
                          "Password must have at least " +
                              std::to_string(config_.min_password_length) + " characters");
  auto hash = co_await cpu_.run([&] { return hash_password(password); });
  if (!hash.ok()) co_return hash.error();
  auto job = [id, h = *hash, admin](Txn& t) -> Status { return insert_user(t, id, h, admin); };
  auto r = co_await db_.transact<Ok>(job);
  if (!r.ok()) co_return r.error();
  co_return id;
}

asio::awaitable<Result<bool>> UserService::password_ok(const std::string& user_id,
                                                       const std::string& password) {
  auto account = db_.read().users().account(user_id);
  if (!account.ok()) co_return account.error();
  if (!*account) co_return false;
  if ((*account)->deactivated) co_return Error{403, errc::kUserDeactivated, "This account is deactivated", {}};
  std::string hash = (*account)->password_hash.value_or("");
  bool ok = co_await cpu_.run([&] { return verify_password(hash, password); });
  if (!ok && alerts_) alerts_->signal("login.failed", user_id, {});
  co_return ok;
}

asio::awaitable<Result<LoginResult>> UserService::login(const std::string& user_id,
                                                        const std::string& password,
                                                        const std::string& device_id,
                                                        const std::string& display_name) {
  if (!config_.login.password_for_sso_users) {
    auto sso = db_.read().oauth().is_sso_user(user_id);
    if (!sso.ok()) co_return sso.error();
    if (*sso) co_return Error::forbidden("This account signs in with single sign-on: password login is switched off for it");
  }
  auto ok = co_await password_ok(user_id, password);
  if (!ok.ok()) co_return ok.error();
  if (!*ok) co_return Error::forbidden("Invalid username or password");
  co_return co_await open_session(user_id, device_id, display_name);
}

asio::awaitable<Result<LoginResult>> UserService::open_session(const std::string& user_id,
                                                               const std::string& device_id,
                                                               const std::string& display_name) {
  LoginResult out{user_id, device_id.empty() ? random_string(10) : device_id,
                  "dsp_" + random_string(40)};
  std::string key = token_key(out.access_token);
  auto job = [out, key, display_name](Txn& t) -> Status {
    int64_t now = now_ms();
    // Logging in again on a device replaces that device's old session.
    DS_TRY(t.users().remove_tokens(out.user_id, out.device_id));
    std::optional<std::string> name;
    if (!display_name.empty()) name = display_name;
    DS_TRY(t.devices().add_or_touch(out.user_id, out.device_id, name, now));
    return t.users().add_token(key, out.user_id, out.device_id, now);
  };
  auto r = co_await db_.transact<Ok>(job);
  if (!r.ok()) co_return r.error();
  forget_tokens_where([&](const Session& s) {
    return s.user_id == out.user_id && s.device_id == out.device_id;
  });
  co_return out;
}

namespace {

// An expired access token: a soft logout, the client refreshes it (spec "Soft logout").
Result<Session> unexpired(const Session& s) {
  if (s.expires_ts == 0 || now_ms() < s.expires_ts) return s;
  Error e{401, errc::kUnknownToken, "Access token has expired", {}};
  e.extra["soft_logout"] = true;
  return e;
}

}  // namespace

Result<Session> UserService::authenticate(const std::string& token) {
  std::string key = token_key(token);
  {
    std::lock_guard lock(mu_);
    auto it = token_cache_.find(key);
    if (it != token_cache_.end()) return unexpired(it->second);
  }
  DS_ASSIGN(auto owner, db_.read().users().token_owner(key));
  if (alerts_) {
    // A leaver's token: kept by deactivation (retired_tokens), or one a deactivation missed.
    std::optional<std::string> leaver;
    if (owner && owner->deactivated) leaver = owner->user_id;
    if (!owner) {
      DS_ASSIGN(leaver, db_.read().users().retired_token_owner(key));
    }
    if (leaver) alerts_->signal("token.deactivated", *leaver, {});
  }
  if (!owner || owner->deactivated) return unknown_token_error();
  Session s{owner->user_id, owner->device_id, owner->is_admin, owner->locked, owner->suspended, owner->expires_ts};
  std::lock_guard lock(mu_);
  if (token_cache_.size() > 200'000) token_cache_.clear();
  token_cache_[key] = s;
  return unexpired(s);
}

void UserService::forget_sessions(const std::string& user_id, const std::string& device_id) {
  forget_tokens_where([&](const Session& s) { return s.user_id == user_id && s.device_id == device_id; });
}

void UserService::forget_tokens_where(const std::function<bool(const Session&)>& pred) {
  std::lock_guard lock(mu_);
  for (auto it = token_cache_.begin(); it != token_cache_.end();)
    it = pred(it->second) ? token_cache_.erase(it) : std::next(it);
}

asio::awaitable<Status> UserService::logout(const std::string& token) {
  std::string key = token_key(token);
  std::vector<std::string> wake;
  auto job = [this, key, &wake](Conn& c) -> Status {
    auto t = db_.txn_over(c);
    DS_ASSIGN(auto owner, t->users().token_owner(key));
    if (!owner) return ok_status();
    // Logging out ends the device too, as the spec says for /logout.
    return remove_devices(c, *t, owner->user_id, {owner->device_id}, "", &wake);
  };
  auto r = co_await db_.write<Ok>(job);
  notifier_.notify_users(wake);
  std::lock_guard lock(mu_);
  token_cache_.erase(key);
  co_return r;
}

asio::awaitable<Status> UserService::logout_all(const std::string& user_id) {
  std::vector<std::string> wake;
  auto job = [this, user_id, &wake](Conn& c) -> Status {
    return remove_devices(c, *db_.txn_over(c), user_id, {}, "", &wake);
  };
  auto r = co_await db_.write<Ok>(job);
  forget_tokens_where([&](const Session& s) { return s.user_id == user_id; });
  notifier_.notify_users(wake);
  co_return r;
}

bool UserService::uia_session_open(const std::string& session) {
  std::lock_guard lock(mu_);
  auto it = uia_sessions_.find(session);
  return it != uia_sessions_.end() && it->second >= now_ms();
}

void UserService::complete_sso_uia(const std::string& session, const std::string& user_id) {
  std::lock_guard lock(mu_);
  if (uia_sessions_.count(session)) uia_sso_done_[session] = user_id;
}

asio::awaitable<Status> UserService::check_uia(const std::string& user_id, const json::value* auth) {
  int64_t now = now_ms();
  bool sso = false;
  if (config_.oidc.enabled()) {
    auto is_sso = db_.read().oauth().is_sso_user(user_id);
    sso = is_sso.ok() && *is_sso;
  }
  const char* stage = sso ? "m.login.sso" : "m.login.password";
  auto challenge = [&]() -> Error {
    std::string session = random_string(24);
    {
      std::lock_guard lock(mu_);
      if (uia_sessions_.size() > 10'000) {
        for (auto it = uia_sessions_.begin(); it != uia_sessions_.end();)
          it = it->second < now ? uia_sessions_.erase(it) : std::next(it);
      }
      uia_sessions_[session] = now + 15 * 60 * 1000;
    }
    Error e{401, errc::kUnauthorized, "Authentication required", {}};
    e.extra["flows"] = json::array{json::object{{"stages", json::array{stage}}}};
    e.extra["params"] = json::object{};
    e.extra["completed"] = json::array{};  // one stage: none is ever done when this is sent
    e.extra["session"] = session;
    return e;
  };
  if (!auth || !auth->is_object()) co_return challenge();
  if (sso) {
    // Done once the fallback page's sign-in was this account's; a session serves one request.
    auto* sid = auth->as_object().if_contains("session");
    std::string done;
    if (sid && sid->is_string()) {
      std::lock_guard lock(mu_);
      auto it = uia_sso_done_.find(std::string(sid->as_string()));
      if (it != uia_sso_done_.end()) {
        done = it->second;
        uia_sso_done_.erase(it);
        uia_sessions_.erase(std::string(sid->as_string()));
      }
    }
    if (!done.empty() && done == user_id) co_return ok_status();
    Error e = challenge();
    e.errcode = done.empty() ? errc::kUnauthorized : errc::kForbidden;
    e.message = done.empty() ? "Sign in again with single sign-on (m.login.sso) first"
                             : "The single sign-on was for another account";
    co_return e;
  }
  const auto& a = auth->as_object();
  auto* type = a.if_contains("type");
  if (!type || !type->is_string() || *type != "m.login.password") {
    Error e = challenge();
    e.errcode = errc::kUnrecognized;
    e.message = "Only m.login.password is supported";
    co_return e;
  }
  std::string who;
  if (auto* id = a.if_contains("identifier"); id && id->is_object()) {
    if (auto* u = id->as_object().if_contains("user"); u && u->is_string()) who = u->as_string().c_str();
  } else if (auto* u = a.if_contains("user"); u && u->is_string()) {
    who = u->as_string().c_str();
  }
  auto* pw = a.if_contains("password");
  if (!pw || !pw->is_string()) co_return Error::bad_json("auth.password must be a string");
  auto qualified = qualify(who.empty() ? user_id : who, false);
  if (!qualified.ok() || *qualified != user_id) {
    Error e = challenge();
    e.errcode = errc::kForbidden;
    e.message = "Authenticate as the account making the request";
    co_return e;
  }
  auto ok = co_await password_ok(user_id, std::string(pw->as_string()));
  if (!ok.ok()) co_return ok.error();
  if (!*ok) {
    Error e = challenge();
    e.errcode = errc::kForbidden;
    e.message = "Invalid password";
    co_return e;
  }
  co_return ok_status();
}

asio::awaitable<Status> UserService::set_password(const std::string& user_id,
                                                  const std::string& new_password,
                                                  bool logout_devices,
                                                  const std::string& keep_device) {
  if (!config_.login.password_for_sso_users) {
    auto sso = db_.read().oauth().is_sso_user(user_id);
    if (!sso.ok()) co_return sso.error();
    if (*sso) co_return Error::forbidden("This account signs in with single sign-on: it cannot have a password");
  }
  if (new_password.size() < config_.min_password_length)
    co_return Error::make(400, errc::kWeakPassword,
                          "Password must have at least " +
                              std::to_string(config_.min_password_length) + " characters");
  auto hash = co_await cpu_.run([&] { return hash_password(new_password); });
  if (!hash.ok()) co_return hash.error();
  std::vector<std::string> wake;
  auto job = [=, this, &wake, h = *hash](Conn& c) -> Status {
    auto t = db_.txn_over(c);
    DS_TRY(t->users().set_password_hash(user_id, h));
    if (!logout_devices) return ok_status();
    return remove_devices(c, *t, user_id, {}, keep_device, &wake);
  };
  auto r = co_await db_.write<Ok>(job);
  notifier_.notify_users(wake);
  if (r.ok() && logout_devices)
    forget_tokens_where([&](const Session& s) { return s.user_id == user_id && s.device_id != keep_device; });
  co_return r;
}

Result<json::object> UserService::get_profile(const std::string& user_id) {
  DS_ASSIGN(auto profile, db_.read().users().profile(user_id));
  if (!profile) return Error::not_found("Profile not found");
  json::object out;
  if (profile->displayname) out["displayname"] = *profile->displayname;
  if (profile->avatar_url) out["avatar_url"] = *profile->avatar_url;
  return out;
}

asio::awaitable<Status> UserService::set_profile_field(const std::string& user_id,
                                                       const std::string& field,
                                                       const std::string& value) {
  // An empty value clears the field.
  std::optional<std::string> v;
  if (!value.empty()) v = value;
  bool avatar = field == "avatar_url";
  auto job = [avatar, v, user_id](Txn& t) -> Status {
    return avatar ? t.users().set_avatar_url(user_id, v) : t.users().set_displayname(user_id, v);
  };
  co_return co_await db_.transact<Ok>(job);
}

Result<std::vector<DeviceInfo>> UserService::list_devices(const std::string& user_id) {
  DS_ASSIGN(auto devices, db_.read().devices().devices_of(user_id));
  std::vector<DeviceInfo> out;
  for (auto& d : devices) out.push_back(device_info(d));
  return out;
}

Result<DeviceInfo> UserService::get_device(const std::string& user_id, const std::string& device_id) {
  DS_ASSIGN(auto d, db_.read().devices().device(user_id, device_id));
  if (!d) return Error::not_found("Unknown device");
  return device_info(*d);
}

asio::awaitable<Status> UserService::update_device(const std::string& user_id,
                                                   const std::string& device_id,
                                                   const std::string& display_name) {
  std::vector<std::string> wake;
  auto job = [=, &wake](Txn& t) -> Status {
    DS_ASSIGN(bool found, t.devices().set_display_name(user_id, device_id, display_name));
    if (!found) return Error::not_found("Unknown device");
    // The display name is part of what other users (and servers) see of the device.
    DS_ASSIGN(wake, KeyService::mark_changed(t, user_id, device_id));
    return ok_status();
  };
  auto r = co_await db_.transact<Ok>(job);
  if (r.ok()) notifier_.notify_users(wake);
  co_return r;
}

asio::awaitable<Status> UserService::delete_devices(const std::string& user_id,
                                                    const std::vector<std::string>& device_ids) {
  std::vector<std::string> wake;
  auto job = [=, this, &wake](Conn& c) -> Status {
    if (device_ids.empty()) return ok_status();
    return remove_devices(c, *db_.txn_over(c), user_id, device_ids, "", &wake);
  };
  auto r = co_await db_.write<Ok>(job);
  notifier_.notify_users(wake);
  forget_tokens_where([&](const Session& s) {
    return s.user_id == user_id &&
           std::find(device_ids.begin(), device_ids.end(), s.device_id) != device_ids.end();
  });
  co_return r;
}

Result<json::array> UserService::search_directory(const std::string& searcher,
                                                  const std::string& term, size_t limit,
                                                  bool* limited) {
  // Longer terms name no one, and an unbounded pattern is work for the database.
  if (term.size() > kMaxSearchTermBytes)
    return Error::invalid_param("search_term is too long (at most " + std::to_string(kMaxSearchTermBytes) + " bytes)");
  storage::Stores& s = db_.read();
  // Visible: the searcher, users sharing a joined room with the searcher, and users joined
  // to a public room.
  DS_ASSIGN(auto co_members, s.memberships().co_members(searcher));
  std::unordered_set<std::string> shares_room(co_members.begin(), co_members.end());
  DS_ASSIGN(auto public_rooms, s.rooms().public_rooms());
  std::unordered_set<std::string> is_public(public_rooms.begin(), public_rooms.end());
  auto visible = [&](const std::string& user) -> Result<bool> {
    if (user == searcher || shares_room.count(user)) return true;
    if (is_public.empty()) return false;
    DS_ASSIGN(auto joined, s.memberships().rooms_with(user, {"join"}));
    return std::any_of(joined.begin(), joined.end(), [&](const std::string& r) { return is_public.count(r) > 0; });
  };
  // Matches come in user ID order, a page at a time, until limit + 1 visible ones (the one
  // beyond the limit only says that the answer is limited).
  const size_t page = std::max<size_t>(limit + 1, 50);
  std::vector<storage::UserMatch> found;
  std::string after;
  for (;;) {
    DS_ASSIGN(auto matches, s.users().search(term, after, page));
    for (auto& m : matches) {
      after = m.user_id;
      DS_ASSIGN(bool v, visible(m.user_id));
      if (v) found.push_back(std::move(m));
      if (found.size() > limit) break;
    }
    if (found.size() > limit || matches.size() < page) break;
  }
  json::array out;
  *limited = found.size() > limit;
  for (size_t i = 0; i < found.size() && i < limit; ++i) {
    json::object u{{"user_id", found[i].user_id}};
    if (found[i].profile.displayname) u["display_name"] = *found[i].profile.displayname;
    if (found[i].profile.avatar_url) u["avatar_url"] = *found[i].profile.avatar_url;
    out.push_back(std::move(u));
  }
  return out;
}

}  // namespace despatch
