// A room's state as a map from (event type, state_key) to the state event.
#pragma once

#include <boost/json.hpp>

#include <map>
#include <string>
#include <utility>

namespace despatch {

using StateKey = std::pair<std::string, std::string>;  // (type, state_key)
using StateMap = std::map<StateKey, boost::json::object>;

// Returns the state event for (type, state_key), or nullptr.
inline const boost::json::object* find_state(const StateMap& state, const std::string& type,
                                             const std::string& state_key = "") {
  auto it = state.find(StateKey{type, state_key});
  return it == state.end() ? nullptr : &it->second;
}

}  // namespace despatch
