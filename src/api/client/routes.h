// Client-Server API route registration, one function per spec section (one .cpp each).
#pragma once

#include "http/router.h"

namespace despatch {
struct App;
}

namespace despatch::api {

void add_discovery_routes(http::Router& r, App& app);     // discovery.cpp
void add_account_routes(http::Router& r, App& app);       // account.cpp: register, login, password
void add_profile_routes(http::Router& r, App& app);       // profile.cpp
void add_device_routes(http::Router& r, App& app);        // devices.cpp
void add_room_routes(http::Router& r, App& app);          // rooms.cpp: createRoom, state, reads
void add_membership_routes(http::Router& r, App& app);    // membership.cpp
void add_event_routes(http::Router& r, App& app);         // events.cpp: send, redact, messages
void add_sync_routes(http::Router& r, App& app);          // sync.cpp: sync, filters, typing, receipts
void add_account_data_routes(http::Router& r, App& app);  // account_data.cpp: account data, tags
void add_directory_routes(http::Router& r, App& app);     // directory.cpp: aliases, public rooms
void add_push_routes(http::Router& r, App& app);          // push.cpp: /pushrules
void add_keys_routes(http::Router& r, App& app);          // keys.cpp: E2EE keys, to-device
void add_key_backup_routes(http::Router& r, App& app);    // keys.cpp: server-side key backup
void add_media_routes(http::Router& r, App& app);         // media.cpp: content repository

}  // namespace despatch::api
