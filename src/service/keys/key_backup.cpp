#include "service/keys/key_backup.h"

namespace despatch {

namespace asio = boost::asio;
using storage::Conn;

namespace {

Result<int64_t> parse_version(const std::string& v) {
  if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos)
    return Error::not_found("Unknown backup version");
  return static_cast<int64_t>(std::stoll(v));
}

Result<int64_t> current_version(Conn& c, const std::string& user) {
  DS_ASSIGN(auto row, storage::query_one(c, "SELECT MAX(version) FROM backup_versions WHERE user_id=? AND deleted=0",
                                         {user}));
  if (!row || row->is_null(0)) return Error::not_found("No current backup version");
  return row->i64(0);
}

// Keys may only be written to the current version (spec: M_WRONG_ROOM_KEYS_VERSION).
Status check_current(Conn& c, const std::string& user, int64_t version) {
  auto cur = current_version(c, user);
  if (!cur.ok() || *cur != version) {
    DS_ASSIGN(auto exists, storage::query_one(c, "SELECT deleted FROM backup_versions WHERE user_id=? AND version=?",
                                              {user, version}));
    if (!exists || exists->i64(0)) return Error::not_found("Unknown backup version");
    Error e{403, "M_WRONG_ROOM_KEYS_VERSION", "This backup version is not the current one", {}};
    if (cur.ok()) e.extra["current_version"] = std::to_string(*cur);
    return e;
  }
  return ok_status();
}

Result<json::object> etag_and_count(Conn& c, const std::string& user, int64_t version) {
  DS_ASSIGN(auto row, storage::query_one(c, "SELECT etag, (SELECT COUNT(*) FROM backup_keys k WHERE k.user_id=v.user_id "
                                            "AND k.version=v.version) FROM backup_versions v WHERE user_id=? AND version=?",
                                         {user, version}));
  if (!row) return Error::not_found("Unknown backup version");
  return json::object{{"etag", std::to_string(row->i64(0))}, {"count", row->i64(1)}};
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
  std::string algorithm(alg->as_string()), auth_data = json::serialize(*auth);
  auto job = [=](Conn& c) -> Result<std::string> {
    DS_ASSIGN(auto row, storage::query_one(c, "SELECT COALESCE(MAX(version),0)+1 FROM backup_versions WHERE user_id=?",
                                           {user}));
    int64_t v = row->i64(0);
    DS_TRY(c.exec("INSERT INTO backup_versions(user_id, version, algorithm, auth_data) VALUES(?,?,?,?)",
                  {user, v, algorithm, auth_data}));
    return std::to_string(v);
  };
  co_return co_await db_.write<std::string>(job);
}

Result<json::object> KeyBackup::get_version(const std::string& user, const std::string& version) {
  Conn& c = db_.reader();
  int64_t v;
  if (version.empty()) {
    DS_ASSIGN(v, current_version(c, user));
  } else {
    DS_ASSIGN(v, parse_version(version));
  }
  DS_ASSIGN(auto row, storage::query_one(c, "SELECT algorithm, auth_data FROM backup_versions WHERE user_id=? AND "
                                            "version=? AND deleted=0",
                                         {user, v}));
  if (!row) return Error::not_found("Unknown backup version");
  DS_ASSIGN(json::object ec, etag_and_count(c, user, v));
  return json::object{{"algorithm", row->str(0)}, {"auth_data", json::parse(row->str(1))},
                      {"version", std::to_string(v)}, {"etag", ec["etag"]}, {"count", ec["count"]}};
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
  std::string algorithm(alg->as_string()), auth_data = json::serialize(*auth);
  int64_t n = *v;
  auto job = [=](Conn& c) -> Status {
    DS_ASSIGN(auto row, storage::query_one(c, "SELECT algorithm FROM backup_versions WHERE user_id=? AND version=? "
                                              "AND deleted=0",
                                           {user, n}));
    if (!row) return Error::not_found("Unknown backup version");
    if (row->str(0) != algorithm) return Error::invalid_param("The algorithm of a backup cannot change");
    return c.exec("UPDATE backup_versions SET auth_data=? WHERE user_id=? AND version=?", {auth_data, user, n});
  };
  co_return co_await db_.write<Ok>(job);
}

asio::awaitable<Status> KeyBackup::delete_version(const std::string& user, const std::string& version) {
  auto v = parse_version(version);
  if (!v.ok()) co_return v.error();
  int64_t n = *v;
  auto job = [=](Conn& c) -> Status {
    DS_TRY(c.exec("UPDATE backup_versions SET deleted=1 WHERE user_id=? AND version=? AND deleted=0", {user, n}));
    if (c.changes() == 0) return Error::not_found("Unknown backup version");
    return c.exec("DELETE FROM backup_keys WHERE user_id=? AND version=?", {user, n});
  };
  co_return co_await db_.write<Ok>(job);
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
  auto job = [=](Conn& c) -> Result<json::object> {
    DS_TRY(check_current(c, user, n));
    bool changed = false;
    for (auto& [room, rv] : rooms) {
      for (auto& [sid, data] : rv.as_object().at("sessions").as_object()) {
        DS_ASSIGN(auto old, storage::query_one(c, "SELECT json FROM backup_keys WHERE user_id=? AND version=? AND "
                                                  "room_id=? AND session_id=?",
                                               {user, n, std::string(room), std::string(sid)}));
        if (old && !better(data.as_object(), json::parse(old->str(0)).as_object())) continue;
        DS_TRY(c.exec("INSERT INTO backup_keys(user_id, version, room_id, session_id, json) VALUES(?,?,?,?,?) "
                      "ON CONFLICT(user_id, version, room_id, session_id) DO UPDATE SET json=excluded.json",
                      {user, n, std::string(room), std::string(sid), json::serialize(data)}));
        changed = true;
      }
    }
    if (changed) DS_TRY(c.exec("UPDATE backup_versions SET etag=etag+1 WHERE user_id=? AND version=?", {user, n}));
    return etag_and_count(c, user, n);
  };
  co_return co_await db_.write<json::object>(job);
}

Result<json::object> KeyBackup::get_keys(const std::string& user, const std::string& version,
                                         const std::string& room, const std::string& session) {
  Conn& c = db_.reader();
  DS_ASSIGN(int64_t n, parse_version(version));
  DS_ASSIGN(auto exists, storage::query_one(c, "SELECT 1 FROM backup_versions WHERE user_id=? AND version=? AND deleted=0",
                                            {user, n}));
  if (!exists) return Error::not_found("Unknown backup version");
  DS_ASSIGN(auto rows, c.query("SELECT room_id, session_id, json FROM backup_keys WHERE user_id=? AND version=? AND "
                               "(?='' OR room_id=?) AND (?='' OR session_id=?)",
                               {user, n, room, room, session, session}));
  if (!session.empty()) {
    if (rows.empty()) return Error::not_found("No key for this session");
    return json::parse(rows[0].str(2)).as_object();
  }
  json::object by_room;
  for (auto& r : rows) {
    json::value& rv = by_room[r.str(0)];
    if (!rv.is_object()) rv = json::object{{"sessions", json::object{}}};
    rv.as_object()["sessions"].as_object()[r.str(1)] = json::parse(r.str(2));
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
  auto job = [=](Conn& c) -> Result<json::object> {
    DS_TRY(check_current(c, user, n));
    DS_TRY(c.exec("DELETE FROM backup_keys WHERE user_id=? AND version=? AND (?='' OR room_id=?) AND "
                  "(?='' OR session_id=?)",
                  {user, n, room, room, session, session}));
    if (c.changes() > 0)
      DS_TRY(c.exec("UPDATE backup_versions SET etag=etag+1 WHERE user_id=? AND version=?", {user, n}));
    return etag_and_count(c, user, n);
  };
  co_return co_await db_.write<json::object>(job);
}

}  // namespace despatch
