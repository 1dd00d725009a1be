// The spec's size and schema limits on events ("Size limits" in the Client-Server API and
// the content schemas of the m.room.* state events), applied to every event the server
// makes, whichever endpoint asked for it.
#pragma once

#include "core/result.h"

namespace despatch {

// The complete event, as canonical JSON with its hashes and signatures, MUST NOT be larger.
inline constexpr size_t kMaxEventBytes = 65536;
// Limits on the type and state_key of an event (and on a room name's length).
inline constexpr size_t kMaxEventTypeBytes = 255;
inline constexpr size_t kMaxStateKeyBytes = 255;

// Checks the type, state_key and, for the state events whose content the server itself
// interprets, the content's schema. 400 M_BAD_JSON (M_INVALID_PARAM for the type and key).
Status check_event_shape(const json::object& ev);

// Checks the finished event (hashed and signed, before unsigned data is added) fits in
// kMaxEventBytes: 413 M_TOO_LARGE otherwise.
Status check_event_size(const json::object& ev);

}  // namespace despatch
