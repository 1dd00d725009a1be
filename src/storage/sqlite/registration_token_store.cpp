#include "storage/sqlite/registration_token_store.h"

namespace despatch::storage {

namespace {

constexpr const char* kColumns = "token, uses_allowed, pending, completed, expiry_time";

Value opt_int(const std::optional<int64_t>& v) {
  if (!v) return nullptr;
  return *v;
}

RegistrationToken token_from(const Row& r) {
  RegistrationToken t;
  t.token = r.str(0);
  if (!r.is_null(1)) t.uses_allowed = r.i64(1);
  t.pending = r.i64(2);
  t.completed = r.i64(3);
  if (!r.is_null(4)) t.expiry_time = r.i64(4);
  return t;
}

}  // namespace

Result<bool> SqliteRegistrationTokenStore::add(const RegistrationToken& t) {
  DS_ASSIGN(auto row, query_one(c_,
                                "INSERT INTO registration_tokens(token, uses_allowed, expiry_time) VALUES(?,?,?) "
                                "ON CONFLICT(token) DO NOTHING RETURNING token",
                                {t.token, opt_int(t.uses_allowed), opt_int(t.expiry_time)}));
  return row.has_value();
}

Result<std::optional<RegistrationToken>> SqliteRegistrationTokenStore::get(const std::string& token) {
  DS_ASSIGN(auto row, query_one(c_, std::string("SELECT ") + kColumns + " FROM registration_tokens WHERE token=?", {token}));
  if (!row) return std::optional<RegistrationToken>{};
  return std::optional<RegistrationToken>(token_from(*row));
}

Result<std::vector<RegistrationToken>> SqliteRegistrationTokenStore::list() {
  DS_ASSIGN(auto rows, c_.query(std::string("SELECT ") + kColumns + " FROM registration_tokens ORDER BY token"));
  std::vector<RegistrationToken> out;
  for (auto& r : rows) out.push_back(token_from(r));
  return out;
}

Result<bool> SqliteRegistrationTokenStore::update(const RegistrationToken& t) {
  DS_ASSIGN(auto row, query_one(c_,
                                "UPDATE registration_tokens SET uses_allowed=?, expiry_time=? WHERE token=? RETURNING token",
                                {opt_int(t.uses_allowed), opt_int(t.expiry_time), t.token}));
  return row.has_value();
}

Result<bool> SqliteRegistrationTokenStore::remove(const std::string& token) {
  DS_ASSIGN(auto row, query_one(c_, "DELETE FROM registration_tokens WHERE token=? RETURNING token", {token}));
  return row.has_value();
}

Result<bool> SqliteRegistrationTokenStore::use(const std::string& token, int64_t now) {
  DS_ASSIGN(auto row, query_one(c_,
                                "UPDATE registration_tokens SET completed=completed+1 WHERE token=? "
                                "AND (uses_allowed IS NULL OR pending+completed<uses_allowed) "
                                "AND (expiry_time IS NULL OR expiry_time>?) RETURNING token",
                                {token, now}));
  return row.has_value();
}

}  // namespace despatch::storage
