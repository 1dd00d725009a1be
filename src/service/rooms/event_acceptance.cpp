#include "service/rooms/event_acceptance.h"

namespace despatch {

namespace {

StateMap state_of(const std::vector<json::object>& events) {
  StateMap state;
  for (const auto& e : events) {
    auto* type = e.if_contains("type");
    auto* key = e.if_contains("state_key");
    if (type && type->is_string() && key && key->is_string())
      state[{std::string(type->get_string()), std::string(key->get_string())}] = e;
  }
  return state;
}

AcceptanceResult verdict(Acceptance a, const Error& e) { return {a, e.message}; }

}  // namespace

AcceptanceResult check_received_event(const json::object& event, const std::vector<json::object>& auth_events,
                                      const StateMap& state_before, const StateMap& current_state,
                                      std::string_view room_version, const ServerSignatureCheck& signed_by) {
  if (auto st = check_auth_events(event, auth_events, room_version); !st.ok()) return verdict(Acceptance::kRejected, st.error());
  if (auto st = check_event_auth(event, state_of(auth_events), room_version, signed_by); !st.ok())
    return verdict(Acceptance::kRejected, st.error());
  if (auto st = check_event_auth(event, state_before, room_version, signed_by); !st.ok())
    return verdict(Acceptance::kRejected, st.error());
  if (auto st = check_event_auth(event, current_state, room_version, signed_by); !st.ok())
    return verdict(Acceptance::kSoftFailed, st.error());
  return {};
}

}  // namespace despatch
