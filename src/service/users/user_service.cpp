#include "service/users/user_service.h"

#include "core/base64.h"
#include "core/crypto.h"
#include "core/ids.h"
#include "service/common/time.h"
#include "service/keys/key_service.h"
#include "service/users/erasure.h"

#include <sodium.h>

namespace despatch {

namespace asio = boost::asio;
using storage::Conn;
using storage::Params;

namespace {

// OWASP's argon2id floor: 19 MiB, 2 passes. Costs ~30 ms here; cheap enough for logins,
// dear enough for guessing.
constexpr unsigned long long kOpsLimit = 2;
constexpr size_t kMemLimit = 19u << 20;

std::string token_key(const std::string& token) { return base64_encode(sha256(token)); }

}  // namespace

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

Status insert_user(Conn& conn, const std::string& user_id, const std::string& password_hash,
                   bool admin) {
  DS_ASSIGN(auto existing, storage::query_one(conn, "SELECT 1 FROM users WHERE user_id=?", {user_id}));
  if (existing) return Error{400, errc::kUserInUse, "User ID already taken", {}};
  return conn.exec(
      "INSERT INTO users(user_id, password_hash, is_admin, created_ts, displayname) "
      "VALUES(?,?,?,?,?)",
      {user_id, password_hash, int64_t{admin ? 1 : 0}, now_ms(),
       std::string(localpart_of(user_id))});
}

UserService::UserService(const Config& config, storage::Database& db, CpuPool& cpu,
                         Notifier& notifier)
    : config_(config), db_(db), cpu_(cpu), notifier_(notifier) {}

Status UserService::remove_devices(Conn& c, const std::string& user,
                                   const std::vector<std::string>& devices,
                                   const std::string& keep, std::vector<std::string>* wake) {
  std::vector<std::string> ids = devices;
  if (ids.empty()) {
    DS_ASSIGN(auto rows, c.query("SELECT device_id FROM devices WHERE user_id=?", {user}));
    for (auto& r : rows)
      if (r.str(0) != keep) ids.push_back(r.str(0));
  }
  for (auto& d : ids) {
    DS_TRY(c.exec("DELETE FROM access_tokens WHERE user_id=? AND device_id=?", {user, d}));
    DS_TRY(c.exec("DELETE FROM devices WHERE user_id=? AND device_id=?", {user, d}));
    DS_ASSIGN(auto w, KeyService::remove_device(*db_.txn_over(c), user, d));
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
  DS_ASSIGN(auto row, storage::query_one(db_.reader(), "SELECT 1 FROM users WHERE user_id=?", {user_id}));
  return row.has_value();
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
  auto job = [id, h = *hash, admin](Conn& c) -> Status { return insert_user(c, id, h, admin); };
  auto r = co_await db_.write<Ok>(
      job);
  if (!r.ok()) co_return r.error();
  co_return id;
}

asio::awaitable<Result<bool>> UserService::password_ok(const std::string& user_id,
                                                       const std::string& password) {
  auto row = storage::query_one(db_.reader(),
                                "SELECT password_hash, deactivated FROM users WHERE user_id=?",
                                {user_id});
  if (!row.ok()) co_return row.error();
  if (!*row) co_return false;
  if ((*row)->i64(1)) co_return Error{403, errc::kUserDeactivated, "This account is deactivated", {}};
  std::string hash = (*row)->str(0);
  bool ok = co_await cpu_.run([&] { return verify_password(hash, password); });
  co_return ok;
}

asio::awaitable<Result<LoginResult>> UserService::login(const std::string& user_id,
                                                        const std::string& password,
                                                        const std::string& device_id,
                                                        const std::string& display_name) {
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
  auto job = [out, key, display_name](Conn& c) -> Status {
    int64_t now = now_ms();
    // Logging in again on a device replaces that device's old session.
    DS_TRY(c.exec("DELETE FROM access_tokens WHERE user_id=? AND device_id=?",
                  {out.user_id, out.device_id}));
    DS_TRY(c.exec("INSERT INTO devices(user_id, device_id, display_name, created_ts, last_seen_ts) "
                  "VALUES(?,?,?,?,?) ON CONFLICT(user_id, device_id) DO UPDATE SET "
                  "last_seen_ts=excluded.last_seen_ts",
                  {out.user_id, out.device_id,
                   display_name.empty() ? storage::Value(nullptr) : storage::Value(display_name),
                   now, now}));
    return c.exec("INSERT INTO access_tokens(token, user_id, device_id, created_ts) VALUES(?,?,?,?)",
                  {key, out.user_id, out.device_id, now});
  };
  auto r = co_await db_.write<Ok>(job);
  if (!r.ok()) co_return r.error();
  forget_tokens_where([&](const Session& s) {
    return s.user_id == out.user_id && s.device_id == out.device_id;
  });
  co_return out;
}

Result<Session> UserService::authenticate(const std::string& token) {
  std::string key = token_key(token);
  {
    std::lock_guard lock(mu_);
    auto it = token_cache_.find(key);
    if (it != token_cache_.end()) return it->second;
  }
  DS_ASSIGN(auto row, storage::query_one(
                          db_.reader(),
                          "SELECT t.user_id, t.device_id, u.is_admin, u.deactivated FROM access_tokens t "
                          "JOIN users u ON u.user_id=t.user_id WHERE t.token=?",
                          {key}));
  if (!row || row->i64(3)) {
    Error e{401, errc::kUnknownToken, "Unknown or expired access token", {}};
    e.extra["soft_logout"] = false;
    return e;
  }
  Session s{row->str(0), row->str(1), row->i64(2) != 0};
  std::lock_guard lock(mu_);
  if (token_cache_.size() > 200'000) token_cache_.clear();
  token_cache_[key] = s;
  return s;
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
    DS_ASSIGN(auto row, storage::query_one(c, "SELECT user_id, device_id FROM access_tokens WHERE token=?", {key}));
    if (!row) return ok_status();
    // Logging out ends the device too, as the spec says for /logout.
    return remove_devices(c, row->str(0), {row->str(1)}, "", &wake);
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
    return remove_devices(c, user_id, {}, "", &wake);
  };
  auto r = co_await db_.write<Ok>(job);
  forget_tokens_where([&](const Session& s) { return s.user_id == user_id; });
  notifier_.notify_users(wake);
  co_return r;
}

asio::awaitable<Status> UserService::check_uia(const std::string& user_id, const json::value* auth) {
  int64_t now = now_ms();
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
    e.extra["flows"] = json::array{json::object{{"stages", json::array{"m.login.password"}}}};
    e.extra["params"] = json::object{};
    e.extra["session"] = session;
    return e;
  };
  if (!auth || !auth->is_object()) co_return challenge();
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
  if (new_password.size() < config_.min_password_length)
    co_return Error::make(400, errc::kWeakPassword,
                          "Password must have at least " +
                              std::to_string(config_.min_password_length) + " characters");
  auto hash = co_await cpu_.run([&] { return hash_password(new_password); });
  if (!hash.ok()) co_return hash.error();
  std::vector<std::string> wake;
  auto job = [=, this, &wake, h = *hash](Conn& c) -> Status {
    DS_TRY(c.exec("UPDATE users SET password_hash=? WHERE user_id=?", {h, user_id}));
    if (!logout_devices) return ok_status();
    return remove_devices(c, user_id, {}, keep_device, &wake);
  };
  auto r = co_await db_.write<Ok>(job);
  notifier_.notify_users(wake);
  if (r.ok() && logout_devices)
    forget_tokens_where([&](const Session& s) { return s.user_id == user_id && s.device_id != keep_device; });
  co_return r;
}

asio::awaitable<Status> UserService::deactivate(const std::string& user_id, bool erase) {
  std::vector<std::string> wake;
  auto job = [this, user_id, erase, &wake](Conn& c) -> Status {
    DS_TRY(c.exec("UPDATE users SET deactivated=1, password_hash=NULL, erased=MAX(erased, ?) WHERE user_id=?",
                  {int64_t{erase ? 1 : 0}, user_id}));
    return remove_devices(c, user_id, {}, "", &wake);
  };
  auto r = co_await db_.write<Ok>(job);
  if (r.ok() && erase) mark_erased(user_id);
  notifier_.notify_users(wake);
  forget_tokens_where([&](const Session& s) { return s.user_id == user_id; });
  co_return r;
}

Result<json::object> UserService::get_profile(const std::string& user_id) {
  DS_ASSIGN(auto row, storage::query_one(db_.reader(),
                                         "SELECT displayname, avatar_url, deactivated FROM users WHERE user_id=?",
                                         {user_id}));
  if (!row) return Error::not_found("Profile not found");
  json::object out;
  if (!row->is_null(0)) out["displayname"] = row->str(0);
  if (!row->is_null(1)) out["avatar_url"] = row->str(1);
  return out;
}

asio::awaitable<Status> UserService::set_profile_field(const std::string& user_id,
                                                       const std::string& field,
                                                       const std::string& value) {
  std::string sql = field == "avatar_url" ? "UPDATE users SET avatar_url=? WHERE user_id=?"
                                          : "UPDATE users SET displayname=? WHERE user_id=?";
  auto job = [sql, value, user_id](Conn& c) -> Status {
    return c.exec(sql, {value.empty() ? storage::Value(nullptr) : storage::Value(value), user_id});
  };
  co_return co_await db_.write<Ok>(job);
}

Result<std::vector<DeviceInfo>> UserService::list_devices(const std::string& user_id) {
  DS_ASSIGN(auto rows, db_.reader().query(
                           "SELECT device_id, display_name, last_seen_ts, last_seen_ip FROM devices "
                           "WHERE user_id=? ORDER BY device_id",
                           {user_id}));
  std::vector<DeviceInfo> out;
  for (auto& r : rows) out.push_back({r.str(0), r.str(1), r.str(3), r.i64(2)});
  return out;
}

Result<DeviceInfo> UserService::get_device(const std::string& user_id, const std::string& device_id) {
  DS_ASSIGN(auto row, storage::query_one(
                          db_.reader(),
                          "SELECT device_id, display_name, last_seen_ts, last_seen_ip FROM devices "
                          "WHERE user_id=? AND device_id=?",
                          {user_id, device_id}));
  if (!row) return Error::not_found("Unknown device");
  return DeviceInfo{row->str(0), row->str(1), row->str(3), row->i64(2)};
}

asio::awaitable<Status> UserService::update_device(const std::string& user_id,
                                                   const std::string& device_id,
                                                   const std::string& display_name) {
  auto job = [=](Conn& c) -> Status {
    DS_TRY(c.exec("UPDATE devices SET display_name=? WHERE user_id=? AND device_id=?",
                  {display_name, user_id, device_id}));
    if (c.changes() == 0) return Error::not_found("Unknown device");
    return ok_status();
  };
  co_return co_await db_.write<Ok>(job);
}

asio::awaitable<Status> UserService::delete_devices(const std::string& user_id,
                                                    const std::vector<std::string>& device_ids) {
  std::vector<std::string> wake;
  auto job = [=, this, &wake](Conn& c) -> Status {
    if (device_ids.empty()) return ok_status();
    return remove_devices(c, user_id, device_ids, "", &wake);
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
  // Longer terms name no one, and an unbounded LIKE pattern is work for the database.
  if (term.size() > kMaxSearchTermBytes)
    return Error::invalid_param("search_term is too long (at most " + std::to_string(kMaxSearchTermBytes) + " bytes)");
  std::string like = "%";
  for (char ch : term) {
    if (ch == '%' || ch == '_' || ch == '\\') like.push_back('\\');
    like.push_back(ch);
  }
  like += "%";
  // Visible: users sharing a room with the searcher, or joined to a public room.
  DS_ASSIGN(auto rows, db_.reader().query(
      "SELECT u.user_id, u.displayname, u.avatar_url FROM users u WHERE u.deactivated=0 AND "
      "(u.user_id LIKE ? ESCAPE '\\' OR u.displayname LIKE ? ESCAPE '\\') AND (u.user_id=? OR "
      "EXISTS (SELECT 1 FROM memberships a JOIN memberships b ON a.room_id=b.room_id WHERE "
      "a.user_id=? AND a.membership='join' AND b.user_id=u.user_id AND b.membership='join') OR "
      "EXISTS (SELECT 1 FROM memberships m JOIN rooms r ON r.room_id=m.room_id WHERE "
      "m.user_id=u.user_id AND m.membership='join' AND r.is_public=1)) "
      "ORDER BY u.user_id LIMIT ?",
      {like, like, searcher, searcher, static_cast<int64_t>(limit + 1)}));
  json::array out;
  *limited = rows.size() > limit;
  for (size_t i = 0; i < rows.size() && i < limit; ++i) {
    json::object u{{"user_id", rows[i].str(0)}};
    if (!rows[i].is_null(1)) u["display_name"] = rows[i].str(1);
    if (!rows[i].is_null(2)) u["avatar_url"] = rows[i].str(2);
    out.push_back(std::move(u));
  }
  return out;
}

}  // namespace despatch
