// The admin API (/_despatch/admin/v1): legal holds, retention runs, archive verification,
// exports, the audit log and account deactivation. Every route needs an admin access token,
// and every action is written to the audit log with who, when and the case reference.
#include "api/admin/routes.h"
#include "api/client/util.h"

#include "core/base64.h"
#include "core/ids.h"
#include "service/common/time.h"
#include "service/records/audit.h"
#include "service/records/office.h"


namespace despatch::api {

namespace {

const std::string kPrefix = "/_despatch/admin/v1";

void add(http::Router& r, const char* method, const std::string& path, http::Handler h) {
  r.add({method, kPrefix + path, Auth::kAdmin, RateClass::kNone, http::Body::kJson, std::move(h)});
}

// Records an admin action; a failure to audit fails the action's reply.
asio::awaitable<Status> audit(const AdminServices& svc, const std::string& actor, const std::string& action,
                              const std::string& case_ref, json::object details) {
  auto r = co_await svc.audit->record(actor, action, case_ref, details);
  if (!r.ok()) co_return r.error();
  co_return ok_status();
}

// What export and search both take: a case reference, a filter and the records office key.
struct RecordsRequest {
  std::string case_ref;
  ExportFilter filter;
  RecordsKeyPair keys;
};

Result<RecordsRequest> parse_records_request(const json::object& body, const AdminServices& svc) {
  RecordsRequest rr;
  DS_ASSIGN(rr.case_ref, req_string(body, "case_ref"));
  if (rr.case_ref.empty()) return Error::missing_param("case_ref is required");
  DS_ASSIGN(std::string key_b64, req_string(body, "records_key"));
  DS_ASSIGN(auto filter_obj, opt_object(body, "filter"));
  DS_ASSIGN(rr.filter, ExportFilter::from_json(filter_obj.value_or(json::object{})));
  auto secret = base64_decode(key_b64);
  if (!secret || secret->size() != 32) return Error::invalid_param("records_key must be a base64 32-byte key");
  DS_ASSIGN(rr.keys, RecordsKeyPair::from_secret(std::move(*secret)));
  // A wrong key is refused before any record is read or any file written.
  if (rr.keys.public_key != svc.records_public_key)
    return Error::forbidden("records_key is not the records office key this archive is sealed to");
  return rr;
}

}  // namespace

void add_admin_routes(http::Router& r, const AdminServices& svc) {
  // GET /_despatch/admin/v1/audit?limit=&before=
  add(r, "GET", "/audit", [&svc](Request& req) -> Awaitable {
    DS_CO_ASSIGN(auto limit, query_int(req, "limit", 1, 1000));
    DS_CO_ASSIGN(auto before, query_int(req, "before", 0, INT64_MAX));
    DS_CO_ASSIGN(json::array entries, svc.audit->entries(limit.value_or(100), before.value_or(0)));
    co_return json::object{{"entries", std::move(entries)}};
  });

  // GET /_despatch/admin/v1/legal_holds?include_lifted=true
  add(r, "GET", "/legal_holds", [&svc](Request& req) -> Awaitable {
    auto* all = req.query_param("include_lifted");
    DS_CO_ASSIGN(json::array holds, svc.retention->list_holds(all && *all == "true"));
    co_return json::object{{"holds", std::move(holds)}};
  });
  // POST /_despatch/admin/v1/legal_holds
  add(r, "POST", "/legal_holds", [&svc](Request& req) -> Awaitable {
    DS_CO_ASSIGN(HoldRequest hold, HoldRequest::from_json(req.body_object()));
    DS_CO_ASSIGN(int64_t id, co_await svc.retention->place_hold(req.who().user_id, hold));
    co_return json::object{{"hold_id", id}};
  });
  // DELETE /_despatch/admin/v1/legal_holds/{holdId}
  add(r, "DELETE", "/legal_holds/{holdId}", [&svc](Request& req) -> Awaitable {
    const std::string& id = req.param(0);
    if (id.empty() || id.size() > 18 || id.find_first_not_of("0123456789") != std::string::npos)
      co_return Error::not_found("No active legal hold with that ID");
    DS_CO_ASSIGN(auto case_ref, opt_string(req.body_object(), "case_ref"));
    DS_CO_TRY(co_await svc.retention->lift_hold(req.who().user_id, std::stoll(id), case_ref.value_or("")));
    co_return empty_reply();
  });

  // POST /_despatch/admin/v1/retention/run: deletes what has expired now (never ahead of time).
  add(r, "POST", "/retention/run", [&svc](Request& req) -> Awaitable {
    if (req.body_object().contains("now_ts"))
      co_return Error::invalid_param("retention runs at the server's clock; now_ts is not accepted");
    DS_CO_ASSIGN(int64_t n, co_await svc.retention->run(req.who().user_id, now_ms()));
    co_return json::object{{"deleted", n}};
  });

  // POST /_despatch/admin/v1/records/verify
  add(r, "POST", "/records/verify", [&svc](Request& req) -> Awaitable {
    // Records work reads the whole archive: it runs on its own thread, never an I/O thread.
    auto work = [&svc] { return svc.records->verify_archive(); };
    DS_CO_ASSIGN(VerifyReport rep, co_await svc.records_pool->run(work));
    json::object out{{"ok", rep.ok}, {"records", rep.records}, {"checkpoints", rep.checkpoints},
                     {"tombstones", rep.tombstones}};
    if (!rep.ok) {
      out["first_bad_seq"] = rep.first_bad_seq;
      out["problem"] = rep.problem;
    }
    DS_CO_TRY(co_await audit(svc, req.who().user_id, "records.verify", "", out));
    co_return out;
  });

  // POST /_despatch/admin/v1/records/export {case_ref, filter, records_key}
  // The records office's secret key travels with the request and is used once. The bundle
  // comes back in the reply ({"files": {path: contents}}); nothing decrypted is written on
  // the server.
  add(r, "POST", "/records/export", [&svc](Request& req) -> Awaitable {
    DS_CO_ASSIGN(RecordsRequest rr, parse_records_request(req.body_object(), svc));
    auto work = [&svc, &rr] { return svc.records->build_export(rr.keys, rr.filter, rr.case_ref); };
    auto bundle = co_await svc.records_pool->run(work);
    json::object details{{"filter", rr.filter.to_json()}, {"ok", bundle.ok()}};
    if (bundle.ok()) details["records"] = bundle->counts.records;
    else details["error"] = bundle.error().message;
    DS_CO_TRY(co_await audit(svc, req.who().user_id, "records.export", rr.case_ref, details));
    if (!bundle.ok()) co_return bundle.error();
    json::object files;
    for (auto& [path, data] : bundle->files) files[path] = std::move(data);
    co_return json::object{{"records", bundle->counts.records}, {"rooms", bundle->counts.rooms},
                           {"files", std::move(files)}};
  });

  // POST /_despatch/admin/v1/records/search {case_ref, filter, records_key, limit}
  // Like export, but the matching records come back in the reply instead of a bundle.
  add(r, "POST", "/records/search", [&svc](Request& req) -> Awaitable {
    auto& body = req.body_object();
    DS_CO_ASSIGN(RecordsRequest rr, parse_records_request(body, svc));
    const std::string& case_ref = rr.case_ref;
    const ExportFilter& filter = rr.filter;
    DS_CO_ASSIGN(auto limit, opt_int(body, "limit"));
    int64_t n = limit.value_or(100);
    if (n < 1 || n > 1000) co_return Error::invalid_param("limit must be between 1 and 1000");
    auto work = [&svc, &rr, n] { return svc.records->search(rr.keys, rr.filter, static_cast<size_t>(n) + 1); };
    auto found = co_await svc.records_pool->run(work);
    json::object details{{"filter", filter.to_json()}, {"ok", found.ok()}};
    if (found.ok()) details["records"] = static_cast<int64_t>(std::min<size_t>(found->size(), n));
    else details["error"] = found.error().message;
    DS_CO_TRY(co_await audit(svc, req.who().user_id, "records.search", case_ref, details));
    if (!found.ok()) co_return found.error();
    json::array records;
    for (size_t i = 0; i < found->size() && static_cast<int64_t>(i) < n; ++i) records.push_back((*found)[i].to_json());
    co_return json::object{{"records", std::move(records)}, {"limited", static_cast<int64_t>(found->size()) > n}};
  });

  // GET /_despatch/admin/v1/records/undecryptable?limit=
  // End-to-end encrypted events the records keeper could not decrypt yet, newest first.
  add(r, "GET", "/records/undecryptable", [&svc](Request& req) -> Awaitable {
    DS_CO_ASSIGN(auto limit, query_int(req, "limit", 1, 1000));
    if (!svc.keeper) co_return json::object{{"count", 0}, {"events", json::array{}}, {"keeper", false}};
    DS_CO_ASSIGN(json::object out, svc.keeper->undecryptable(limit.value_or(100)));
    out["keeper"] = svc.keeper->user_id();
    co_return out;
  });

  // GET /_despatch/admin/v1/metrics
  add(r, "GET", "/metrics", [&svc](Request& req) -> Awaitable {
    json::object out = svc.db_metrics();
    if (svc.federation_metrics)
      for (auto& [k, v] : svc.federation_metrics()) out[k] = v;
    if (svc.keeper)
      for (auto& [k, v] : svc.keeper->metrics()) out[k] = v;
    co_return out;
  });

  // POST /_despatch/admin/v1/users/{userId}/deactivate {case_ref, erase}
  add(r, "POST", "/users/{userId}/deactivate", [&svc](Request& req) -> Awaitable {
    const std::string& user = req.param(0);
    if (!is_valid_user_id(user)) co_return Error::invalid_param("Invalid user ID");
    DS_CO_ASSIGN(auto case_ref, opt_string(req.body_object(), "case_ref"));
    DS_CO_ASSIGN(auto erase, opt_bool(req.body_object(), "erase"));
    AccountActor by{req.who().user_id, case_ref.value_or(""), "admin_api"};
    DS_CO_TRY(co_await svc.leavers->deactivate(user, erase.value_or(false), by));
    co_return empty_reply();
  });
}

}  // namespace despatch::api
