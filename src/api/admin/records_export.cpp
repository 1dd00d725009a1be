// The admin API's exports (/_despatch/admin/v1/records/sealed_export): the records of a case
// come back still sealed to the records office, signed by the server, for the office to open
// on its own machine (`despatch records open-export`, or the console in the browser). The
// office's secret key never travels to the server: the older routes that took it
// (records/export, records/search) refuse every request and point here.
#include "api/admin/routes.h"
#include "api/client/util.h"

namespace despatch::api {

namespace {

const std::string kPrefix = "/_despatch/admin/v1";
constexpr const char* kUseSealed =
    "The records office key never travels to the server: ask for POST /_despatch/admin/v1/records/sealed_export "
    "{case_ref, filter} and open the reply on the office's machine with `despatch records open-export --key FILE`";

void add(http::Router& r, const char* method, const std::string& path, http::Handler h) {
  r.add({method, kPrefix + path, Auth::kAdmin, RateClass::kNone, http::Body::kJson, std::move(h)});
}

struct SealedReply {
  int64_t records = 0, media = 0, media_omitted = 0;
  std::string text;  // the sealed export's JSON
};

struct SealedRequest {
  std::string case_ref;
  ExportFilter filter;
};

Result<SealedRequest> parse_sealed_request(const json::object& body) {
  if (body.contains("records_key")) return Error::forbidden(kUseSealed);
  for (auto& [k, v] : body)
    if (k != "case_ref" && k != "filter") return Error::invalid_param("unknown field " + std::string(k));
  SealedRequest sr;
  DS_ASSIGN(sr.case_ref, req_string(body, "case_ref"));
  if (sr.case_ref.empty()) return Error::missing_param("case_ref is required");
  DS_ASSIGN(auto filter_obj, opt_object(body, "filter"));
  DS_ASSIGN(sr.filter, ExportFilter::from_json(filter_obj.value_or(json::object{})));
  if (!sr.filter.text.empty())
    return Error::invalid_param(
        "filter.text needs the records' content, which the server cannot read: apply it when opening "
        "(despatch records open-export --text WORDS)");
  return sr;
}

}  // namespace

void add_admin_export_routes(http::Router& r, const AdminServices& svc) {
  // POST /_despatch/admin/v1/records/sealed_export {case_ref, filter}
  add(r, "POST", "/records/sealed_export", [&svc](Request& req) -> Awaitable {
    DS_CO_ASSIGN(SealedRequest sr, parse_sealed_request(req.body_object()));
    const std::string& case_ref = sr.case_ref;
    const ExportFilter& filter = sr.filter;
    // Records work reads the whole archive: it runs on its own thread, never an I/O thread.
    // Serialised there too: a user's year is tens of megabytes of JSON.
    auto work = [&svc, &filter, &case_ref]() -> Result<SealedReply> {
      DS_ASSIGN(SealedExport e, svc.records->sealed_export(filter, case_ref));
      return SealedReply{e.records, e.media, e.media_omitted, json::serialize(e.document)};
    };
    auto sealed = co_await svc.records_pool->run(work);
    json::object details{{"filter", filter.to_json()}, {"ok", sealed.ok()}, {"sealed", true}};
    if (sealed.ok()) {
      details["records"] = sealed->records;
      details["media"] = sealed->media;
      details["media_omitted"] = sealed->media_omitted;
    } else {
      details["error"] = sealed.error().message;
    }
    auto logged = co_await svc.audit->record(req.who().user_id, "records.sealed_export", case_ref, details);
    if (!logged.ok()) co_return logged.error();
    if (!sealed.ok()) co_return sealed.error();
    Reply reply;
    reply.raw = std::move(sealed->text);
    reply.content_type = "application/json";
    co_return reply;
  });

  // The routes that took the records office's secret key: refused, whatever the body.
  auto refuse = [&svc](Request&) -> Awaitable {
    (void)svc;
    co_return Error::forbidden(kUseSealed);
  };
  add(r, "POST", "/records/export", refuse);
  add(r, "POST", "/records/search", refuse);
}

}  // namespace despatch::api
