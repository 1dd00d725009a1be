// Server-Server API route registration: one file per spec section, served by the federation
// (TLS) listener only.
#pragma once

#include "core/config.h"
#include "http/router.h"
#include "service/federation/event_reads.h"
#include "service/federation/inbox.h"
#include "service/federation/memberships.h"
#include "service/federation/server_keys.h"
#include "service/media/media_service.h"
#include "service/records/peer_witness.h"
#include "service/keys/key_service.h"
#include "service/rooms/room_service.h"
#include "service/users/user_service.h"

namespace despatch::api {

// What the federation handlers may call: no database and no App.
struct FederationServices {
  const Config& config;
  ServerKeys* keys;
  UserService* users;
  RoomService* rooms;
  Inbox* inbox;             // incoming transactions
  FederationReads* reads;   // events, state, auth chains, backfill for other servers
  MediaService* media;      // this server's media for other servers
  FederationMemberships* memberships;  // invites to local users (null when federation is off)
  KeyService* e2e_keys;     // device keys, one-time keys and device lists of this server's users
  PeerWitness* records_witness;  // signed records heads kept for other departments
};

void add_federation_key_routes(http::Router& r, const FederationServices& svc);      // keys.cpp
void add_federation_version_routes(http::Router& r, const FederationServices& svc);  // version.cpp
void add_federation_query_routes(http::Router& r, const FederationServices& svc);    // query.cpp
void add_federation_membership_routes(http::Router& r, const FederationServices& svc);  // membership.cpp
void add_federation_transaction_routes(http::Router& r, const FederationServices& svc);  // transactions.cpp
void add_federation_event_routes(http::Router& r, const FederationServices& svc);        // events.cpp
void add_federation_media_routes(http::Router& r, const FederationServices& svc);        // media.cpp
void add_federation_public_rooms_routes(http::Router& r, const FederationServices& svc);  // public_rooms.cpp
void add_federation_invite_routes(http::Router& r, const FederationServices& svc);       // invites.cpp
void add_federation_user_key_routes(http::Router& r, const FederationServices& svc);     // user_keys.cpp
void add_federation_user_device_routes(http::Router& r, const FederationServices& svc);  // user_devices.cpp
void add_federation_records_routes(http::Router& r, const FederationServices& svc);      // records_heads.cpp

}  // namespace despatch::api
