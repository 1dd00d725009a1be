#include "service/rooms/event_format.h"

#include <algorithm>
#include <initializer_list>

#include "core/base64.h"
#include "core/canonical_json.h"

namespace despatch {
namespace {

// The ways redaction rules changed between room versions.
struct RedactionRules {
  bool keeps_aliases = false;            // v1-5: m.room.aliases keeps `aliases`
  bool join_rules_keep_allow = false;    // v8+: restricted join rules
  bool member_keeps_authoriser = false;  // v9+: join_authorised_via_users_server
  bool v11 = false;                      // v11+: see rooms/v11.md "Redactions"
};

RedactionRules rules_for(std::string_view room_version) {
  int v = 0;
  bool numeric = !room_version.empty() && room_version.size() <= 2 &&
                 std::all_of(room_version.begin(), room_version.end(),
                             [](char c) { return c >= '0' && c <= '9'; });
  if (numeric) {
    for (char c : room_version) v = v * 10 + (c - '0');
  }
  if (!numeric || v < 1 || v >= 11) return {false, true, true, true};
  return {v <= 5, v >= 8, v >= 9, false};
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
  RedactionRules rules = rules_for(room_version);
  json::object out;
  if (event_type == "m.room.member") {
    copy_keys(content, out, {"membership"});
    if (rules.member_keeps_authoriser) {
      copy_keys(content, out, {"join_authorised_via_users_server"});
    }
    if (rules.v11) {
      // v11 keeps third_party_invite, but pared down to its `signed` member.
      const json::value* tpi = content.if_contains("third_party_invite");
      const json::value* signed_v =
          tpi && tpi->is_object() ? tpi->get_object().if_contains("signed") : nullptr;
      if (signed_v) out["third_party_invite"] = json::object{{"signed", *signed_v}};
    }
  } else if (event_type == "m.room.create") {
    if (rules.v11) return content;
    copy_keys(content, out, {"creator"});
  } else if (event_type == "m.room.join_rules") {
    copy_keys(content, out, {"join_rule"});
    if (rules.join_rules_keep_allow) copy_keys(content, out, {"allow"});
  } else if (event_type == "m.room.power_levels") {
    copy_keys(content, out,
              {"ban", "events", "events_default", "kick", "redact", "state_default", "users",
               "users_default"});
    if (rules.v11) copy_keys(content, out, {"invite"});
  } else if (event_type == "m.room.history_visibility") {
    copy_keys(content, out, {"history_visibility"});
  } else if (event_type == "m.room.aliases") {
    if (rules.keeps_aliases) copy_keys(content, out, {"aliases"});
  } else if (event_type == "m.room.redaction") {
    if (rules.v11) copy_keys(content, out, {"redacts"});
  }
  return out;
}

json::object redact_event(const json::object& event, std::string_view room_version) {
  RedactionRules rules = rules_for(room_version);
  json::object out;
  for (std::string_view k : kTopLevelKeys) {
    if (const json::value* v = event.if_contains(k)) out[k] = *v;
  }
  if (!rules.v11) {
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

std::string compute_event_id(const json::object& event, std::string_view room_version) {
  json::object redacted = redact_event(event, room_version);
  redacted.erase("signatures");
  redacted.erase("unsigned");
  redacted.erase("event_id");
  return "$" + base64url_encode(sha256(canonical_json(redacted)));
}

void hash_and_sign_event(json::object& event, const std::string& server_name, const SigningKey& key,
                         std::string_view room_version) {
  event["hashes"] = json::object{{"sha256", compute_content_hash(event)}};
  json::object redacted = redact_event(event, room_version);
  sign_json(redacted, server_name, key);
  event["signatures"] = std::move(redacted["signatures"]);
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
