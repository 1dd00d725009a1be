// The inboxes of announcement channels (and the shared inbox): who may follow, and how a
// request proves who sent it. Every request must carry a draft-cavage HTTP signature whose
// key its actor publishes; the key is fetched with a request signed as the instance actor,
// which servers in secure ("authorized fetch") mode require.
#include "service/announce/announcements.h"

#include "core/canonical_json.h"
#include "core/log.h"
#include "service/common/time.h"

namespace despatch {

namespace {

constexpr int64_t kKeyCacheMs = 24 * 3600 * 1000;
constexpr size_t kMaxKeyCache = 10000;
const char* kAccept =
    "application/activity+json, application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"";

Error unauthorized(std::string m) { return Error::make(401, errc::kUnauthorized, std::move(m)); }

// The ID of an object given inline or by reference.
std::string id_of(const json::value* v) {
  if (!v) return "";
  if (v->is_string()) return std::string(v->as_string());
  if (v->is_object())
    if (auto* id = json_string_at(v->as_object(), "id")) return std::string(*id);
  return "";
}

std::string strip_fragment(const std::string& url) { return url.substr(0, url.find('#')); }

}  // namespace

boost::asio::awaitable<Result<json::object>> Announcements::fetch_object(const std::string& url) {
  if (!web_) co_return Error::make(502, errc::kUnknown, "outgoing ActivityPub requests are not set up");
  WebRequest req;
  req.url = strip_fragment(url);
  DS_CO_ASSIGN(WebUrl u, parse_web_url(req.url));
  req.headers["host"] = u.host_header();
  req.headers["accept"] = kAccept;
  DS_CO_TRY(sign_request(req.headers, "GET", u.target, "", urls_.key_id(""), key_.private_pem));
  DS_CO_ASSIGN(WebResponse res, co_await web_->send(std::move(req)));
  if (res.status != 200)
    co_return Error::make(res.status == 410 ? 410 : 502, errc::kUnknown, url + " answered " + std::to_string(res.status));
  auto parsed = parse_strict_json(res.body);
  if (!parsed.ok() || !parsed->is_object()) co_return Error::make(502, errc::kNotJson, url + " did not answer a JSON object");
  co_return std::move(parsed->as_object());
}

boost::asio::awaitable<Result<Announcements::RemoteKey>> Announcements::remote_key(const std::string& key_id,
                                                                                    bool refresh) {
  int64_t now = now_ms();
  if (!refresh) {
    std::lock_guard lock(keys_mu_);
    if (auto it = keys_.find(key_id); it != keys_.end() && now - it->second.fetched_ms < kKeyCacheMs) co_return it->second;
  }
  DS_CO_ASSIGN(json::object doc, co_await fetch_object(key_id));
  // The key is either in the actor (publicKey, one or a list) or the document itself.
  const json::object* key = nullptr;
  auto consider = [&](const json::value& v) {
    if (v.is_object() && id_of(&v) == key_id) key = &v.as_object();
  };
  if (auto* pk = doc.if_contains("publicKey")) {
    if (pk->is_array()) {
      for (auto& k : pk->as_array()) consider(k);
    } else {
      consider(*pk);
    }
  }
  if (!key && id_of(doc.if_contains("id")) == key_id && doc.contains("publicKeyPem")) key = &doc;
  if (!key) co_return unauthorized("the document at " + key_id + " does not publish that key");
  auto* pem = json_string_at(*key, "publicKeyPem");
  if (!pem) co_return unauthorized("the key " + key_id + " has no publicKeyPem");
  std::string owner = id_of(key->if_contains("owner"));
  if (owner.empty()) owner = id_of(doc.if_contains("id"));
  RemoteKey k{std::string(*pem), owner, now};
  {
    std::lock_guard lock(keys_mu_);
    if (keys_.size() >= kMaxKeyCache) keys_.clear();
    keys_[key_id] = k;
  }
  co_return k;
}

boost::asio::awaitable<Result<int>> Announcements::receive(InboxRequest req) {
  auto parsed = parse_strict_json(req.body);
  if (!parsed.ok() || !parsed->is_object()) co_return Error::not_json("the activity must be a JSON object");
  json::object activity = std::move(parsed->as_object());
  std::string type = id_of(activity.if_contains("type")), actor = id_of(activity.if_contains("actor"));
  if (type.empty() || actor.empty()) co_return Error::bad_json("the activity needs a type and an actor");
  if (!req.handle.empty()) {
    auto c = db_.read().announce().channel(req.handle);
    if (!c.ok()) co_return c.error();
    if (!*c) co_return Error::not_found("no such channel");
  }

  std::string header;
  if (auto it = req.headers.find("signature"); it != req.headers.end()) header = it->second;
  else if (auto a = req.headers.find("authorization"); a != req.headers.end() && a->second.rfind("Signature ", 0) == 0)
    header = a->second;
  if (header.empty()) co_return unauthorized("the request is not signed (an HTTP Signature is required)");
  DS_CO_ASSIGN(SignatureHeader sig, parse_signature_header(header));
  // A deleted account's key is gone; its Delete cannot be checked and changes nothing here
  // but a follower that will never be delivered to again.
  bool self_delete = type == "Delete" && id_of(activity.if_contains("object")) == actor;
  auto key = co_await remote_key(sig.key_id, false);
  if (!key.ok()) {
    if (self_delete) co_return 202;
    DS_LOG(kInfo, "announce: refused an activity from {}: {}", actor, key.error().message);
    co_return unauthorized("cannot fetch the signer's key: " + key.error().message);
  }
  int64_t now_s = now_ms() / 1000;
  Status good = verify_request(sig, req.method, req.target, req.headers, req.body, key->pem, now_s);
  if (!good.ok() && now_ms() - key->fetched_ms > 60'000) {
    // The sender may have changed its key since we cached it.
    auto fresh = co_await remote_key(sig.key_id, true);
    if (fresh.ok()) {
      key = std::move(fresh);
      good = verify_request(sig, req.method, req.target, req.headers, req.body, key->pem, now_s);
    }
  }
  if (!good.ok()) {
    DS_LOG(kInfo, "announce: refused an activity from {}: {}", actor, good.error().message);
    co_return good.error();
  }
  if (key->owner != actor) co_return unauthorized("the request is signed by " + key->owner + ", not by " + actor);

  std::string actor_prefix = urls_.actor("");
  auto handle_of = [&](const std::string& target) -> std::string {
    if (target.rfind(actor_prefix, 0) != 0) return "";
    return target.substr(actor_prefix.size());
  };
  if (type == "Follow") {
    std::string handle = handle_of(id_of(activity.if_contains("object")));
    if (handle.empty() || (!req.handle.empty() && handle != req.handle))
      co_return Error::not_found("the Follow is not for a channel of this server");
    co_return co_await follow(handle, activity);
  }
  std::vector<std::string> handles;
  if (type == "Undo") {
    auto* inner = activity.if_contains("object");
    if (inner && inner->is_object() && id_of(inner->as_object().if_contains("type")) != "Follow") co_return 202;
    std::string handle = inner && inner->is_object() ? handle_of(id_of(inner->as_object().if_contains("object"))) : "";
    if (!handle.empty()) handles.push_back(handle);
    else if (!req.handle.empty()) handles.push_back(req.handle);
  }
  if (type == "Undo" || self_delete) {
    if (handles.empty()) {
      auto channels = db_.read().announce().channels();
      if (!channels.ok()) co_return channels.error();
      for (auto& c : *channels) handles.push_back(c.handle);
    }
    auto removed = co_await db_.transact<Ok>([&handles, &actor](storage::Txn& t) -> Status {
      for (auto& h : handles) DS_TRY(t.announce().remove_follower(h, actor));
      return ok_status();
    });
    if (!removed.ok()) co_return removed.error();
    DS_LOG(kInfo, "announce: {} stopped following", actor);
  }
  co_return 202;  // anything else (likes, boosts, replies) is taken and ignored
}

boost::asio::awaitable<Result<int>> Announcements::follow(const std::string& handle, const json::object& activity) {
  auto c = db_.read().announce().channel(handle);
  if (!c.ok()) co_return c.error();
  if (!*c) co_return Error::not_found("no such channel");
  std::string actor = id_of(activity.if_contains("actor"));
  DS_CO_ASSIGN(json::object doc, co_await fetch_object(actor));
  if (id_of(doc.if_contains("id")) != actor) co_return Error::forbidden("the follower's actor document names another ID");
  std::string inbox = id_of(doc.if_contains("inbox")), shared;
  if (auto* ep = doc.if_contains("endpoints"); ep && ep->is_object()) shared = id_of(ep->as_object().if_contains("sharedInbox"));
  if (!parse_web_url(inbox).ok()) co_return Error::invalid_param("the follower has no usable inbox");
  if (!shared.empty() && !parse_web_url(shared).ok()) shared.clear();
  storage::FollowerRow row{handle, actor, shared.empty() ? inbox : shared, id_of(activity.if_contains("id")), now_ms()};
  json::object accept = announce::accept_activity(urls_, handle, activity);
  std::string text = json::serialize(accept);
  auto stored = co_await db_.transact<Ok>([&row, &text, &inbox](storage::Txn& t) -> Status {
    DS_TRY(t.announce().put_follower(row));
    return t.announce().enqueue_delivery({0, row.handle, inbox, text, 0, now_ms(), ""});
  });
  if (!stored.ok()) co_return stored.error();
  DS_LOG(kInfo, "announce: {} follows {}", actor, handle);
  if (wake_) wake_();
  co_return 202;
}

}  // namespace despatch
