// The wired server: configuration, storage, services and the route table, built once by
// `despatch serve` (and by tests and benchmarks that run a server in-process).
#pragma once

#include "api/admin/routes.h"
#include "api/federation/routes.h"
#include "api/services.h"
#include "core/config.h"
#include "core/crypto.h"
#include "core/federation_transport.h"
#include "core/web_transport.h"
#include "http/router.h"
#include "service/account/account_service.h"
#include "service/announce/announcements.h"
#include "service/announce/delivery.h"
#include "service/auth/oauth_server.h"
#include "service/auth/oidc_client.h"
#include "service/auth/sso_service.h"
#include "service/common/cpu_pool.h"
#include "service/federation/device_lists_out.h"
#include "service/federation/event_reads.h"
#include "service/federation/inbox.h"
#include "service/federation/metrics.h"
#include "service/federation/backfill.h"
#include "service/federation/joins.h"
#include "service/federation/memberships.h"
#include "service/federation/outbox.h"
#include "service/federation/remote_keys.h"
#include "service/federation/request_auth.h"
#include "service/federation/sender.h"
#include "service/federation/server_keys.h"
#include "service/keys/key_backup.h"
#include "service/keys/key_service.h"
#include "service/media/media_admin.h"
#include "service/media/media_service.h"
#include "service/notifier/notifier.h"
#include "service/push/push_service.h"
#include "service/records/archive.h"
#include "service/records/audit.h"
#include "service/records/peer_witness.h"
#include "service/records/keeper.h"
#include "service/records/office.h"
#include "service/records/retention.h"
#include "service/rooms/room_service.h"
#include "service/sync/sync_service.h"
#include "service/sync/timeline.h"
#include "service/sync/typing.h"
#include "service/scim/scim_service.h"
#include "service/users/leavers.h"
#include "service/users/registration_tokens.h"
#include "service/users/shared_secret.h"
#include "service/users/user_service.h"
#include "storage/database.h"

#include <boost/asio/io_context.hpp>

#include <memory>

namespace despatch {

struct App {
  Config config;
  boost::asio::io_context io;
  std::unique_ptr<storage::Database> db;
  SigningKey key;
  CpuPool cpu{2};
  CpuPool records_pool{1};  // archive verify, export and search: long reads off the I/O threads
  Notifier notifier;
  std::unique_ptr<PushService> push;
  std::unique_ptr<Archive> archive;
  std::unique_ptr<AuditLog> audit;
  std::unique_ptr<ReportService> reports;  // reports from users, for the administrators
  std::unique_ptr<AlertService> alerts;    // suspicious-activity rules and their alerts
  http::RequestMetrics request_metrics;    // the client listener's, when metrics are served
  std::unique_ptr<RecordsOffice> records;  // verify, search and export for the admin API
  std::unique_ptr<Retention> retention;
  std::unique_ptr<RecordsKeeper> keeper;  // null when [records] keeper = false
  std::string records_public_key;  // raw X25519 key the archive seals to
  std::unique_ptr<UserService> users;
  std::unique_ptr<RoomService> rooms;
  std::unique_ptr<Leavers> leavers;  // every deactivation; follows the account changes log
  std::unique_ptr<ScimService> scim;  // SCIM provisioning at /scim/v2
  std::unique_ptr<SharedSecretRegistration> shared_secret;  // /_synapse/admin/v1/register
  std::unique_ptr<RegistrationTokens> registration_tokens;
  std::unique_ptr<MediaAdmin> media_admin;
  std::unique_ptr<Typing> typing;
  std::unique_ptr<Presence> presence;
  std::unique_ptr<SyncService> sync;
  std::unique_ptr<Timeline> timeline;
  std::unique_ptr<AccountService> account;
  std::unique_ptr<KeyService> keys;
  std::unique_ptr<KeyBackup> backup;
  std::unique_ptr<MediaService> media;
  std::unique_ptr<WebTransport> web;  // outgoing ActivityPub HTTP(S)
  std::unique_ptr<Announcements> announce;  // public announcement channels
  std::unique_ptr<AnnounceDelivery> announce_delivery;  // their queue to followers' inboxes
  FederationMetrics federation_metrics;
  std::unique_ptr<FederationTransport> federation_transport;  // outgoing HTTPS; null when federation is off
  std::unique_ptr<FederationSender> federation;
  std::unique_ptr<ServerKeys> server_keys;
  std::unique_ptr<FederationAuth> federation_auth;
  std::unique_ptr<FederationJoins> federation_joins;  // null when federation is off
  std::unique_ptr<FederationBackfill> federation_backfill;  // null when federation is off
  std::unique_ptr<FederationMemberships> federation_memberships;  // null when federation is off
  std::unique_ptr<Outbox> outbox;             // transactions out: durable queues per destination
  std::unique_ptr<Inbox> inbox;               // transactions in
  std::unique_ptr<FederationReads> federation_reads;  // events and state for other servers
  std::unique_ptr<PeerWitness> peer_witness;  // records heads sent to and kept for approved servers
  std::unique_ptr<RemoteKeys> remote_keys;    // other servers' users' keys; null when federation is off
  std::unique_ptr<DeviceListPublisher> device_lists_out;  // null when federation is off
  std::unique_ptr<WebTransport> oidc_web;  // outgoing HTTPS to the OpenID Connect provider
  std::unique_ptr<OidcClient> oidc;        // these three: null when [oidc] is off
  std::unique_ptr<SsoService> sso;
  std::unique_ptr<OAuthServer> oauth;
  std::unique_ptr<api::FederationServices> federation_services_;  // what federation handlers see
  std::unique_ptr<api::Services> api_services_;  // what the client API handlers see (routes())
  std::unique_ptr<api::AdminServices> admin_services_;  // what the admin handlers see (routes())

