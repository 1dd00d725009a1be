// Server-server spec "Server implementation".
#include "api/client/util.h"
#include "api/federation/routes.h"

namespace despatch::api {

void add_federation_version_routes(http::Router& r, const FederationServices& svc) {
  // GET /_matrix/federation/v1/version
  r.add({"GET", "/_matrix/federation/v1/version", Auth::kNone, RateClass::kNone, http::Body::kJson,
         [](Request& req) -> Awaitable {
           // The project version of CMakeLists.txt.
           co_return json::object{{"server", json::object{{"name", "Despatch"}, {"version", "0.1.0"}}}};
         }});
}

}  // namespace despatch::api
