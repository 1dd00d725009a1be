// Users erased at deactivation: their events are served redacted to everyone else. A small
// process-wide set, loaded at start-up, because every event rendered for a client asks.
#pragma once

#include "storage/conn.h"

#include <string>

namespace despatch {

Status load_erased_users(storage::Conn& c);
void mark_erased(const std::string& user_id);
bool is_erased(const std::string& user_id);

}  // namespace despatch
