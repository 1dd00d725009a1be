#include "service/users/registration_tokens.h"

#include "core/ids.h"
#include "service/common/time.h"
#include "service/records/audit.h"

#include <algorithm>

namespace despatch {

namespace asio = boost::asio;

namespace {

// Synapse's alphabet for tokens: letters, digits and . _ ~ -
bool valid_token(const std::string& t) {
  return !t.empty() && t.size() <= 64 && std::all_of(t.begin(), t.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '~' || c == '-';
  });
}

bool usable(const storage::RegistrationToken& t, int64_t now) {
  if (t.expiry_time && *t.expiry_time <= now) return false;
  return !t.uses_allowed || t.pending + t.completed < *t.uses_allowed;
}

}  // namespace

json::object RegistrationTokens::to_json(const storage::RegistrationToken& t) {
  json::object o{{"token", t.token}, {"pending", t.pending}, {"completed", t.completed}};
  o["uses_allowed"] = t.uses_allowed ? json::value(*t.uses_allowed) : json::value(nullptr);
  o["expiry_time"] = t.expiry_time ? json::value(*t.expiry_time) : json::value(nullptr);
  return o;
}

Result<json::array> RegistrationTokens::list(std::optional<bool> valid) {
  DS_ASSIGN(auto all, db_.read().registration_tokens().list());
  int64_t now = now_ms();
  json::array out;
  for (auto& t : all)
    if (!valid || usable(t, now) == *valid) out.push_back(to_json(t));
  return out;
}

Result<json::object> RegistrationTokens::get(const std::string& token) {
  DS_ASSIGN(auto t, db_.read().registration_tokens().get(token));
  if (!t) return Error::not_found("No such registration token");
  return to_json(*t);
}

asio::awaitable<Result<json::object>> RegistrationTokens::create(std::string token, int64_t length,
                                                                 std::optional<int64_t> uses_allowed,
                                                                 std::optional<int64_t> expiry_time,
                                                                 std::string actor) {
  if (token.empty()) {
    if (length < 1 || length > 64) co_return Error::invalid_param("length must be between 1 and 64");
    token = random_string(static_cast<size_t>(length));
  }
  if (!valid_token(token)) co_return Error::invalid_param("token may hold only A-Z a-z 0-9 . _ ~ - (at most 64)");
  if (uses_allowed && *uses_allowed < 0) co_return Error::invalid_param("uses_allowed must not be negative");
  if (expiry_time && *expiry_time < now_ms()) co_return Error::invalid_param("expiry_time is in the past");
  storage::RegistrationToken t{token, uses_allowed, 0, 0, expiry_time};
  auto job = [t, actor](storage::Txn& txn) -> Status {
    DS_ASSIGN(bool added, txn.registration_tokens().add(t));
    if (!added) return Error::invalid_param("Token already exists");
    DS_TRY(audit_append(txn, actor, "registration_token.create", "", json::object{{"token", t.token}}));
    return ok_status();
  };
  DS_CO_TRY(co_await db_.transact<Ok>(job));
  co_return to_json(t);
}

asio::awaitable<Result<json::object>> RegistrationTokens::update(std::string token, std::optional<int64_t> uses_allowed,
                                                                 bool set_uses, std::optional<int64_t> expiry_time,
                                                                 bool set_expiry, std::string actor) {
  if (uses_allowed && *uses_allowed < 0) co_return Error::invalid_param("uses_allowed must not be negative");
  if (expiry_time && *expiry_time < now_ms()) co_return Error::invalid_param("expiry_time is in the past");
  auto job = [=](storage::Txn& txn) -> Result<storage::RegistrationToken> {
    DS_ASSIGN(auto t, txn.registration_tokens().get(token));
    if (!t) return Error::not_found("No such registration token");
    if (set_uses) t->uses_allowed = uses_allowed;
    if (set_expiry) t->expiry_time = expiry_time;
    DS_TRY(txn.registration_tokens().update(*t));
    DS_TRY(audit_append(txn, actor, "registration_token.update", "", json::object{{"token", token}}));
    return *t;
  };
  DS_CO_ASSIGN(auto t, co_await db_.transact<storage::RegistrationToken>(job));
  co_return to_json(t);
}

asio::awaitable<Status> RegistrationTokens::remove(std::string token, std::string actor) {
  auto job = [token, actor](storage::Txn& txn) -> Status {
    DS_ASSIGN(bool removed, txn.registration_tokens().remove(token));
    if (!removed) return Error::not_found("No such registration token");
    DS_TRY(audit_append(txn, actor, "registration_token.delete", "", json::object{{"token", token}}));
    return ok_status();
  };
  co_return co_await db_.transact<Ok>(job);
}

Result<bool> RegistrationTokens::valid(const std::string& token) {
  if (!valid_token(token)) return false;
  DS_ASSIGN(auto t, db_.read().registration_tokens().get(token));
  return t && usable(*t, now_ms());
}

Result<bool> RegistrationTokens::any_usable() {
  DS_ASSIGN(auto all, db_.read().registration_tokens().list());
  int64_t now = now_ms();
  return std::any_of(all.begin(), all.end(), [&](const storage::RegistrationToken& t) { return usable(t, now); });
}

asio::awaitable<Result<bool>> RegistrationTokens::consume(std::string token) {
  auto job = [token](storage::Txn& t) -> Result<bool> { return t.registration_tokens().use(token, now_ms()); };
  co_return co_await db_.transact<bool>(job);
}

}  // namespace despatch
