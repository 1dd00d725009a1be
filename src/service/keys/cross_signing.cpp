// Cross-signing keys and signatures uploaded by clients (spec: "Cross-signing").
#include "core/ids.h"
#include "service/keys/key_service.h"
#include "storage/cross_signing_store.h"
#include "storage/device_key_store.h"

namespace despatch {

namespace asio = boost::asio;
using storage::Txn;

namespace {

// The single ed25519 key of a cross-signing key object: ("ed25519:<pub>", "<pub>").
Result<std::pair<std::string, std::string>> cross_key(const json::object& k, const std::string& user,
                                                      const char* usage) {
  auto* u = k.if_contains("user_id");
  if (!u || !is_str(*u, user)) return Error::bad_json(std::string(usage) + " key must name your user_id");
  auto* usages = k.if_contains("usage");
  bool has_usage = false;
  if (usages && usages->is_array())
    for (auto& x : usages->as_array()) has_usage |= is_str(x, usage);
  if (!has_usage) return Error::bad_json(std::string(usage) + " key must have usage " + usage);
  auto* keys = k.if_contains("keys");
  if (!keys || !keys->is_object() || keys->as_object().size() != 1)
    return Error::bad_json(std::string(usage) + " key must hold exactly one key");
  auto& [id, pub] = *keys->as_object().begin();
  if (!pub.is_string() || id.substr(0, 8) != "ed25519:")
    return Error::bad_json(std::string(usage) + " key must be an ed25519 key");
  return std::pair{std::string(id), std::string(pub.as_string())};
}

Result<std::optional<json::object>> stored_key(storage::Stores& s, const std::string& user, const char* usage) {
  return s.cross_signing().key(user, usage);
}

// An object with its signatures and unsigned data removed, for comparing key content.
json::object bare(json::object o) {
  o.erase("signatures");
  o.erase("unsigned");
  return o;
}

}  // namespace

bool KeyService::cross_signing_needs_auth(const std::string& user, const json::object& body) {
  storage::Stores& s = db_.read();
  auto master = stored_key(s, user, "master");
  if (!master.ok() || !*master) return !master.ok();  // nothing to take over yet
  for (auto [field, usage] : {std::pair{"master_key", "master"}, std::pair{"self_signing_key", "self_signing"},
                              std::pair{"user_signing_key", "user_signing"}}) {
    auto* v = body.if_contains(field);
    if (!v || v->is_null()) continue;
    auto stored = stored_key(s, user, usage);
    // A retried upload of exactly the stored keys stays free; anything new needs the password.
    if (!v->is_object() || !stored.ok() || !*stored || bare(v->as_object()) != bare(**stored)) return true;
  }
  return false;
}

asio::awaitable<Status> KeyService::upload_cross_signing(const std::string& user,
                                                         const json::object& body) {
  std::optional<json::object> master, self_signing, user_signing;
  for (auto [field, out] : {std::pair{"master_key", &master}, std::pair{"self_signing_key", &self_signing},
                            std::pair{"user_signing_key", &user_signing}}) {
    auto* v = body.if_contains(field);
    if (!v || v->is_null()) continue;
    if (!v->is_object()) co_return Error::bad_json(std::string(field) + " must be an object");
    *out = v->as_object();
  }
  if (!master && !self_signing && !user_signing) co_return Error::missing_param("No keys to upload");
  std::vector<std::string> wake;
  auto job = [=, &wake](Txn& t) -> Status {
    std::optional<json::object> m = master;
    if (!m) {
      DS_ASSIGN(m, stored_key(t, user, "master"));
    }
    if (!m) return Error::bad_json("Upload a master key first");
    DS_ASSIGN(auto mk, cross_key(*m, user, "master"));
    if (master) {
      DS_ASSIGN(auto old, stored_key(t, user, "master"));
      // A new master key orphans the keys the old one signed: they go unless re-uploaded.
      if (old && bare(*old) != bare(*master)) {
        DS_TRY(t.cross_signing().remove_key(user, "self_signing"));
        DS_TRY(t.cross_signing().remove_key(user, "user_signing"));
      }
      DS_TRY(t.cross_signing().put_key(user, "master", *master));
    }
    for (auto [sub, usage] : {std::pair{&self_signing, "self_signing"}, std::pair{&user_signing, "user_signing"}}) {
      if (!*sub) continue;
      DS_TRY(cross_key(**sub, user, usage));
      auto st = verify_key_signature(**sub, user, mk.first, mk.second);
      if (!st.ok())
        return Error::make(400, errc::kInvalidSignature, std::string(usage) + " key is not signed by the master key");
      DS_TRY(t.cross_signing().put_key(user, usage, **sub));
    }
    DS_ASSIGN(wake, mark_changed(t, user, ""));
    return ok_status();
  };
  auto r = co_await db_.transact<Ok>(job);
  if (r.ok()) notifier_.notify_users(wake);
  co_return r;
}

asio::awaitable<Result<json::object>> KeyService::upload_signatures(const std::string& user,
                                                                    const json::object& body) {
  std::vector<std::string> wake;
  auto job = [=, &wake](Txn& t) -> Result<json::object> {
    json::object failures;
    std::set<std::pair<std::string, std::string>> changed;  // (user, device; "" for cross-signing keys)
    auto fail = [&](const std::string& target, const std::string& key, const Error& e) {
      json::value& per = failures[target];
      if (!per.is_object()) per = json::object{};
      per.as_object()[key] = json::object{{"errcode", e.errcode}, {"error", e.message}};
    };
    DS_ASSIGN(auto own_master, stored_key(t, user, "master"));
    DS_ASSIGN(auto own_ssk, stored_key(t, user, "self_signing"));
    DS_ASSIGN(auto own_usk, stored_key(t, user, "user_signing"));
    for (auto& [tu, keys] : body) {
      std::string target(tu);
      if (!keys.is_object()) return Error::bad_json("signatures must map key IDs to objects");
      for (auto& [kid, obj_v] : keys.as_object()) {
        std::string key_id(kid);
        if (!obj_v.is_object()) {
          fail(target, key_id, Error::bad_json("signed object must be an object"));
          continue;
        }
        const json::object& obj = obj_v.as_object();
        auto* sigs = obj.if_contains("signatures");
        auto* mine = sigs && sigs->is_object() ? sigs->as_object().if_contains(user) : nullptr;
        if (!mine || !mine->is_object() || mine->as_object().empty()) {
          fail(target, key_id, Error::bad_json("no signature from you"));
          continue;
        }
        // Which stored object is signed, and which of the uploader's keys may sign it.
        std::optional<json::object> stored;
        std::optional<std::pair<std::string, std::string>> signer;
        std::string signed_device;
        if (target == user) {
          DS_ASSIGN(auto dev, t.device_keys().device_keys(user, key_id));
          if (dev) {
            signed_device = key_id;
            stored = std::move(*dev);
            if (own_ssk) signer = cross_key(*own_ssk, user, "self_signing").ok()
                                      ? std::optional(*cross_key(*own_ssk, user, "self_signing"))
                                      : std::nullopt;
          } else if (own_master && cross_key(*own_master, user, "master").ok() &&
                     cross_key(*own_master, user, "master")->second == key_id) {
            stored = own_master;
            // A device signs its user's master key: find which device from the signature.
            for (auto& [sk, sv] : mine->as_object()) {
              std::string device = std::string(sk).substr(sk.find(':') + 1);
              DS_ASSIGN(auto dk, t.device_keys().device_keys(user, device));
              if (!dk) continue;
              auto* pub = (*dk)["keys"].as_object().if_contains("ed25519:" + device);
              if (pub && pub->is_string()) signer = std::pair{std::string(sk), std::string(pub->as_string())};
            }
          }
        } else {
          DS_ASSIGN(auto their_master, stored_key(t, target, "master"));
          if (their_master && cross_key(*their_master, target, "master").ok() &&
              cross_key(*their_master, target, "master")->second == key_id) {
            stored = their_master;
            if (own_usk && cross_key(*own_usk, user, "user_signing").ok())
              signer = *cross_key(*own_usk, user, "user_signing");
          }
        }
        if (!stored) {
          fail(target, key_id, Error::not_found("Unknown key " + key_id));
          continue;
        }
        if (!signer) {
          fail(target, key_id, Error::invalid_param("You have no key that may sign this"));
          continue;
        }
        auto* sig = mine->as_object().if_contains(signer->first);
        if (!sig || !sig->is_string() || bare(obj) != bare(*stored)) {
          fail(target, key_id, Error::invalid_param("Signed object differs from the stored key"));
          continue;
        }
        auto st = verify_key_signature(obj, user, signer->first, signer->second);
        if (!st.ok()) {
          fail(target, key_id, Error::make(400, errc::kInvalidSignature, "Invalid signature"));
          continue;
        }
        DS_TRY(t.cross_signing().put_signature({target, key_id, user, signer->first, std::string(sig->as_string())}));
        changed.insert({target, signed_device});
      }
    }
    for (auto& [u, device] : changed) {
      DS_ASSIGN(auto w, mark_changed(t, u, device));
      wake.insert(wake.end(), w.begin(), w.end());
    }
    return json::object{{"failures", std::move(failures)}};
  };
  auto r = co_await db_.transact<json::object>(job);
  if (r.ok()) notifier_.notify_users(wake);
  co_return r;
}

}  // namespace despatch
