// GET /metrics on the metrics listener ([metrics] listen): the server's figures in
// Prometheus' text exposition format (version 0.0.4). No authentication: the listener is
// for a monitoring network, and nothing here names a user or a room.
#include "api/admin/routes.h"
#include "api/client/util.h"

#include <map>
#include <set>

namespace despatch::api {

namespace {

// Figures that go up and down; every other figure only grows.
const std::set<std::string> kGauges = {"stream_position", "federation_queue_backlog",
                                       "records_undecryptable", "keeper_one_time_keys"};

// One sample per key of a JSON summary of numbers, as the admin API's /metrics has them:
// counters get the _total suffix the format expects of them.
void append_figures(std::string& out, const json::object& figures) {
  for (const auto& [key, value] : figures) {
    if (!value.is_int64() && !value.is_uint64() && !value.is_double()) continue;
    std::string name = "despatch_" + std::string(key);
    bool gauge = kGauges.count(std::string(key)) > 0;
    if (!gauge && (name.size() < 6 || name.substr(name.size() - 6) != "_total")) name += "_total";
    out += "# TYPE " + name + (gauge ? " gauge\n" : " counter\n");
    out += name + " " + json::serialize(value) + "\n";
  }
}

}  // namespace

void add_prometheus_routes(http::Router& r, const AdminServices& svc) {
  // GET /metrics
  r.add({"GET", "/metrics", Auth::kNone, RateClass::kNone, http::Body::kRaw,
         [&svc](Request&) -> Awaitable {
           std::string text = svc.requests ? svc.requests->prometheus_text() : "";
           json::object figures = svc.db_metrics();
           if (svc.federation_metrics)
             for (auto& [k, v] : svc.federation_metrics()) figures[k] = v;
           if (svc.keeper)
             for (auto& [k, v] : svc.keeper->metrics()) figures[k] = v;
           append_figures(text, figures);
           if (svc.alerts) {
             text +=
                 "# HELP despatch_alerts_total Suspicious-activity alerts raised since start, by rule.\n"
                 "# TYPE despatch_alerts_total counter\n";
             std::map<std::string, std::string> severity;
             for (const auto& rule : svc.alerts->rules()) severity[rule.name] = rule.severity;
             for (const auto& [rule, n] : svc.alerts->raised_by_rule())
               text += "despatch_alerts_total{rule=\"" + rule + "\",severity=\"" + severity[rule] +
                       "\"} " + std::to_string(n) + "\n";
           }
           Reply reply;
           reply.content_type = "text/plain; version=0.0.4; charset=utf-8";
           reply.raw = std::move(text);
           co_return reply;
         }});
}

}  // namespace despatch::api
