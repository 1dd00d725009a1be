#include "service/rooms/event_format.h"

#include <initializer_list>

#include "core/base64.h"
#include "core/canonical_json.h"
#include "service/common/time.h"
#include "core/ids.h"

namespace despatch {
namespace {

// The version's rules; any other version string gets the newest version's.
const RoomVersion& rules_for(std::string_view room_version) {
  const RoomVersion* v = find_room_version(room_version);
  return v != nullptr ? *v : latest_room_version();
}

constexpr std::string_view kTopLevelKeys[] = {
    "event_id", "type",  "room_id",     "sender",      "state_key",        "content",
    "hashes",   "depth", "prev_events", "auth_events", "origin_server_ts", "signatures",
};
constexpr std::string_view kPreV11TopLevelKeys[] = {"prev_state", "origin", "membership"};

void copy_keys(const json::object& from, json::object& to,
               std::initializer_list<std::string_view> keys) {
  for (std::string_view k : keys) {
    if (const json::value* v = from.if_contains(k)) to[k] = *v;
  }
}

// Raw SHA-256 over everything except the members that may change after hashing.
std::string content_hash_bytes(const json::object& event) {
  json::object copy = event;
  copy.erase("unsigned");
  copy.erase("signatures");
  copy.erase("hashes");
  return sha256(canonical_json(copy));
}

}  // namespace

json::object redact_content(std::string_view event_type, const json::object& content,
                            std::string_view room_version) {
  const RoomVersion& rules = rules_for(room_version);
  json::object out;
  if (event_type == "m.room.member") {
    copy_keys(content, out, {"membership"});
    if (rules.redaction_keeps_authoriser) {
      copy_keys(content, out, {"join_authorised_via_users_server"});
    }
    if (rules.redaction_v11) {
      // v11 keeps third_party_invite, but pared down to its `signed` member.
      const json::value* tpi = content.if_contains("third_party_invite");
      const json::value* signed_v =
          tpi && tpi->is_object() ? tpi->get_object().if_contains("signed") : nullptr;
      if (signed_v) out["third_party_invite"] = json::object{{"signed", *signed_v}};
    }
  } else if (event_type == "m.room.create") {
    if (rules.redaction_v11) return content;
    copy_keys(content, out, {"creator"});
  } else if (event_type == "m.room.join_rules") {
    copy_keys(content, out, {"join_rule"});
    if (rules.redaction_keeps_allow) copy_keys(content, out, {"allow"});
  } else if (event_type == "m.room.power_levels") {
    copy_keys(content, out,
              {"ban", "events", "events_default", "kick", "redact", "state_default", "users",
               "users_default"});
    if (rules.redaction_v11) copy_keys(content, out, {"invite"});
  } else if (event_type == "m.room.history_visibility") {
    copy_keys(content, out, {"history_visibility"});
  } else if (event_type == "m.room.aliases") {
    if (rules.redaction_keeps_aliases) copy_keys(content, out, {"aliases"});
  } else if (event_type == "m.room.redaction") {
    if (rules.redaction_v11) copy_keys(content, out, {"redacts"});
  }
  return out;
}

json::object redact_event(const json::object& event, std::string_view room_version) {
  const RoomVersion& rules = rules_for(room_version);
  json::object out;
  for (std::string_view k : kTopLevelKeys) {
    if (const json::value* v = event.if_contains(k)) out[k] = *v;
  }
  if (!rules.redaction_v11) {
    for (std::string_view k : kPreV11TopLevelKeys) {
      if (const json::value* v = event.if_contains(k)) out[k] = *v;
    }
  }
  const json::value* type = event.if_contains("type");
  const json::value* content = event.if_contains("content");
  static const json::object kEmpty;
  out["content"] = redact_content(
      type && type->is_string() ? std::string_view(type->get_string()) : std::string_view(),
      content && content->is_object() ? content->get_object() : kEmpty, room_version);
  return out;
}

std::string compute_content_hash(const json::object& event) {
  return base64_encode(content_hash_bytes(event));
}

std::string reference_hash(const json::object& event, std::string_view room_version) {
  json::object redacted = redact_event(event, room_version);
  redacted.erase("signatures");
  redacted.erase("unsigned");
  // An event ID is no part of its own hash (v3+ events do not carry one at all).
  redacted.erase("event_id");
  return sha256(canonical_json(redacted));
}

std::string compute_event_id(const json::object& event, std::string_view room_version) {
  switch (rules_for(room_version).event_ids) {
    case EventIdFormat::kOpaque: {
      const json::value* id = event.if_contains("event_id");
      return id != nullptr && id->is_string() ? std::string(id->get_string()) : std::string();
    }
    case EventIdFormat::kReferenceHash:
      return "$" + base64_encode(reference_hash(event, room_version));
    case EventIdFormat::kUrlSafeReferenceHash:
      break;
  }
  return "$" + base64url_encode(reference_hash(event, room_version));
}

std::string compute_room_id(const json::object& create_event, std::string_view room_version) {
  return "!" + compute_event_id(create_event, room_version).substr(1);
}

std::vector<std::string> event_refs(const json::object& event, std::string_view key) {
  std::vector<std::string> ids;
  const json::value* list = event.if_contains(key);
  if (list == nullptr || !list->is_array()) return ids;
  for (const json::value& entry : list->get_array()) {
    const json::value* id = &entry;
    // v1-2 pair each ID with the referenced event's hashes: ["$id:server", {"sha256": ...}].
    if (entry.is_array() && !entry.get_array().empty()) id = &entry.get_array()[0];
    if (id->is_string()) ids.emplace_back(id->get_string());
  }
  return ids;
}

std::string hash_sign_and_identify(json::object& event, const std::string& server_name, const SigningKey& key,
                                   std::string_view room_version) {
  event["hashes"] = json::object{{"sha256", compute_content_hash(event)}};
  json::object redacted = redact_event(event, room_version);
  json::value signatures = redacted.contains("signatures") ? redacted["signatures"] : json::value(json::object{});
  redacted.erase("signatures");
  redacted.erase("unsigned");
  EventIdFormat format = rules_for(room_version).event_ids;
  // What is signed is what the reference hash covers, but for an event_id member: a new
  // event from v3 on has none, so one canonical form serves both.
  std::string canonical = canonical_json(redacted);
  std::string id_input = canonical;
  if (format != EventIdFormat::kOpaque && redacted.erase("event_id") > 0) id_input = canonical_json(redacted);
  if (!signatures.is_object()) signatures = json::object{};
  json::value& mine = signatures.as_object()[server_name];
  if (!mine.is_object()) mine = json::object{};
  mine.as_object()[key.key_id()] = base64_encode(key.sign(canonical));
  event["signatures"] = std::move(signatures);
  switch (format) {
    case EventIdFormat::kOpaque: {
      const json::value* id = event.if_contains("event_id");
      return id != nullptr && id->is_string() ? std::string(id->get_string()) : std::string();
    }
    case EventIdFormat::kReferenceHash:
      return "$" + base64_encode(sha256(id_input));
    case EventIdFormat::kUrlSafeReferenceHash:
      break;
  }
  return "$" + base64url_encode(sha256(id_input));
}

std::string sign_template(json::object& event, const std::string& server_name, const SigningKey& key,
                          std::string_view room_version) {
  event["origin_server_ts"] = now_ms();
  for (const char* key_name : {"signatures", "hashes", "unsigned", "event_id"}) event.erase(key_name);
  const RoomVersion* v = find_room_version(room_version);
  if (v && v->event_ids == EventIdFormat::kOpaque) event["event_id"] = "$" + random_string(18) + ":" + server_name;
  return hash_sign_and_identify(event, server_name, key, room_version);
}

void hash_and_sign_event(json::object& event, const std::string& server_name, const SigningKey& key,
                         std::string_view room_version) {
  (void)hash_sign_and_identify(event, server_name, key, room_version);
}

void countersign_event(json::object& event, const std::string& server_name, const SigningKey& key,
                       std::string_view room_version) {
  json::object redacted = redact_event(event, room_version);
  redacted.erase("signatures");
  redacted.erase("unsigned");
  std::string signature = base64_encode(key.sign(canonical_json(redacted)));
  json::value& sigs = event["signatures"];
  if (!sigs.is_object()) sigs = json::object{};
  json::value& mine = sigs.as_object()[server_name];
  if (!mine.is_object()) mine = json::object{};
  mine.as_object()[key.key_id()] = signature;
}

Status verify_event_content_hash(const json::object& event) {
  const json::value* hashes = event.if_contains("hashes");
  const json::value* hash =
      hashes && hashes->is_object() ? hashes->get_object().if_contains("sha256") : nullptr;
  if (!hash || !hash->is_string()) return Error::bad_json("Event has no sha256 content hash");
  auto claimed = base64_decode(hash->get_string());
  if (!claimed) return Error::bad_json("Event content hash is not valid base64");
  if (*claimed != content_hash_bytes(event)) {
    return Error::forbidden("Event content hash does not match");
  }
  return ok_status();
}

Status verify_event_signature(const json::object& event, std::string_view room_version,
                              const std::string& server_name, const std::string& key_id,
                              std::string_view public_key32) {
  return verify_json(redact_event(event, room_version), server_name, key_id, public_key32);
}

}  // namespace despatch
