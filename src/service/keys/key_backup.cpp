#include "service/keys/key_backup.h"

#include "storage/key_backup_store.h"

namespace despatch {

namespace asio = boost::asio;
using storage::Txn;

namespace {

Result<int64_t> parse_version(const std::string& v) {
  if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos)
    return Error::not_found("Unknown backup version");
  return static_cast<int64_t>(std::stoll(v));
}

Result<int64_t> current_version(storage::Stores& s, const std::string& user) {
  DS_ASSIGN(auto v, s.key_backups().current_version(user));
  if (!v) return Error::not_found("No current backup version");
  return *v;
}

// Keys may only be written to the current version (spec: M_WRONG_ROOM_KEYS_VERSION).
Status check_current(storage::Stores& s, const std::string& user, int64_t version) {
  auto cur = current_version(s, user);
  if (!cur.ok() || *cur != version) {
    DS_ASSIGN(auto exists, s.key_backups().version(user, version));
    if (!exists || exists->deleted) return Error::not_found("Unknown backup version");
    Error e{403, "M_WRONG_ROOM_KEYS_VERSION", "This backup version is not the current one", {}};
    if (cur.ok()) e.extra["current_version"] = std::to_string(*cur);
    return e;
  }
  return ok_status();
}

Result<json::object> etag_and_count(storage::Stores& s, const std::string& user, int64_t version) {
  DS_ASSIGN(auto v, s.key_backups().version(user, version));
  if (!v) return Error::not_found("Unknown backup version");
  DS_ASSIGN(int64_t count, s.key_backups().count_keys(user, version));
  return json::object{{"etag", std::to_string(v->etag)}, {"count", count}};
}

Status check_key_data(const json::value& d) {
  if (!d.is_object()) return Error::bad_json("key backup data must be an object");
  auto& o = d.as_object();
  auto* fmi = o.if_contains("first_message_index");
  auto* fc = o.if_contains("forwarded_count");
  auto* v = o.if_contains("is_verified");
  auto* sd = o.if_contains("session_data");
  if (!fmi || !fmi->is_int64() || !fc || !fc->is_int64() || !v || !v->is_bool() || !sd || !sd->is_object())
    return Error::bad_json("key backup data needs first_message_index, forwarded_count, is_verified and session_data");
  return ok_status();
}

// The spec's rule for replacing a backed-up session: verified beats unverified, then the
// lower first_message_index, then the lower forwarded_count.
bool better(const json::object& a, const json::object& b) {
  bool av = a.at("is_verified").as_bool(), bv = b.at("is_verified").as_bool();
  if (av != bv) return av;
  int64_t ai = a.at("first_message_index").as_int64(), bi = b.at("first_message_index").as_int64();
  if (ai != bi) return ai < bi;
  return a.at("forwarded_count").as_int64() < b.at("forwarded_count").as_int64();
}

}  // namespace

asio::awaitable<Result<std::string>> KeyBackup::create_version(const std::string& user,
                                                               const json::object& body) {
  auto* alg = body.if_contains("algorithm");
  auto* auth = body.if_contains("auth_data");
  if (!alg || !alg->is_string() || !auth || !auth->is_object())
    co_return Error::bad_json("algorithm (string) and auth_data (object) are required");
  std::string algorithm(alg->as_string());
  json::object auth_data = auth->as_object();
  auto job = [=](Txn& t) -> Result<std::string> {
    DS_ASSIGN(int64_t v, t.key_backups().create_version(user, algorithm, auth_data));
    return std::to_string(v);
  };
  co_return co_await db_.transact<std::string>(job);
}

Result<json::object> KeyBackup::get_version(const std::string& user, const std::string& version) {
  storage::Stores& s = db_.read();
  int64_t v;
  if (version.empty()) {
    DS_ASSIGN(v, current_version(s, user));
  } else {
    DS_ASSIGN(v, parse_version(version));
  }
  DS_ASSIGN(auto row, s.key_backups().version(user, v));
  if (!row || row->deleted) return Error::not_found("Unknown backup version");
  DS_ASSIGN(int64_t count, s.key_backups().count_keys(user, v));
  return json::object{{"algorithm", row->algorithm}, {"auth_data", std::move(row->auth_data)},
                      {"version", std::to_string(v)}, {"etag", std::to_string(row->etag)}, {"count", count}};
}

