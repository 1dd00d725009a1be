#include "service/announce/announcements.h"

#include "core/canonical_json.h"
#include "core/ids.h"
#include "core/log.h"
#include "service/common/time.h"
#include "service/records/audit.h"
#include "service/rooms/event_format.h"
#include "service/rooms/power_levels.h"
#include "storage/event_store.h"
#include "storage/room_store.h"
#include "storage/state_store.h"

namespace despatch {

namespace {

constexpr const char* kKeyName = "actors";  // every channel and the instance actor sign with it
constexpr size_t kMaxHandle = 30, kMaxName = 100, kMaxSummary = 500;

bool valid_handle(const std::string& h) {
  return !h.empty() && h.size() <= kMaxHandle && h.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos;
}

std::string str_member(const json::object& o, const char* key) {
  auto* s = json_string_at(o, key);
  return s ? std::string(*s) : std::string();
}

const json::object* obj_member(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}

// The power level of sender in room_id as the commit leaves it.
Result<int64_t> sender_level(storage::Txn& t, const std::string& room_id, const std::string& sender) {
  StateMap state;
  for (const char* type : {"m.room.create", "m.room.power_levels"}) {
    DS_ASSIGN(auto entry, t.state().current_entry(room_id, type, ""));
    if (!entry) continue;
    DS_ASSIGN(auto ev, t.events().event(entry->event_id));
    if (ev) state[{type, ""}] = ev->pdu;
  }
  return PowerLevels::from_state(state).user_level(sender);
}

// What a message publishes: its text and, for m.image, its picture. nullopt: nothing.
struct Content {
  std::string body, media, media_type;
};
std::optional<Content> publishable(const json::object& content) {
  std::string msgtype = str_member(content, "msgtype");
  Content c{str_member(content, "body"), "", ""};
  if (c.body.empty() || c.body.size() > 20000) return std::nullopt;
  if (msgtype == "m.text" || msgtype == "m.notice") return c;
  if (msgtype == "m.image") {
    c.media = str_member(content, "url");  // encrypted pictures (content.file) are never published
    if (c.media.rfind("mxc://", 0) != 0) return std::nullopt;
    if (auto* info = obj_member(content, "info")) c.media_type = str_member(*info, "mimetype");
    if (c.media_type.rfind("image/", 0) != 0) c.media_type = "image/jpeg";
    return c;
  }
  return std::nullopt;
}

}  // namespace

Result<ChannelRequest> ChannelRequest::from_json(const json::object& body) {
  ChannelRequest r;
  for (auto [key, out] : {std::pair{"room_id", &r.room}, std::pair{"handle", &r.handle}, std::pair{"name", &r.name},
                          std::pair{"summary", &r.summary}}) {
    auto* v = body.if_contains(key);
    if (!v) continue;
    if (!v->is_string()) return Error::invalid_param(std::string(key) + " must be a string");
    *out = v->as_string();
  }
  if (auto* v = body.if_contains("min_power")) {
    if (!v->is_int64()) return Error::invalid_param("min_power must be an integer");
    r.min_power = v->as_int64();
  }
  return r;
}

Result<storage::ChannelRow> create_channel(storage::Txn& t, const ChannelRequest& req, const std::string& actor,
                                           int64_t now) {
  if (req.room.empty()) return Error::missing_param("a room (room ID or alias) is required");
  if (!valid_handle(req.handle))
    return Error::invalid_param("the handle must be 1 to 30 characters of a-z, 0-9 and _");
  if (req.name.empty() || req.name.size() > kMaxName) return Error::invalid_param("the name must be 1 to 100 bytes");
  if (req.summary.size() > kMaxSummary) return Error::invalid_param("the summary must be at most 500 bytes");
  if (req.min_power < -(int64_t{1} << 53) || req.min_power > (int64_t{1} << 53))
    return Error::invalid_param("min_power is out of range");
  std::string room_id = req.room;
  if (is_valid_room_alias(req.room)) {
    DS_ASSIGN(auto alias, t.rooms().alias(req.room));
    if (!alias) return Error::not_found("no room has the alias " + req.room);
    room_id = alias->room_id;
  } else if (!is_valid_room_id(req.room)) {
    return Error::invalid_param(req.room + " is neither a room ID nor an alias");
  }
  DS_ASSIGN(auto room, t.rooms().room(room_id));
  if (!room) return Error::not_found("this server has no room " + room_id);
  DS_ASSIGN(auto encrypted, t.state().current_entry(room_id, "m.room.encryption", ""));
  if (encrypted)
    return Error::make(400, errc::kInvalidParam,
                       "the room is end-to-end encrypted; a channel publishes in the clear, so it needs a room that is not");
  DS_ASSIGN(auto taken, t.announce().channel(req.handle));
  if (taken) return Error::make(400, errc::kExclusive, "the handle " + req.handle + " is already a channel's");
  DS_ASSIGN(auto already, t.announce().channel_of_room(room_id));
  if (already) return Error::make(400, errc::kRoomInUse, "the room is already the channel " + already->handle);
  storage::ChannelRow c{req.handle, room_id, req.name, req.summary, req.min_power, actor, now};
  DS_TRY(t.announce().add_channel(c));
  json::object details{{"handle", c.handle}, {"room_id", c.room_id}, {"name", c.name}, {"min_power", c.min_power}};
  DS_TRY(audit_append(t, actor, "announce.channel_created", "", details));
  return c;
}

Result<bool> remove_channel(storage::Txn& t, const std::string& handle, const std::string& actor) {
  DS_ASSIGN(auto c, t.announce().channel(handle));
  if (!c) return false;
  DS_ASSIGN(int64_t followers, t.announce().follower_count(handle));
  DS_TRY(t.announce().remove_channel(handle));
  json::object details{{"handle", handle}, {"room_id", c->room_id}, {"followers", followers}};
  DS_TRY(audit_append(t, actor, "announce.channel_removed", "", details));
  return true;
}

json::object channel_json(const storage::ChannelRow& c, const announce::Urls& u, int64_t followers, int64_t posts) {
  return json::object{{"handle", c.handle},
                      {"room_id", c.room_id},
                      {"name", c.name},
                      {"summary", c.summary},
                      {"min_power", c.min_power},
                      {"created_by", c.created_by},
                      {"created_ts", c.created_ts},
                      {"account", "@" + c.handle + "@" + u.server_name},
                      {"actor", u.actor(c.handle)},
                      {"page", u.page(c.handle)},
                      {"feed", u.feed(c.handle)},
                      {"followers", followers},
                      {"posts", posts}};
}

announce::Urls announce_urls(const Config& config) {
  std::string base = config.announce.base_url.empty() ? "https://" + config.server_name : config.announce.base_url;
  return announce::Urls{base, config.server_name};
}

Announcements::Announcements(const Config& config, storage::Database& db, Archive& archive, MediaService& media)
    : config_(config), db_(db), archive_(archive), media_(media), urls_(announce_urls(config)) {}

Status Announcements::init_blocking() {
  DS_ASSIGN(auto stored, db_.read().announce().key(kKeyName));
  if (stored) {
    key_ = RsaKeyPair{stored->first, stored->second};
    return ok_status();
  }
  DS_ASSIGN(key_, RsaKeyPair::generate(2048));
  DS_TRY(db_.transact_blocking<Ok>([this](storage::Txn& t) -> Status {
    return t.announce().put_key(kKeyName, key_.private_pem, key_.public_pem);
  }));
  DS_LOG(kInfo, "announce: generated the RSA key the channels sign with");
  return ok_status();
}

Status Announcements::queue_to_followers(storage::Txn& t, const std::string& handle, const json::object& activity) {
  DS_ASSIGN(auto followers, t.announce().followers(handle));
  std::set<std::string> inboxes;  // a shared inbox serves every follower on its server once
  for (auto& f : followers) inboxes.insert(f.inbox);
  std::string text = json::serialize(activity);
  for (auto& inbox : inboxes) DS_TRY(t.announce().enqueue_delivery({0, handle, inbox, text, 0, now_ms(), ""}));
  if (!inboxes.empty()) queued_ = true;
  return ok_status();
}

Status Announcements::on_sent(storage::Txn& t, const std::string& room_id, const std::vector<json::object>& pdus) {
  DS_ASSIGN(auto channel, t.announce().channel_of_room(room_id));
  if (!channel) return ok_status();
  DS_ASSIGN(auto room, t.rooms().room(room_id));
  if (!room) return ok_status();
  for (auto& pdu : pdus) {
    std::string type = str_member(pdu, "type"), sender = str_member(pdu, "sender");
    if (pdu.contains("state_key") || (type != "m.room.message" && type != "m.room.redaction")) continue;
    if (server_name_of(sender) != config_.server_name) continue;  // only the department's own accounts speak for it
    std::string event_id = compute_event_id(pdu, room->room_version);
    DS_ASSIGN(int64_t level, sender_level(t, room_id, sender));
    DS_TRY(publish(t, *channel, pdu, event_id, level));
  }
  return ok_status();
}

Status Announcements::publish(storage::Txn& t, const storage::ChannelRow& c, const json::object& pdu,
                              const std::string& event_id, int64_t level) {
  const json::object empty;
  const json::object* content = obj_member(pdu, "content");
  if (!content) content = &empty;
  std::string type = str_member(pdu, "type"), sender = str_member(pdu, "sender");
  int64_t ts = now_ms();
  auto archive = [&](const storage::PostRow& p, const char* action) -> Status {
    json::object rec{{"action", action},           {"handle", p.handle},          {"post_id", p.id},
                     {"url", urls_.note(p.handle, p.id)}, {"body", p.body},        {"media", p.media},
                     {"published_ts", p.published_ts}, {"updated_ts", p.updated_ts}, {"withdrawn_ts", p.withdrawn_ts}};
    ArchiveEntry e{0, event_id, c.room_id, sender, std::string("m.despatch.announcement.") + action, ts, "",
                   "announcement", canonical_json(rec)};
    DS_TRY(archive_.append(t, e));
    return ok_status();
  };
  if (type == "m.room.redaction") {
    std::string target = str_member(*content, "redacts");
    if (target.empty()) target = str_member(pdu, "redacts");
    DS_ASSIGN(auto post, t.announce().post_of_event(target));
    if (!post || post->withdrawn_ts || post->handle != c.handle) return ok_status();
    post->withdrawn_ts = ts;
    DS_TRY(t.announce().withdraw_post(post->id, ts));
    DS_TRY(archive(*post, "withdrawn"));
    return queue_to_followers(t, c.handle, announce::delete_activity(urls_, *post));
  }
  if (level < c.min_power) return ok_status();
  auto* rel = obj_member(*content, "m.relates_to");
  if (rel && str_member(*rel, "rel_type") == "m.replace") {
    auto* replacement = obj_member(*content, "m.new_content");
    auto next = replacement ? publishable(*replacement) : std::nullopt;
    DS_ASSIGN(auto post, t.announce().post_of_event(str_member(*rel, "event_id")));
    // Matrix lets only the original sender edit; the picture of a post stays as published.
    if (!next || !post || post->withdrawn_ts || post->sender != sender || post->handle != c.handle) return ok_status();
    post->body = next->body;
    post->updated_ts = ts;
    DS_TRY(t.announce().update_post(post->id, post->body, ts));
    DS_TRY(archive(*post, "updated"));
    return queue_to_followers(t, c.handle, announce::update_activity(urls_, *post, config_.announce.show_matrix_ids));
  }
  // Replies and threads are conversation, not notices.
  if (rel || content->contains("m.new_content")) return ok_status();
  auto what = publishable(*content);
  if (!what) return ok_status();
  storage::PostRow post{0, c.handle, event_id, sender, what->body, what->media, what->media_type, ts, 0, 0};
  DS_ASSIGN(post.id, t.announce().add_post(post));
  DS_TRY(archive(post, "published"));
  return queue_to_followers(t, c.handle, announce::create_activity(urls_, post, config_.announce.show_matrix_ids));
}

void Announcements::after_sent() {
  if (queued_.exchange(false) && wake_) wake_();
}

boost::asio::awaitable<Result<json::object>> Announcements::create(const std::string& actor, ChannelRequest req) {
  auto made = co_await db_.transact<storage::ChannelRow>(
      [&req, &actor](storage::Txn& t) { return create_channel(t, req, actor, now_ms()); });
  if (!made.ok()) co_return made.error();
  co_return channel_json(*made, urls_, 0, 0);
}

boost::asio::awaitable<Status> Announcements::remove(const std::string& actor, const std::string& handle) {
  auto removed = co_await db_.transact<bool>([&handle, &actor](storage::Txn& t) { return remove_channel(t, handle, actor); });
  if (!removed.ok()) co_return removed.error();
  if (!*removed) co_return Error::not_found("no channel has the handle " + handle);
  co_return ok_status();
}

Result<json::array> Announcements::list() {
  auto& store = db_.read().announce();
  DS_ASSIGN(auto channels, store.channels());
  json::array out;
  for (auto& c : channels) {
    DS_ASSIGN(int64_t followers, store.follower_count(c.handle));
    DS_ASSIGN(int64_t posts, store.post_count(c.handle));
    out.push_back(channel_json(c, urls_, followers, posts));
  }
  return out;
}

Result<json::object> Announcements::describe(const std::string& handle) {
  auto& store = db_.read().announce();
  DS_ASSIGN(auto c, store.channel(handle));
  if (!c) return Error::not_found("no channel has the handle " + handle);
  DS_ASSIGN(int64_t followers, store.follower_count(handle));
  DS_ASSIGN(int64_t posts, store.post_count(handle));
  json::object out = channel_json(*c, urls_, followers, posts);
  DS_ASSIGN(out["delivery_backlog"], store.delivery_backlog());
  return out;
}

}  // namespace despatch
