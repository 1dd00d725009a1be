// The admin API's suspicious-activity alerts (/_despatch/admin/v1/alerts): listed newest
// first, acknowledged with a note (audited by the alerts service).
#include "api/admin/review_queue.h"

namespace despatch::api {

void add_admin_alert_routes(http::Router& r, const AdminServices& svc) {
  add_review_queue_routes(r, "/alerts", "alert", AlertService::kMaxNoteBytes, svc.alerts);
}

}  // namespace despatch::api
