#include "service/federation/server_keys.h"

#include "core/base64.h"
#include "core/canonical_json.h"
#include "core/log.h"
#include "service/common/time.h"

#include <algorithm>

namespace despatch {

namespace asio = boost::asio;

namespace {

constexpr int64_t kRefetchAfterMs = 30'000;

Error unauthorized(std::string m) { return Error{401, errc::kUnauthorized, std::move(m), {}}; }

bool is_ed25519_key_id(std::string_view id) {
  if (id.size() <= 8 || id.substr(0, 8) != "ed25519:") return false;
  return std::all_of(id.begin() + 8, id.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

// The raw key of one verify_keys / old_verify_keys entry, or nullopt.
std::optional<std::string> key_of(const json::value& entry) {
  if (!entry.is_object()) return std::nullopt;
  const json::value* k = entry.as_object().if_contains("key");
  if (!k || !k->is_string()) return std::nullopt;
  auto raw = base64_decode(k->get_string());
  if (!raw || raw->size() != kEd25519PublicKeyBytes) return std::nullopt;
  return raw;
}

}  // namespace

Result<std::vector<storage::ServerKey>> check_server_keys(const json::object& r, const std::string& server_name,
                                                          int64_t now) {
  if (!is_str(r.contains("server_name") ? r.at("server_name") : json::value(), server_name))
    return unauthorized("key response is not for " + server_name);
  const json::value* until = r.if_contains("valid_until_ts");
  if (!until || !until->is_int64()) return unauthorized("key response from " + server_name + " has no valid_until_ts");
  const json::value* verify = r.if_contains("verify_keys");
  if (!verify || !verify->is_object() || verify->as_object().empty())
    return unauthorized("key response from " + server_name + " has no verify_keys");
  std::vector<storage::ServerKey> out;
  size_t signed_by = 0;
  const json::value* sigs = r.if_contains("signatures");
  const json::object* own_sigs = sigs && sigs->is_object() && sigs->as_object().contains(server_name) &&
                                         sigs->as_object().at(server_name).is_object()
                                     ? &sigs->as_object().at(server_name).as_object()
                                     : nullptr;
  for (const auto& [id, entry] : verify->as_object()) {
    auto raw = key_of(entry);
    if (!is_ed25519_key_id(id) || !raw) return unauthorized("key response from " + server_name + " has a malformed key");
    if (own_sigs && own_sigs->contains(id)) {
      auto st = verify_json(r, server_name, std::string(id), *raw);
      if (!st.ok()) return unauthorized("key response from " + server_name + " has a bad self-signature by " + std::string(id));
      ++signed_by;
    }
    out.push_back({server_name, std::string(id), base64_encode(*raw), until->as_int64(), std::nullopt, now});
  }
  if (signed_by == 0) return unauthorized("key response from " + server_name + " is not signed by its own keys");
  if (const json::value* old = r.if_contains("old_verify_keys"); old && old->is_object()) {
    for (const auto& [id, entry] : old->as_object()) {
      auto raw = key_of(entry);
      const json::value* expired = entry.is_object() ? entry.as_object().if_contains("expired_ts") : nullptr;
      if (!is_ed25519_key_id(id) || !raw || !expired || !expired->is_int64()) continue;  // kept only when well-formed
      if (verify->as_object().contains(id)) continue;
      out.push_back({server_name, std::string(id), base64_encode(*raw), until->as_int64(), expired->as_int64(), now});
    }
  }
  return out;
}

ServerKeys::ServerKeys(const Config& config, storage::Database& db, const SigningKey& key, FederationSender& sender,
                       FederationMetrics& metrics)
    : config_(config), db_(db), key_(key), sender_(sender), metrics_(metrics) {}

Status ServerKeys::init_blocking() {
  const std::string& me = config_.server_name;
  std::string current = key_.key_id();
  int64_t now = now_ms();
  auto job = [&](storage::Txn& t) -> Result<std::vector<storage::ServerKey>> {
    DS_ASSIGN(auto stored, t.server_keys().keys_of(me));
    std::vector<storage::ServerKey> old;
    for (auto& k : stored) {
      if (k.key_id == current) continue;
      if (!k.expired_ts) {
        k.expired_ts = now;
        DS_TRY(t.server_keys().put_key(k));
        DS_LOG(kWarn, "federation: signing key {} was replaced by {}; it is published as an old key", k.key_id, current);
      }
      old.push_back(k);
    }
    DS_TRY(t.server_keys().put_key({me, current, key_.public_key_base64(), 0, std::nullopt, now}));
    return old;
  };
  DS_ASSIGN(old_keys_, db_.transact_blocking<std::vector<storage::ServerKey>>(job));
  return ok_status();
}

json::object ServerKeys::own_keys(int64_t now) const {
  json::object old;
  for (const auto& k : old_keys_) old[k.key_id] = json::object{{"key", k.key}, {"expired_ts", *k.expired_ts}};
  json::object o{{"server_name", config_.server_name},
                 {"verify_keys", json::object{{key_.key_id(), json::object{{"key", key_.public_key_base64()}}}}},
                 {"old_verify_keys", std::move(old)},
                 {"valid_until_ts", now + kOwnKeysValidityMs}};
  sign_json(o, config_.server_name, key_);
  return o;
}

std::optional<std::string> ServerKeys::cached(const std::string& server_name, const std::string& key_id, int64_t now) {
  {
    std::lock_guard lock(mu_);
    auto it = keys_.find({server_name, key_id});
    if (it != keys_.end() && it->second.valid_until > now) return it->second.raw;
  }
  auto stored = db_.read().server_keys().key(server_name, key_id);
  if (!stored.ok() || !*stored || (*stored)->expired_ts) return std::nullopt;
  const storage::ServerKey& k = **stored;
  int64_t valid_until = std::min(k.valid_until_ts, k.fetched_ts + kMaxKeyValidityMs);
  auto raw = base64_decode(k.key);
  if (valid_until <= now || !raw) return std::nullopt;
  std::lock_guard lock(mu_);
  if (keys_.size() > 10000) keys_.clear();
  keys_[{server_name, key_id}] = {*raw, valid_until};
  return raw;
}

bool ServerKeys::may_fetch(const std::string& server_name, int64_t now) {
  std::lock_guard lock(mu_);
  auto it = last_fetch_.find(server_name);
  return it == last_fetch_.end() || now - it->second >= kRefetchAfterMs;
}

asio::awaitable<Result<std::string>> ServerKeys::request_key(const std::string& server_name, const std::string& key_id) {
  int64_t now = now_ms();
  // Our own events come back to us in other servers' answers (a knock in a send_join's
  // state): this server's key is never fetched from itself.
  if (server_name == config_.server_name && key_id == key_.key_id()) co_return key_.public_key();
  if (auto k = cached(server_name, key_id, now)) co_return *k;
  if (!may_fetch(server_name, now))
    co_return unauthorized("no valid key " + key_id + " of " + server_name + " (fetched recently; try again later)");
  auto fetched = co_await fetch(server_name);
  if (fetched.ok())
    if (auto k = cached(server_name, key_id, now_ms())) co_return *k;
  {
    std::lock_guard lock(mu_);
    if (last_fetch_.size() > 10000) last_fetch_.clear();
    last_fetch_[server_name] = now;
  }
  if (!fetched.ok())
    co_return unauthorized("cannot get the keys of " + server_name + ": " + fetched.error().message);
  co_return unauthorized(server_name + " does not publish a current key " + key_id);
}

asio::awaitable<Result<json::object>> ServerKeys::fetch(const std::string& server_name) {
  ++metrics_.key_fetches;
  const std::string target = "/_matrix/key/v2/server";
  auto res = co_await sender_.send(server_name, "GET", target, std::nullopt, false);
  auto fail = [&](Error e) {
    ++metrics_.key_fetch_failures;
    DS_LOG(kWarn, "federation: fetching the keys of {}: {}", server_name, e.message);
    return e;
  };
  if (!res.ok()) co_return fail(std::move(res).error());
  if (res->status != 200 || !res->body.is_object())
    co_return fail(Error::make(502, errc::kUnknown, "key request answered with status " + std::to_string(res->status)));
  json::object response = std::move(res->body.as_object());
  int64_t now = now_ms();
  auto keys = check_server_keys(response, server_name, now);
  if (!keys.ok()) co_return fail(std::move(keys).error());
  int64_t valid_until = response.at("valid_until_ts").as_int64();
  std::string text = canonical_json(response);
  auto job = [&](storage::Txn& t) -> Status {
    for (const auto& k : *keys) DS_TRY(t.server_keys().put_key(k));
    return t.server_keys().put_response({server_name, text, valid_until, now});
  };
  auto stored = co_await db_.transact<Ok>(job);
  if (!stored.ok()) co_return fail(std::move(stored).error());
  {
    std::lock_guard lock(mu_);
    for (const auto& k : *keys) keys_.erase({k.server_name, k.key_id});  // reread from the store
  }
  co_return response;
}

asio::awaitable<json::array> ServerKeys::notary(const std::string& server_name, int64_t minimum_valid_until_ts) {
  int64_t now = now_ms();
  if (minimum_valid_until_ts <= 0) minimum_valid_until_ts = now;
  json::array out;
  if (server_name == config_.server_name) {
    out.push_back(own_keys(now));
    co_return out;
  }
  std::optional<json::object> response;
  auto stored = db_.read().server_keys().response(server_name);
  if (stored.ok() && *stored && (*stored)->valid_until_ts >= minimum_valid_until_ts) {
    auto parsed = parse_strict_json((*stored)->json);
    if (parsed.ok() && parsed->is_object()) response = parsed->as_object();
  }
  // Anyone may ask a notary, so its fetches are spaced like failed ones, whatever the
  // outcome: a caller cannot make this server hammer another by asking for keys valid far
  // into the future.
  if (!response && sender_.allows(server_name) && may_fetch(server_name, now)) {
    {
      std::lock_guard lock(mu_);
      if (last_fetch_.size() > 10000) last_fetch_.clear();
      last_fetch_[server_name] = now;
    }
    auto fetched = co_await fetch(server_name);
    if (fetched.ok()) response = std::move(fetched).value();
  }
  // The server could not be reached: its last answer still lets old signatures be checked.
  if (!response && stored.ok() && *stored) {
    auto parsed = parse_strict_json((*stored)->json);
    if (parsed.ok() && parsed->is_object()) response = parsed->as_object();
  }
  if (response) {
    sign_json(*response, config_.server_name, key_);
    out.push_back(std::move(*response));
  }
  co_return out;
}

}  // namespace despatch
