// Despatch to Despatch: the signed records heads that approved servers keep for each other
// as witnesses (service/records/peer_witness.h). Not part of the Matrix spec; other servers
// never call these.
#include "api/client/util.h"
#include "api/federation/routes.h"

namespace despatch::api {

void add_federation_records_routes(http::Router& r, const FederationServices& svc) {
  // PUT .../gov.despatch.records/head {"head": {...}}: keep the sender's newest signed head.
  r.add({"PUT", kPeerHeadPath, Auth::kFederation, RateClass::kNone, http::Body::kJson,
         [&svc](Request& req) -> Awaitable {
           if (!req.json.is_object()) co_return Error::bad_json("the body must be an object");
           DS_CO_TRY(co_await svc.records_witness->receive(req.origin, req.json.as_object()));
           co_return json::object{};
         }});
  // GET .../gov.despatch.records/heads?limit=N: the heads kept for the server asking.
  r.add({"GET", kPeerHeadsPath, Auth::kFederation, RateClass::kNone, http::Body::kJson,
         [&svc](Request& req) -> Awaitable {
           DS_CO_ASSIGN(auto limit, query_int(req, "limit", 1, 100000));
           DS_CO_ASSIGN(json::object out, svc.records_witness->heads_for(req.origin, limit.value_or(1000)));
           co_return out;
         }});
}

}  // namespace despatch::api
