// Server-server spec "Transactions".
#include "api/client/util.h"
#include "api/federation/routes.h"

namespace despatch::api {

void add_federation_transaction_routes(http::Router& r, const FederationServices& svc) {
  // PUT /_matrix/federation/v1/send/{txnId}
  r.add({"PUT", "/_matrix/federation/v1/send/{txnId}", Auth::kFederation, RateClass::kNone, http::Body::kJson,
         [&svc](Request& req) -> Awaitable {
           DS_CO_ASSIGN(json::object answer, co_await svc.inbox->receive(req.origin, req.param(0), req.json));
           co_return answer;
         }});
}

}  // namespace despatch::api
