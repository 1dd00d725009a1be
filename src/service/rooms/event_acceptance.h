// What a server does with an event another server sent: the three authorization checks on
// receipt of a PDU (server-server API, "Checks performed on receipt of a PDU", steps 4 to 6),
// as a pure function over the three states they are judged against.
#pragma once

#include "service/rooms/auth_rules.h"

#include <string>
#include <vector>

namespace despatch {

enum class Acceptance {
  kAccepted,    // part of the room: it may change state and be shown
  kRejected,    // failed against its auth events or the state before it: stored, never used
  kSoftFailed,  // fine by its own history, refused by the current state: kept out of the
                // timeline and of the next event's prev_events, but its state still counts
};

struct AcceptanceResult {
  Acceptance verdict = Acceptance::kAccepted;
  std::string reason;  // the failed rule, for rejected and soft-failed events
};

// 1. The auth events themselves (rule 2's list checks) and the event against the state they
//    form; 2. the event against the state before it, resolved from its prev_events; 3. the
// event against the room's current state. The first two reject, the third soft-fails.
AcceptanceResult check_received_event(const json::object& event, const std::vector<json::object>& auth_events,
                                      const StateMap& state_before, const StateMap& current_state,
                                      std::string_view room_version, const ServerSignatureCheck& signed_by = {});

}  // namespace despatch
