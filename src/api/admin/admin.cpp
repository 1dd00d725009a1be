// The admin API (/_despatch/admin/v1): legal holds, retention runs, archive verification,
// the audit log and account deactivation. Every route needs an admin access token,
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
    DS_CO_ASSIGN(auto case_ref, opt_string(req.body_object(), "case_ref"));
    if (!case_ref || case_ref->empty()) co_return Error::missing_param("case_ref is required: the reference the run is audited under");
    DS_CO_ASSIGN(int64_t n, co_await svc.retention->run(req.who().user_id, now_ms(), *case_ref));
    co_return json::object{{"deleted", n}};
  });

  // GET /_despatch/admin/v1/records/witness?archive_after=&audit_after=&keys_after=&limit=
  // What `despatch records witness pull` copies: the newest signed heads and the chains'
  // content hashes after the witness's positions. Hashes only, no record content, so pulls
  // are not audited (an entry per pull would move the head the witness has just signed for).
  add(r, "GET", "/records/witness", [&svc](Request& req) -> Awaitable {
    WitnessPageRequest wr;
    DS_CO_ASSIGN(auto archive_after, query_int(req, "archive_after", 0, INT64_MAX));
    DS_CO_ASSIGN(auto audit_after, query_int(req, "audit_after", 0, INT64_MAX));
    DS_CO_ASSIGN(auto keys_after, query_int(req, "keys_after", 0, INT64_MAX));
    DS_CO_ASSIGN(auto limit, query_int(req, "limit", 1, 50000));
    wr.archive_after = archive_after.value_or(0);
    wr.audit_after = audit_after.value_or(0);
    wr.keys_after = keys_after.value_or(0);
    wr.limit = limit.value_or(10000);
    std::string server_name = svc.users->config().server_name;
    auto work = [&svc, &wr, &server_name] { return svc.records->witness_page(wr, server_name); };
    DS_CO_ASSIGN(json::object page, co_await svc.records_pool->run(work));
    co_return page;
  });

  // POST /_despatch/admin/v1/records/verify
  add(r, "POST", "/records/verify", [&svc](Request& req) -> Awaitable {
    // Records work reads the whole archive: it runs on its own thread, never an I/O thread.
    auto work = [&svc] { return svc.records->verify_archive(); };
    DS_CO_ASSIGN(VerifyReport rep, co_await svc.records_pool->run(work));
    json::object out{{"ok", rep.ok},
                     {"records", rep.records},
                     {"checkpoints", rep.checkpoints},
                     {"tombstones", rep.tombstones},
                     {"data_keys", rep.data_keys},
                     {"unsigned_tail", rep.unsigned_tail}};
    if (!rep.ok) {
      out["first_bad_seq"] = rep.first_bad_seq;
      out["problem"] = rep.problem;
    }
    // {"peers": true}: also ask every approved server what it was sent of this archive.
    DS_CO_ASSIGN(auto peers, opt_bool(req.body_object(), "peers"));
    if (peers.value_or(false)) {
      if (!svc.peer_witness) co_return Error::invalid_param("federation is off: there are no peers to ask");
      json::array answers;
      for (auto& c : co_await svc.peer_witness->check_peers()) {
        if (!c.ok) out["ok"] = false;
        answers.push_back(c.to_json());
      }
      out["peers"] = std::move(answers);
    }
    DS_CO_TRY(co_await audit(svc, req.who().user_id, "records.verify", "", out));
    co_return out;
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
