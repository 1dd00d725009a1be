// Client-Server API route registration, one function per spec section (one .cpp each).
#pragma once

#include "api/services.h"
#include "http/router.h"

namespace despatch::api {

void add_discovery_routes(http::Router& r, const Services& svc);     // discovery.cpp
void add_account_routes(http::Router& r, const Services& svc);       // account.cpp: register, login, password
void add_profile_routes(http::Router& r, const Services& svc);       // profile.cpp
void add_device_routes(http::Router& r, const Services& svc);        // devices.cpp
void add_room_routes(http::Router& r, const Services& svc);          // rooms.cpp: createRoom, state, reads
void add_membership_routes(http::Router& r, const Services& svc);    // membership.cpp
void add_event_routes(http::Router& r, const Services& svc);         // events.cpp: send, redact, messages
void add_sync_routes(http::Router& r, const Services& svc);          // sync.cpp: sync, filters, typing, receipts
void add_old_sync_routes(http::Router& r, const Services& svc);      // old_sync.cpp: /events, /initialSync
void add_presence_routes(http::Router& r, const Services& svc);      // presence.cpp: presence status
void add_account_data_routes(http::Router& r, const Services& svc);  // account_data.cpp: account data, tags
void add_directory_routes(http::Router& r, const Services& svc);     // directory.cpp: aliases, public rooms
void add_push_routes(http::Router& r, const Services& svc);          // push.cpp: /pushrules
void add_admin_client_routes(http::Router& r, const Services& svc);  // admin.cpp: /admin/whois, /thirdparty
void add_keys_routes(http::Router& r, const Services& svc);          // keys.cpp: E2EE keys, to-device
void add_key_backup_routes(http::Router& r, const Services& svc);    // keys.cpp: server-side key backup
void add_media_routes(http::Router& r, const Services& svc);         // media.cpp: content repository
void add_report_routes(http::Router& r, const Services& svc);        // reporting.cpp: reporting content
void add_sso_routes(http::Router& r, const Services& svc);           // sso.cpp: SSO redirect, auth_metadata

}  // namespace despatch::api
