// Admin API route registration.
#pragma once

#include "http/metrics.h"
#include "http/router.h"
#include "service/announce/announcements.h"
#include "service/media/media_admin.h"
#include "service/common/cpu_pool.h"
#include "service/policy/alerts.h"
#include "service/policy/reports.h"
#include "service/records/audit.h"
#include "service/records/keeper.h"
#include "service/records/office.h"
#include "service/records/peer_witness.h"
#include "service/records/retention.h"
#include "service/rooms/room_service.h"
#include "service/scim/scim_service.h"
#include "service/users/leavers.h"
#include "service/users/registration_tokens.h"
#include "service/users/shared_secret.h"
#include "service/users/user_service.h"

#include <functional>
#include <string>

namespace despatch::api {

// What the admin handlers may call: the records office's services (audit log, archive
// verification, sealed exports, retention and legal holds, the records keeper) and the
// users and rooms services for deactivation. No database and no App.
struct AdminServices {
  UserService* users;
  RoomService* rooms;
  Retention* retention;
  RecordsKeeper* keeper;  // null when [records] keeper = false
  AuditLog* audit;
  RecordsOffice* records;
  CpuPool* records_pool;           // long records reads run here, never on an I/O thread
  std::string records_public_key;  // the raw X25519 key the archive is sealed to
  std::function<json::object()> db_metrics;  // the database's counters for /metrics
  std::function<json::object()> federation_metrics;  // federation's counters for /metrics
  ReportService* reports;  // reports from users: listed and acknowledged
  Announcements* announce = nullptr;  // announcement channels
  AlertService* alerts = nullptr;     // suspicious-activity alerts: listed and acknowledged
  http::RequestMetrics* requests = nullptr;  // the client listener's, for /metrics
  Leavers* leavers = nullptr;                // every deactivation goes through it
  ScimService* scim = nullptr;               // SCIM groups' rooms
  SharedSecretRegistration* shared_secret = nullptr;  // /_synapse/admin/v1/register
  RegistrationTokens* registration_tokens = nullptr;
  MediaAdmin* media_admin = nullptr;  // uploads and quarantine
  PeerWitness* peer_witness = nullptr;       // approved servers' copies of the records heads
};

void add_admin_routes(http::Router& r, const AdminServices& svc);         // admin.cpp
void add_admin_report_routes(http::Router& r, const AdminServices& svc);  // reports.cpp
void add_admin_export_routes(http::Router& r, const AdminServices& svc);  // records_export.cpp
void add_admin_announce_routes(http::Router& r, const AdminServices& svc);  // announce.cpp: channels
void add_admin_alert_routes(http::Router& r, const AdminServices& svc);   // alerts.cpp
// Provisioning: SCIM groups' rooms, handing rooms over.                 provisioning.cpp
void add_admin_provisioning_routes(http::Router& r, const AdminServices& svc);
// The Synapse-compatible admin API under /_synapse/admin, by area.
void add_synapse_user_routes(http::Router& r, const AdminServices& svc);  // synapse_users.cpp
void add_synapse_room_routes(http::Router& r, const AdminServices& svc);  // synapse_rooms.cpp
void add_synapse_media_routes(http::Router& r, const AdminServices& svc);  // synapse_media.cpp
// The metrics listener's one route, GET /metrics (Prometheus text).   prometheus.cpp
void add_prometheus_routes(http::Router& r, const AdminServices& svc);

}  // namespace despatch::api
