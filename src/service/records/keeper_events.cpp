// The records keeper's side of encrypted events: each one decrypted with the room keys it
// holds and its plaintext sealed into the archive, or recorded as undecryptable and retried
// when the keys arrive.
#include "service/records/keeper.h"

#include "core/canonical_json.h"
#include "core/log.h"
#include "service/common/time.h"
#include "service/records/keeper_detail.h"
#include "storage/event_store.h"
#include "storage/keeper_store.h"
#include "storage/membership_store.h"

namespace despatch {

using storage::Txn;
using namespace keeper_detail;  // NOLINT(google-build-using-namespace)

Result<const RecordsKeeper::Megolm*> RecordsKeeper::find_megolm(Txn& t, const std::string& room_id,
                                                                const std::string& session_id,
                                                                const std::string& sender_key) {
  if (!sender_key.empty()) {
    auto it = megolm_.find(cache_key(room_id, session_id, sender_key));
    if (it != megolm_.end()) return &it->second;
  }
  // Newer clients may leave sender_key out of events: any session with this ID in the room.
  DS_ASSIGN(auto row, t.keeper().megolm_session(room_id, session_id, sender_key));
  if (!row) return static_cast<const Megolm*>(nullptr);
  std::string key = cache_key(room_id, session_id, row->sender_key);
  if (auto it = megolm_.find(key); it != megolm_.end()) return &it->second;
  auto session = MegolmInbound::unpickle(row->pickle, key_);
  if (!session.ok()) {
    DS_LOG(kError, "records keeper: cannot read Megolm session {}: {}", session_id, session.error().message);
    return static_cast<const Megolm*>(nullptr);
  }
  if (megolm_.size() >= kMaxCachedSessions) megolm_.clear();
  Megolm m{std::make_shared<MegolmInbound>(std::move(*session)), row->sender_user, row->source, row->sender_key,
           static_cast<uint32_t>(row->first_index)};
  return &(megolm_[key] = std::move(m));
}

Result<bool> RecordsKeeper::store_megolm(Txn& t, const std::string& room_id, const std::string& sender_key,
                                         const std::string& owner, const std::string& shared_by,
                                         const std::string& source, MegolmInbound session) {
  std::string session_id = session.session_id();
  uint32_t first = session.first_known_index();
  DS_ASSIGN(const Megolm* have, find_megolm(t, room_id, session_id, sender_key));
  if (have) {
    if (have->sender_user != owner) return false;
    bool better = first < have->first_index || (first == have->first_index && have->source != "m.room_key" &&
                                                source == "m.room_key");
    if (!better) return false;
    // The same ratchet, only reaching further back: both must agree where the held one starts.
    auto held = have->session->export_at(have->first_index);
    auto offered = session.export_at(have->first_index);
    if (!held.ok() || !offered.ok() || *held != *offered) {
      ++rejected_;
      DS_LOG(kWarn, "records keeper: a key for session {} from {} conflicts with the one held", session_id, shared_by);
      return false;
    }
  }
  DS_ASSIGN(std::string pickle, session.pickle(key_));
  DS_ASSIGN(std::string exported, session.export_at(first));
  DS_TRY(t.keeper().put_megolm_session(
      {room_id, session_id, sender_key, owner, int64_t{first}, source, pickle, now_ms()}));
  // The key itself is sealed into the archive, so that the records office can check any
  // plaintext record against the ciphertext it came from.
  json::object rec{{"algorithm", kMegolmAlgorithm}, {"room_id", room_id},   {"session_id", session_id},
                   {"sender_key", sender_key},      {"sender", owner},      {"shared_by", shared_by},
                   {"source", source},              {"first_known_index", int64_t{first}},
                   {"session_key", exported}};
  ArchiveEntry entry{0, "", room_id, owner, source, now_ms(), "", "room_key", canonical_json(rec)};
  DS_TRY(archive_.append(t, entry));
  if (megolm_.size() >= kMaxCachedSessions) megolm_.clear();
  megolm_[cache_key(room_id, session_id, sender_key)] =
      Megolm{std::make_shared<MegolmInbound>(std::move(session)), owner, source, sender_key, first};
  return true;
}

Result<bool> RecordsKeeper::decrypt_event(Txn& t, const json::object& event, Decrypted* out, std::string* why) {
  auto* content = obj(event, "content");
  auto* alg = content ? str(*content, "algorithm") : nullptr;
  if (!alg || *alg != kMegolmAlgorithm) {
    *why = "not a Megolm event (" + (alg ? std::string(*alg) : std::string("no algorithm")) + ")";
    return false;
  }
  auto* session_id = str(*content, "session_id");
  auto* ciphertext = str(*content, "ciphertext");
  auto* sender_key = str(*content, "sender_key");
  if (!session_id || !ciphertext) {
    *why = "malformed Megolm event";
    return false;
  }
  std::string room_id(event.at("room_id").as_string());
  DS_ASSIGN(const Megolm* m, find_megolm(t, room_id, std::string(*session_id),
                                         sender_key ? std::string(*sender_key) : ""));
  if (!m) {
    DS_ASSIGN(auto w, t.keeper().withheld(room_id, std::string(*session_id)));
    if (w)
      *why = "withheld by " + w->sender + ": " + w->code + (w->reason.empty() ? "" : " (" + w->reason + ")");
    else
      *why = "no room key for session " + std::string(*session_id);
    return false;
  }
  auto plain = m->session->decrypt(std::string(*ciphertext));
  if (!plain.ok()) {
    *why = plain.error().message;
    return false;
  }
  auto payload = parse_object(plain->first);
  if (!payload || !str(*payload, "type") || !obj(*payload, "content")) {
    *why = "the decrypted payload is not an event";
    return false;
  }
  if (auto* r = str(*payload, "room_id"); !r || *r != room_id) {
    *why = "the decrypted payload names another room";
    return false;
  }
  out->payload = std::move(*payload);
  out->index = plain->second;
  out->session_id = std::string(*session_id);
  out->sender_user = m->sender_user;
  out->source = m->source;
  out->sender_key = m->sender_key;  // known even when the event leaves it out
  return true;
}

Status RecordsKeeper::archive_plaintext(Txn& t, const json::object& event, int64_t pos, const Decrypted& d) {
  json::object content = d.payload.at("content").as_object();
  // Relations travel outside the ciphertext (spec: "Mixing end-to-end encryption and relations").
  if (auto* rel = event.at("content").as_object().if_contains("m.relates_to"); rel && !content.contains("m.relates_to"))
    content["m.relates_to"] = *rel;
  std::string type(d.payload.at("type").as_string());
  std::string sender(event.at("sender").as_string());
  json::object rec{{"event_id", event.at("event_id")},
                   {"room_id", event.at("room_id")},
                   {"sender", sender},
                   {"origin_server_ts", event.at("origin_server_ts")},
                   {"type", type},
                   {"content", std::move(content)},
                   {"decryption",
                    json::object{{"algorithm", kMegolmAlgorithm},
                                 {"session_id", d.session_id},
                                 {"sender_key", d.sender_key},
                                 {"message_index", int64_t{d.index}},
                                 {"key_source", d.source},
                                 // The session belongs to a device of the event's sender.
                                 {"sender_verified", sender == d.sender_user}}}};
  ArchiveEntry entry{pos,
                     std::string(event.at("event_id").as_string()),
                     std::string(event.at("room_id").as_string()),
                     sender,
                     type,
                     event.at("origin_server_ts").as_int64(),
                     "",
                     "plaintext",
                     canonical_json(rec)};
  DS_TRY(archive_.append(t, entry));
  ++decrypted_;
  return ok_status();
}

Status RecordsKeeper::on_encrypted_event(Txn& t, const json::object& event, int64_t pos) {
  Status st = ensure_fresh(t);
  if (!st.ok()) {
    stale_ = true;
    return st;
  }
  Decrypted d;
  std::string why;
  DS_ASSIGN(bool decrypted, decrypt_event(t, event, &d, &why));
  if (decrypted) return archive_plaintext(t, event, pos, d);

  // Archived as ciphertext (the event record) plus this flag, and retried when keys arrive.
  const json::object* c_obj = obj(event, "content");
  const json::object empty;
  const json::object& content = c_obj ? *c_obj : empty;
  std::string session_id = str(content, "session_id") ? std::string(*str(content, "session_id")) : "";
  std::string sender_key = str(content, "sender_key") ? std::string(*str(content, "sender_key")) : "";
  std::string event_id(event.at("event_id").as_string()), room_id(event.at("room_id").as_string());
  std::string sender(event.at("sender").as_string());
  int64_t ts = event.at("origin_server_ts").as_int64();
  storage::KeeperPending pending{event_id, room_id, session_id, sender_key, sender, pos, ts, why};
  pending.first_seen_ts = now_ms();
  DS_TRY(t.keeper().add_pending(pending));
  json::object rec{{"event_id", event_id}, {"room_id", room_id},       {"sender", sender},
                   {"origin_server_ts", ts}, {"session_id", session_id}, {"sender_key", sender_key},
                   {"reason", why}};
  ArchiveEntry entry{pos, event_id, room_id, sender, "m.room.encrypted", ts, "", "undecryptable", canonical_json(rec)};
  DS_TRY(archive_.append(t, entry));
  ++undecryptable_;
  DS_LOG(kInfo, "records keeper: cannot decrypt {} in {} yet: {}", event_id, room_id, why);
  return ok_status();
}

Status RecordsKeeper::retry_pending(Txn& t, const std::string& room_id, const std::string& session_id) {
  DS_ASSIGN(auto pending, t.keeper().pending_for_session(room_id, session_id));
  for (auto& p : pending) {
    DS_ASSIGN(auto stored, t.events().event(p.event_id));
    if (!stored) continue;
    json::object event = stored->pdu;
    event["event_id"] = p.event_id;
    Decrypted d;
    std::string why;
    DS_ASSIGN(bool decrypted, decrypt_event(t, event, &d, &why));
    if (!decrypted) {
      DS_TRY(t.keeper().note_failed_attempt(p.event_id, why));
      continue;
    }
    DS_TRY(archive_plaintext(t, event, p.stream_pos, d));
    DS_TRY(t.keeper().drop_pending(p.event_id));
    DS_LOG(kInfo, "records keeper: decrypted {} once its keys arrived", p.event_id);
  }
  return ok_status();
}

Result<json::object> RecordsKeeper::undecryptable(int64_t limit) {
  storage::KeeperStore& store = db_.read().keeper();
  DS_ASSIGN(int64_t count, store.pending_count());
  DS_ASSIGN(auto rows, store.newest_pending(limit));
  json::array events;
  for (auto& p : rows)
    events.push_back(json::object{{"event_id", p.event_id},     {"room_id", p.room_id},
                                  {"sender", p.sender},         {"session_id", p.session_id},
                                  {"sender_key", p.sender_key}, {"reason", p.reason},
                                  {"attempts", p.attempts},     {"origin_server_ts", p.ts},
                                  {"first_seen_ts", p.first_seen_ts}});
  return json::object{{"count", count}, {"events", std::move(events)}};
}

json::object RecordsKeeper::metrics() {
  auto pending = db_.read().keeper().pending_count();
  auto counts = db_.read().device_keys().one_time_key_counts(user_id_, device_id_);
  int64_t otks = 0;
  if (counts.ok())
    for (auto& [algorithm, n] : *counts) otks += n;
  return json::object{
      {"records_undecryptable", pending.ok() ? *pending : -1},
      {"keeper_one_time_keys", counts.ok() ? otks : -1},
      {"keeper_decrypted_total", decrypted_.load()},
      {"keeper_undecryptable_total", undecryptable_.load()},
      {"keeper_room_keys_total", room_keys_.load()},
      {"keeper_rejected_to_device_total", rejected_.load()},
      {"keeper_olm_sessions_renewed_total", sessions_renewed_.load()}};
}

}  // namespace despatch
