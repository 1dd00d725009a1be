// Room-version-dependent event transforms: redaction, content hashes, event IDs, room IDs
// and event signing (server-server API "Signing Events"; rooms/v1.md ... rooms/v12.md).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/crypto.h"
#include "core/result.h"
#include "service/rooms/room_version.h"

namespace despatch {

// Applies the redaction algorithm of `room_version`: drops top-level keys outside the
// version's allow-list and content keys outside the per-type allow-list. Versions "1" to "12"
// follow their own rules (v1-5, v6, v8, v9, v11; v12 keeps v11's); any other version string
// gets the newest rules.
// The result always has a `content` object. `unsigned` is dropped like any other extra key.
json::object redact_event(const json::object& event, std::string_view room_version);

// Just the content part of redact_event for an event of `event_type`.
json::object redact_content(std::string_view event_type, const json::object& content,
                            std::string_view room_version);

// Unpadded base64 SHA-256 of the canonical JSON of `event` without `unsigned`, `signatures`
// and `hashes`: the value stored in hashes.sha256.
std::string compute_content_hash(const json::object& event);

// SHA-256 of the canonical redacted event without `signatures`, `unsigned` and `event_id`
// (server-server API "Calculating the reference hash for an event"), as raw bytes.
std::string reference_hash(const json::object& event, std::string_view room_version);

// The event's ID in `room_version`: "$" + the reference hash in unpadded base64 for v3,
// URL-safe for v4+ (and any unknown version). Any `event_id` member is ignored there. In v1-2
// the ID is not derived from the event: the origin chose it, so this returns the event's own
// `event_id` member, or "" when it has none.
std::string compute_event_id(const json::object& event, std::string_view room_version);

// A v12 room's ID: the ID of its m.room.create event (which has no room_id) with "!" in place
// of "$" (appendices "Room IDs").
std::string compute_room_id(const json::object& create_event, std::string_view room_version);

// The event IDs in event[key] ("prev_events" or "auth_events"), in order: plain strings from
// v3 on, the first element of each [event_id, hashes] pair in v1-2. Other entries are skipped.
std::vector<std::string> event_refs(const json::object& event, std::string_view key);

// Sets hashes.sha256 on `event`, signs its redacted form as `server_name` and stores the
// resulting `signatures` (including any already present) back on the full event.
void hash_and_sign_event(json::object& event, const std::string& server_name, const SigningKey& key,
                         std::string_view room_version);

// hash_and_sign_event, returning the event's ID (compute_event_id) from the same canonical
// form that was signed, so a new event is canonicalised once for both.
std::string hash_sign_and_identify(json::object& event, const std::string& server_name, const SigningKey& key,
                                   std::string_view room_version);

// Makes a resident server's template (make_join, make_leave, make_knock) this server's own
// event: stamped now, the template's hashes, signatures and ID dropped, a v1-2 event ID
// chosen here, then hashed, signed and identified. Returns the event ID.
std::string sign_template(json::object& event, const std::string& server_name, const SigningKey& key,
                          std::string_view room_version);

// Adds server_name's signature to an event another server made and hashed (an invite this
// server countersigns), leaving its hashes and other signatures as they are.
void countersign_event(json::object& event, const std::string& server_name, const SigningKey& key,
                       std::string_view room_version);

// Checks hashes.sha256 matches compute_content_hash. A missing or malformed hash is
// 400 M_BAD_JSON; a mismatch (the event was redacted or tampered with) is 403 M_FORBIDDEN.
Status verify_event_content_hash(const json::object& event);

// Checks `server_name`'s signature with `key_id` on the redacted form of `event`, which is
// what hash_and_sign_event signed. Errors as verify_json.
Status verify_event_signature(const json::object& event, std::string_view room_version,
                              const std::string& server_name, const std::string& key_id,
                              std::string_view public_key32);

}  // namespace despatch