  // Opens the data folder (database, signing key) and builds every service.
  static Result<std::unique_ptr<App>> create(Config config);
  http::Router routes();
  // The federation listener's routes: /_matrix/federation/* and /_matrix/key/*.
  http::Router federation_routes();
  // The metrics listener's routes (GET /metrics); after routes(), whose services it reads.
  http::Router metrics_routes();
  // Starts periodic work (archive checkpoints) on io.
  void start_background();
  // Signs the archive head (at shutdown).
  Status checkpoint_archive();
  // Builds the federation services (and the outgoing HTTPS client when enabled) and records
  // this server's signing key for /_matrix/key/v2/server.
  Status start_federation();
  // Builds the announcement channels, their outgoing client and delivery queue, and hooks
  // them into the room write path.
  Status start_announcements();
  // Builds single sign-on and the OAuth 2.0 authorization server when [oidc] names an issuer.
  Status start_sso();
  // Audits a retention policy that differs from the one the last start recorded.
  Status record_retention_policy();

 private:
  explicit App(SigningKey k) : key(std::move(k)) {}
  // Runs fn every `seconds` on io until io stops (0 or less: never).
  void every(int64_t seconds, std::function<boost::asio::awaitable<void>()> fn);
};

// The records office public key: from the configured file, else <data_dir>/records_office.pub.
// M_NOT_FOUND when neither exists.
Result<std::string> load_records_key(const Config& config);
// The same, but on a first start with no key anywhere: makes a pair, keeps only the public
// half in the data folder and prints the secret half once for the records office to take
// away. The server never stores a records secret key.
Result<std::string> load_or_create_records_key(const Config& config);
// A records office secret key checked against the key this server seals to, so a wrong key
// is refused before anything is read or written.
Result<RecordsKeyPair> records_key_pair(const Config& config, std::string secret_key);

// The server's ed25519 signing key from data_dir; M_NOT_FOUND when there is none.
Result<SigningKey> load_signing_key(const std::string& data_dir);
// The same, creating it on first start.
Result<SigningKey> load_or_create_signing_key(const std::string& data_dir);

}  // namespace despatch
