// The admin API's reports from users (/_despatch/admin/v1/reports): listed newest first,
// acknowledged with a note. Both are audited by the reports service.
#include "api/admin/review_queue.h"

namespace despatch::api {

void add_admin_report_routes(http::Router& r, const AdminServices& svc) {
  add_review_queue_routes(r, "/reports", "report", ReportService::kMaxReasonBytes, svc.reports);
}

}  // namespace despatch::api
