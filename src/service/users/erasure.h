// Users erased at deactivation: their events are served redacted to everyone else. A small
// process-wide set, loaded at start-up, because every event rendered for a client asks.
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <string>

namespace despatch {

// Loads the set from the users store (start-up).
Status load_erased_users(storage::Stores& s);
void mark_erased(const std::string& user_id);
bool is_erased(const std::string& user_id);

}  // namespace despatch
