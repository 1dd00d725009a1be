// What the API handlers may call: the services and the configuration, nothing of storage,
// of the HTTP server's internals or of how the application is wired. App fills one in and
// hands it to each section's route registration.
#pragma once

#include "core/config.h"
#include "service/account/account_service.h"
#include "service/auth/oauth_server.h"
#include "service/auth/sso_service.h"
#include "service/federation/sender.h"
#include "service/keys/key_backup.h"
#include "service/keys/key_service.h"
#include "service/media/media_service.h"
#include "service/policy/reports.h"
#include "service/push/push_service.h"
#include "service/rooms/room_service.h"
#include "service/sync/sync_service.h"
#include "service/federation/backfill.h"
#include "service/sync/timeline.h"
#include "service/sync/typing.h"
#include "service/users/leavers.h"
#include "service/users/registration_tokens.h"
#include "service/users/user_service.h"

namespace despatch::api {

struct Services {
  const Config& config;
  UserService* users;
  RoomService* rooms;
  Timeline* timeline;
  SyncService* sync;
  Typing* typing;
  Presence* presence;
  AccountService* account;
  PushService* push;
  KeyService* keys;
  KeyBackup* backup;
  MediaService* media;
  FederationSender* federation;  // other servers' users' profiles; refuses all when federation is off
  FederationBackfill* backfill;  // history from before this server joined; null when federation is off
  ReportService* reports;        // reports from users
  Leavers* leavers = nullptr;    // every deactivation goes through it
  RegistrationTokens* registration_tokens = nullptr;  // registration while open registration is off
  SsoService* sso = nullptr;     // single sign-on; null when [oidc] is off
  OAuthServer* oauth = nullptr;  // the OAuth 2.0 API; null when [oidc] is off
};

}  // namespace despatch::api
