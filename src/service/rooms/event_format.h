// Room-version-dependent event transforms: redaction, content hashes, reference-hash event
// IDs and event signing (server-server API "Signing Events"; rooms/v10.md, rooms/v11.md).
#pragma once

#include <string>
#include <string_view>

#include "core/crypto.h"
#include "core/result.h"

namespace despatch {

// Applies the redaction algorithm of `room_version`: drops top-level keys outside the
// version's allow-list and content keys outside the per-type allow-list. Versions "1" to "11"
// follow their own rules; any other version string gets the v11 rules (v12 reuses them).
// The result always has a `content` object. `unsigned` is dropped like any other extra key.
json::object redact_event(const json::object& event, std::string_view room_version);

// Just the content part of redact_event for an event of `event_type`.
json::object redact_content(std::string_view event_type, const json::object& content,
                            std::string_view room_version);

// Unpadded base64 SHA-256 of the canonical JSON of `event` without `unsigned`, `signatures`
// and `hashes`: the value stored in hashes.sha256.
std::string compute_content_hash(const json::object& event);

// The v4+ event ID: "$" + URL-safe unpadded base64 of the reference hash (SHA-256 of the
// canonical redacted event without `signatures` and `unsigned`). Any `event_id` member is
// ignored, since v4+ events carry their ID only implicitly.
std::string compute_event_id(const json::object& event, std::string_view room_version);

// Sets hashes.sha256 on `event`, signs its redacted form as `server_name` and stores the
// resulting `signatures` (including any already present) back on the full event.
void hash_and_sign_event(json::object& event, const std::string& server_name, const SigningKey& key,
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
