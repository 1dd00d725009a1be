#include "main/app.h"

#include "api/admin/routes.h"
#include "api/client/routes.h"
#include "api/scim/routes.h"
#include "core/base64.h"
#include "core/file.h"
#include "core/ids.h"
#include "http/federation_client.h"
#include "http/web_client.h"
#include "api/oauth/routes.h"
#include "api/public/routes.h"
#include "core/log.h"
#include "service/users/erasure.h"
#include "service/common/time.h"
#include "service/records/audit.h"
#include "storage/membership_store.h"
#include "storage/meta_store.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sodium.h>

#include <cstdio>
#include <filesystem>
#include <set>
#include <fstream>
#include <sstream>

#include <sys/stat.h>

namespace despatch {

Result<SigningKey> load_signing_key(const std::string& data_dir) {
  std::string path = data_dir + "/signing.key";
  std::ifstream in(path);
  if (!in) return Error::not_found("no signing key in " + data_dir + " (has the server ever started there?)");
  // Format: "ed25519 <version> <unpadded base64 seed>".
  std::string alg, version, seed_b64;
  in >> alg >> version >> seed_b64;
  auto seed = base64_decode(seed_b64);
  if (alg != "ed25519" || !seed) return Error::internal("cannot read signing key " + path);
  return SigningKey::from_seed(*seed, version);
}

Result<SigningKey> load_or_create_signing_key(const std::string& data_dir) {
  std::string path = data_dir + "/signing.key";
  auto existing = load_signing_key(data_dir);
  if (existing.ok() || existing.error().errcode != errc::kNotFound) return existing;
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  SigningKey key = SigningKey::generate("a_" + random_string(4));
  DS_TRY(write_file_durable(path, "ed25519 " + key.version() + " " + base64_encode(key.seed()) + "\n", 0600));
  DS_LOG(kInfo, "generated signing key {} in {}", key.key_id(), path);
  return key;
}

Result<std::string> load_records_key(const Config& config) {
  if (!config.records_public_key_file.empty()) return load_records_public_key(config.records_public_key_file);
  std::string pub = config.data_dir + "/records_office.pub";
  if (std::filesystem::exists(pub)) return load_records_public_key(pub);
  return Error::not_found("no records office public key: set [records] public_key_file or run "
                          "`despatch records keygen --out DIR --data " + config.data_dir + "`");
}

Result<std::string> load_or_create_records_key(const Config& config) {
  auto existing = load_records_key(config);
  if (existing.ok() || existing.error().errcode != errc::kNotFound || !config.records_public_key_file.empty())
    return existing;
  std::string pub = config.data_dir + "/records_office.pub";
  RecordsKeyPair kp = RecordsKeyPair::generate();
  DS_TRY(write_file_durable(pub, base64_encode(kp.public_key) + "\n", 0644));
  // Shown once and never written: only the records office can open the archive.
  std::fprintf(stderr,
               "\n*** No records office key was configured, so one was made. The archive is sealed to\n"
               "*** %s. Its secret half is shown here ONCE and is not stored anywhere:\n"
               "*** save it offline as records_office.key; exports need it.\n"
               "***\n*** %s\n\n",
               pub.c_str(), base64_encode(kp.secret_key).c_str());
  sodium_memzero(kp.secret_key.data(), kp.secret_key.size());
  DS_LOG(kWarn, "generated a records office key pair; only the public half is kept, in {}", pub);
  return kp.public_key;
}

Result<RecordsKeyPair> records_key_pair(const Config& config, std::string secret_key) {
  DS_ASSIGN(RecordsKeyPair kp, RecordsKeyPair::from_secret(std::move(secret_key)));
  auto pub = load_records_key(config);
  if (!pub.ok() && pub.error().errcode != errc::kNotFound) return pub.error();
  if (pub.ok() && *pub != kp.public_key)
    return Error::forbidden("this is not the records office key this archive is sealed to");
  return kp;
}

Result<std::unique_ptr<App>> App::create(Config config) {
  DS_ASSIGN(auto db, storage::Database::open_sqlite(config.data_dir));
  DS_ASSIGN(SigningKey key, load_or_create_signing_key(config.data_dir));
  DS_ASSIGN(std::string records_key, load_or_create_records_key(config));
  DS_TRY(load_erased_users(db->read()));
  std::unique_ptr<App> app(new App(std::move(key)));
  app->config = std::move(config);
  app->db = std::move(db);
  App& a = *app;
  a.push = std::make_unique<PushService>(*a.db, a.notifier);
  a.records_public_key = records_key;
  a.archive = std::make_unique<Archive>(*a.db, a.key, records_key, a.config.records_checkpoint_every);
  a.audit = std::make_unique<AuditLog>(*a.db, &a.key);
  a.reports = std::make_unique<ReportService>(*a.db);
  a.alerts = std::make_unique<AlertService>(a.config.alerts, *a.db, a.io.get_executor());
  a.records = std::make_unique<RecordsOffice>(*a.db, a.key, a.config.server_name, a.config.data_dir + "/media");
  a.retention = std::make_unique<Retention>(a.config, *a.db, a.archive.get());
  DS_TRY(a.record_retention_policy());
  a.keys = std::make_unique<KeyService>(*a.db, a.notifier);
  a.backup = std::make_unique<KeyBackup>(*a.db);
  a.users = std::make_unique<UserService>(a.config, *a.db, a.cpu, a.notifier);
  a.users->set_alerts(a.alerts.get());
  a.rooms = std::make_unique<RoomService>(a.config, *a.db, a.notifier, a.key, *a.push, *a.archive);
  a.rooms->set_alerts(a.alerts.get());
  if (a.config.records_keeper) {
    DS_ASSIGN(a.keeper, RecordsKeeper::open(a.config, *a.db, *a.archive));
    a.keys->set_server_device(a.keeper.get());
    a.rooms->set_keeper(a.keeper.get());
    DS_TRY(a.rooms->adopt_rooms_for_keeper());
  }
  a.sync = nullptr;
  auto members = [&a](const std::string& room_id) { return a.sync->joined_members(room_id); };
  a.typing = std::make_unique<Typing>(a.io, a.notifier, members);
  storage::Database* database = a.db.get();
  auto co_members = [database](const std::string& user) {
    auto users = database->read().memberships().co_members(user);
    return users.ok() ? std::move(*users) : std::vector<std::string>{};
  };
  // Offline once no /sync has started for a whole long-poll and then some.
  a.presence = std::make_unique<Presence>(a.config.server_name, a.notifier, co_members,
                                          a.config.max_sync_timeout_ms + 30'000);
  a.sync = std::make_unique<SyncService>(*a.rooms, a.notifier, *a.typing, *a.presence, *a.push, *a.keys);
  UserService* users = a.users.get();
  a.sync->set_session_check([users](const std::string& user, const std::string& device) {
    return users->check_session(user, device);
  });
  a.leavers = std::make_unique<Leavers>(*a.users, *a.rooms, *a.db, a.keeper ? a.keeper->user_id() : std::string());
  a.scim = std::make_unique<ScimService>(a.config, *a.db, *a.users, *a.rooms, *a.leavers);
  a.shared_secret = std::make_unique<SharedSecretRegistration>(a.config, *a.users);
  DS_TRY(a.shared_secret->load());
  a.registration_tokens = std::make_unique<RegistrationTokens>(*a.db);
  a.media_admin = std::make_unique<MediaAdmin>(*a.db, a.config.server_name);
  a.timeline = std::make_unique<Timeline>(*a.rooms);
  a.account = std::make_unique<AccountService>(*a.db, a.notifier, members);
  a.media = std::make_unique<MediaService>(a.config, *a.db);
  a.media->set_alerts(a.alerts.get());
  DS_TRY(a.media->init());
  DS_TRY(a.start_announcements());
  DS_TRY(a.start_federation());
  DS_TRY(a.start_sso());
  return app;
}

Status App::start_sso() {
  const Oidc& o = config.oidc;
  if (!o.enabled()) return ok_status();
  std::ifstream in(o.client_secret_file);
  if (!in) return Error::invalid_param("config: cannot read oidc.client_secret_file " + o.client_secret_file);
  std::string secret((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) return Error::invalid_param("config: oidc.client_secret_file " + o.client_secret_file + " is empty");
  http::WebClientOptions opts;
  opts.ca_file = o.ca_file;  // plain http only to loopback: WebClient refuses anything else
  DS_ASSIGN(oidc_web, http::WebClient::create(std::move(opts)));
  oidc = std::make_unique<OidcClient>(o, config.base_url() + "/_despatch/oidc/callback", std::move(secret), *oidc_web);
  sso = std::make_unique<SsoService>(config, *db, *oidc);
  oauth = std::make_unique<OAuthServer>(config, *db, *users);
  DS_LOG(kInfo, "single sign-on with {}", o.issuer);
  return ok_status();
}

Status App::start_announcements() {
  const Announce& c = config.announce;
  if (!c.verify_tls)
    DS_LOG(kWarn, "announce: verify_tls = false: followers' TLS certificates are NOT checked");
  if (c.allow_http) DS_LOG(kWarn, "announce: allow_http = true: deliveries may go out over plain http");
  http::WebClientOptions opts;
  opts.ca_file = c.ca_file;
  opts.verify_tls = c.verify_tls;
  opts.allow_http = c.allow_http;
  DS_ASSIGN(web, http::WebClient::create(std::move(opts)));
  announce = std::make_unique<Announcements>(config, *db, *archive, *media);
  DS_TRY(announce->init_blocking());
  announce->set_transport(web.get());
  announce_delivery =
      std::make_unique<AnnounceDelivery>(config, *db, *web, announce->key(), announce->urls(), io);
  AnnounceDelivery* delivery = announce_delivery.get();
  announce->set_wake([delivery] { delivery->wake(); });
  Announcements* an = announce.get();
  rooms->add_sent_queue([an](storage::Txn& t, const std::string& room_id, const std::vector<json::object>& pdus) {
    return an->on_sent(t, room_id, pdus);
  });
  rooms->add_sent_listener([an](const std::string&, const std::vector<json::object>&) { an->after_sent(); });
  return ok_status();
}

Status App::start_federation() {
  const Federation& f = config.federation;
  if (f.enabled) {
    if (!f.verify_tls)
      DS_LOG(kWarn, "federation: verify_tls = false: other servers' TLS certificates are NOT checked; "
                    "anyone on the network path can impersonate them");
    if (f.allow.empty()) DS_LOG(kWarn, "federation: enabled but [federation] allow is empty: federating with nobody");
    http::FederationClientOptions opts;
    opts.ca_file = f.ca_file;
    opts.verify_tls = f.verify_tls;
    opts.allow = ServerAllowList(f.allow);
    DS_ASSIGN(federation_transport, http::FederationClient::create(std::move(opts)));
  }
  federation = std::make_unique<FederationSender>(config, key, federation_transport.get(), federation_metrics);
  server_keys = std::make_unique<ServerKeys>(config, *db, key, *federation, federation_metrics);
  DS_TRY(server_keys->init_blocking());
  federation_auth = std::make_unique<FederationAuth>(config, *server_keys, *audit, federation_metrics);
  outbox = std::make_unique<Outbox>(config, *db, *federation, federation_metrics, io, Outbox::Retry{});
  inbox = std::make_unique<Inbox>(config, *db, *rooms, *server_keys, *federation, federation_metrics, notifier,
                                  *typing, *presence, *account, *keys, outbox.get());
  federation_reads = std::make_unique<FederationReads>(config.server_name, *db);
  peer_witness = std::make_unique<PeerWitness>(config, *db, key, *federation, *server_keys);
  if (f.enabled) {
    Outbox* out = outbox.get();
    rooms->add_sent_listener(
        [out](const std::string& room_id, const std::vector<json::object>& pdus) { out->on_sent(room_id, pdus); });
    rooms->add_sent_queue([out](storage::Txn& t, const std::string& room_id, const std::vector<json::object>& pdus) {
      return out->enqueue_in(t, room_id, pdus);
    });
    out->queue_in_commits();
    remote_keys = std::make_unique<RemoteKeys>(config, *db, *federation, *out, notifier, io);
    keys->set_federation(remote_keys.get(), config.server_name);
    inbox->set_remote_keys(remote_keys.get());
    device_lists_out = std::make_unique<DeviceListPublisher>(config, *db, *out, *keys, io);
    DS_TRY(device_lists_out->init_blocking());
    // Typing and public read receipts of this server's users go to the room's other servers.
    const std::string own = config.server_name;
    typing->set_listener([out, own](const std::string& room_id, const std::string& user_id, bool is_typing) {
      if (server_name_of(user_id) != own) return;
      json::object content{{"room_id", room_id}, {"user_id", user_id}, {"typing", is_typing}};
      json::object edu{{"edu_type", "m.typing"}, {"content", std::move(content)}};
      out->send_edu_to_room(room_id, std::move(edu));
    });
    // A local user's presence goes to every other server with a user sharing a room with them.
    Presence* pres = presence.get();
    presence->set_listener([out, own, pres](const std::string& user, const PresenceState& st) {
      if (server_name_of(user) != own) return;
      std::set<std::string> servers;
      for (auto& u : pres->co_members(user))
        if (auto server = std::string(server_name_of(u)); server != own) servers.insert(server);
      if (servers.empty()) return;
      json::object entry = presence_content(st, now_ms());
      entry["user_id"] = user;
      json::object content{{"push", json::array{std::move(entry)}}};
      json::object edu{{"edu_type", "m.presence"}, {"content", std::move(content)}};
      for (auto& server : servers) out->send_edu(server, edu);
    });
    account->set_receipt_listener([out, own](const std::string& user, const std::string& room_id,
                                             const std::string& type, const std::string& event_id,
                                             const std::string& thread_id, int64_t ts) {
      if (server_name_of(user) != own || type != "m.read") return;  // private receipts stay here
      json::object data{{"ts", ts}};
      if (!thread_id.empty()) data["thread_id"] = thread_id;
      json::object receipt{{"event_ids", json::array{json::string(event_id)}}, {"data", std::move(data)}};
      json::object by_user{{user, std::move(receipt)}};
      json::object by_type{{"m.read", std::move(by_user)}};
      json::object content{{room_id, std::move(by_type)}};
      json::object edu{{"edu_type", "m.receipt"}, {"content", std::move(content)}};
      out->send_edu_to_room(room_id, std::move(edu));
    });
    federation_joins = std::make_unique<FederationJoins>(config, key, *federation, *server_keys, *rooms);
    federation_backfill = std::make_unique<FederationBackfill>(config, *federation, *server_keys, *rooms);
    federation_joins->set_backfill(federation_backfill.get());
    rooms->set_remote_joiner([j = federation_joins.get()](const std::string& user, const std::string& room_id,
                                                          std::vector<std::string> via) {
      return j->join(user, room_id, std::move(via));
    });
    FederationSender* sender = federation.get();
    rooms->set_remote_alias_resolver([sender](const std::string& alias) { return sender->query_directory(alias); });
    media->set_federation(sender);
    federation_memberships = std::make_unique<FederationMemberships>(config, key, *federation, *server_keys, *rooms);
    rooms->set_remote_members(federation_memberships.get());
  }
  return ok_status();
}

http::Router App::federation_routes() {
  http::Router r;
  federation_services_ = std::make_unique<api::FederationServices>(
      api::FederationServices{config, server_keys.get(), users.get(), rooms.get(), inbox.get(), federation_reads.get(),
                               media.get(), federation_memberships.get(), keys.get(), peer_witness.get()});
  const api::FederationServices& s = *federation_services_;
  api::add_federation_key_routes(r, s);
  api::add_federation_version_routes(r, s);
  api::add_federation_query_routes(r, s);
  api::add_federation_membership_routes(r, s);
  api::add_federation_transaction_routes(r, s);
  api::add_federation_event_routes(r, s);
  api::add_federation_media_routes(r, s);
  api::add_federation_public_rooms_routes(r, s);
  api::add_federation_invite_routes(r, s);
  api::add_federation_user_key_routes(r, s);
  api::add_federation_user_device_routes(r, s);
  api::add_federation_records_routes(r, s);
  return r;
}

Status App::record_retention_policy() {
  json::object rooms;
  for (auto& [room, days] : config.retention_room_days) rooms[room] = days;
  json::object policy{{"retention_days", config.retention_days},
                      {"retention_direct_days", config.retention_direct_days},
                      {"retention_group_days", config.retention_group_days},
                      {"retention_rooms", rooms}};
  std::string text = json::serialize(policy);
  return db->transact_blocking<Ok>([&](storage::Txn& t) -> Status {
    DS_ASSIGN(auto previous, t.meta().get("retention_policy"));
    if (previous && *previous == text) return ok_status();
    json::object details{{"policy", policy}};
    if (previous) details["previous"] = json::parse(*previous);
    DS_TRY(audit_append(t, "config", "records.retention_policy", "", details));
    return t.meta().put("retention_policy", text);
  });
}

Status App::checkpoint_archive() { return archive->checkpoint_blocking(); }

void App::every(int64_t seconds, std::function<boost::asio::awaitable<void>()> fn) {
  if (seconds <= 0) return;
  boost::asio::co_spawn(
      io,
      [this, seconds, fn]() -> boost::asio::awaitable<void> {
        boost::asio::steady_timer timer(io);
        for (;;) {
          timer.expires_after(std::chrono::seconds(seconds));
          auto [ec] = co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
          if (ec) co_return;
          co_await fn();
        }
      },
      boost::asio::detached);
}

void App::start_background() {
  if (announce_delivery) announce_delivery->start();
  if (outbox) outbox->start();
  if (device_lists_out) device_lists_out->start();
  leavers->start(io);
  every(30, [this]() -> boost::asio::awaitable<void> {
    presence->sweep();
    co_return;
  });
  every(config.records_checkpoint_seconds, [this]() -> boost::asio::awaitable<void> {
    auto r = co_await archive->checkpoint();
    if (!r.ok()) DS_LOG(kError, "archive checkpoint failed: {}", r.error().message);
  });
  if (config.federation.enabled && peer_witness)
    every(config.records_peer_witness_seconds, [this]() -> boost::asio::awaitable<void> {
      co_await peer_witness->push_heads();
    });
  every(config.retention_check_seconds, [this]() -> boost::asio::awaitable<void> {
    auto n = co_await retention->run("server", now_ms(), kScheduledRetentionCase);
    if (!n.ok()) DS_LOG(kError, "retention run failed: {}", n.error().message);
    else if (*n > 0) DS_LOG(kInfo, "retention: {} archived records reached the end of their period", *n);
  });
  every(config.media.cleanup_seconds, [this]() -> boost::asio::awaitable<void> {
    auto n = co_await media->cleanup(now_ms());
    if (!n.ok()) DS_LOG(kError, "media clean-up failed: {}", n.error().message);
    else if (*n > 0) DS_LOG(kInfo, "media: deleted {} expired uploads and unused remote files", *n);
  });
}

http::Router App::routes() {
  http::Router r;
  api_services_ = std::make_unique<api::Services>(api::Services{config, users.get(), rooms.get(), timeline.get(),
                                                                sync.get(), typing.get(), presence.get(), account.get(),
                                                                push.get(),
                                                                keys.get(), backup.get(), media.get(),
                                                                federation.get(), federation_backfill.get(),
                                                                reports.get(), leavers.get(),
                                                                registration_tokens.get()});
  api_services_->sso = sso.get();
  api_services_->oauth = oauth.get();
  const api::Services& s = *api_services_;
  api::add_discovery_routes(r, s);
  api::add_account_routes(r, s);
  api::add_profile_routes(r, s);
  api::add_device_routes(r, s);
  api::add_room_routes(r, s);
  api::add_membership_routes(r, s);
  api::add_event_routes(r, s);
  api::add_sync_routes(r, s);
  api::add_old_sync_routes(r, s);
  api::add_presence_routes(r, s);
  api::add_account_data_routes(r, s);
  api::add_directory_routes(r, s);
  api::add_push_routes(r, s);
  api::add_admin_client_routes(r, s);
  api::add_keys_routes(r, s);
  api::add_key_backup_routes(r, s);
  api::add_media_routes(r, s);
  api::add_report_routes(r, s);
  api::add_sso_routes(r, s);
  api::add_oauth_routes(r, s);
  storage::Database* database = db.get();
  admin_services_ = std::make_unique<api::AdminServices>(api::AdminServices{
      users.get(), rooms.get(), retention.get(), keeper.get(), audit.get(), records.get(), &records_pool,
      records_public_key, [database] {
        return json::object{{"db_commits_total", database->commit_count()},
                            {"stream_position", database->committed_stream_pos()}};
      },
      [this] { return federation_metrics.to_json(); }, reports.get()});
  admin_services_->announce = announce.get();
  admin_services_->alerts = alerts.get();
  if (config.federation.enabled) admin_services_->peer_witness = peer_witness.get();
  admin_services_->requests = &request_metrics;
  admin_services_->leavers = leavers.get();
  admin_services_->scim = scim.get();
  admin_services_->shared_secret = shared_secret.get();
  admin_services_->registration_tokens = registration_tokens.get();
  admin_services_->media_admin = media_admin.get();
  api::add_admin_routes(r, *admin_services_);
  api::add_admin_report_routes(r, *admin_services_);
  api::add_admin_export_routes(r, *admin_services_);
  api::add_admin_alert_routes(r, *admin_services_);
  api::add_admin_announce_routes(r, *admin_services_);
  api::add_admin_provisioning_routes(r, *admin_services_);
  api::add_synapse_user_routes(r, *admin_services_);
  api::add_synapse_room_routes(r, *admin_services_);
  api::add_synapse_media_routes(r, *admin_services_);
  api::add_scim_routes(r, *scim);
  api::add_activitypub_routes(r, *announce);
  api::add_feed_routes(r, *announce);
  return r;
}

http::Router App::metrics_routes() {
  http::Router r;
  api::add_prometheus_routes(r, *admin_services_);
  return r;
}

}  // namespace despatch