asio::awaitable<Status> KeyBackup::update_version(const std::string& user, const std::string& version,
                                                  const json::object& body) {
  auto v = parse_version(version);
  if (!v.ok()) co_return v.error();
  auto* alg = body.if_contains("algorithm");
  auto* auth = body.if_contains("auth_data");
  if (!alg || !alg->is_string() || !auth || !auth->is_object())
    co_return Error::bad_json("algorithm (string) and auth_data (object) are required");
  if (auto* bv = body.if_contains("version"); bv && !is_str(*bv, version))
    co_return Error::invalid_param("version in the body does not match the path");
  std::string algorithm(alg->as_string());
  json::object auth_data = auth->as_object();
  int64_t n = *v;
  auto job = [=](Txn& t) -> Status {
    DS_ASSIGN(auto row, t.key_backups().version(user, n));
    if (!row || row->deleted) return Error::not_found("Unknown backup version");
    if (row->algorithm != algorithm) return Error::invalid_param("The algorithm of a backup cannot change");
    return t.key_backups().set_auth_data(user, n, auth_data);
  };
  co_return co_await db_.transact<Ok>(job);
}

asio::awaitable<Status> KeyBackup::delete_version(const std::string& user, const std::string& version) {
  auto v = parse_version(version);
  if (!v.ok()) co_return v.error();
  int64_t n = *v;
  auto job = [=](Txn& t) -> Status {
    DS_ASSIGN(bool deleted, t.key_backups().delete_version(user, n));
    if (!deleted) return Error::not_found("Unknown backup version");
    return ok_status();
  };
  co_return co_await db_.transact<Ok>(job);
}

asio::awaitable<Result<json::object>> KeyBackup::put_keys(const std::string& user,
                                                          const std::string& version,
                                                          const json::object& rooms) {
  auto v = parse_version(version);
  if (!v.ok()) co_return v.error();
  for (auto& [room, rv] : rooms) {
    auto* sessions = rv.is_object() ? rv.as_object().if_contains("sessions") : nullptr;
    if (!sessions || !sessions->is_object()) co_return Error::bad_json("each room needs a sessions object");
    for (auto& [sid, data] : sessions->as_object()) DS_CO_TRY(check_key_data(data));
  }
  int64_t n = *v;
  auto job = [=](Txn& t) -> Result<json::object> {
    DS_TRY(check_current(t, user, n));
    bool changed = false;
    for (auto& [room, rv] : rooms) {
      for (auto& [sid, data] : rv.as_object().at("sessions").as_object()) {
        DS_ASSIGN(auto old, t.key_backups().key(user, n, std::string(room), std::string(sid)));
        if (old && !better(data.as_object(), *old)) continue;
        DS_TRY(t.key_backups().put_key(user, n, {std::string(room), std::string(sid), data.as_object()}));
        changed = true;
      }
    }
    if (changed) DS_TRY(t.key_backups().bump_etag(user, n));
    return etag_and_count(t, user, n);
  };
  co_return co_await db_.transact<json::object>(job);
}

Result<json::object> KeyBackup::get_keys(const std::string& user, const std::string& version,
                                         const std::string& room, const std::string& session) {
  storage::Stores& s = db_.read();
  DS_ASSIGN(int64_t n, parse_version(version));
  DS_ASSIGN(auto exists, s.key_backups().version(user, n));
  if (!exists || exists->deleted) return Error::not_found("Unknown backup version");
  DS_ASSIGN(auto keys, s.key_backups().keys(user, n, room, session));
  if (!session.empty()) {
    if (keys.empty()) return Error::not_found("No key for this session");
    return std::move(keys[0].data);
  }
  json::object by_room;
  for (auto& k : keys) {
    json::value& rv = by_room[k.room_id];
    if (!rv.is_object()) rv = json::object{{"sessions", json::object{}}};
    rv.as_object()["sessions"].as_object()[k.session_id] = std::move(k.data);
  }
  if (!room.empty()) {
    if (auto* rv = by_room.if_contains(room)) return rv->as_object();
    return json::object{{"sessions", json::object{}}};
  }
  return json::object{{"rooms", std::move(by_room)}};
}

asio::awaitable<Result<json::object>> KeyBackup::delete_keys(const std::string& user,
                                                             const std::string& version,
                                                             const std::string& room,
                                                             const std::string& session) {
  auto v = parse_version(version);
  if (!v.ok()) co_return v.error();
  int64_t n = *v;
  auto job = [=](Txn& t) -> Result<json::object> {
    DS_TRY(check_current(t, user, n));
    DS_ASSIGN(int64_t removed, t.key_backups().remove_keys(user, n, room, session));
    if (removed > 0) DS_TRY(t.key_backups().bump_etag(user, n));
    return etag_and_count(t, user, n);
  };
  co_return co_await db_.transact<json::object>(job);
}

}  // namespace despatch
