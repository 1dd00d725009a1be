// Server-server spec "Retrieving server keys": publishing this server's keys and answering
// as a notary for its own and the keys it has cached or can fetch.
#include "api/client/util.h"
#include "api/federation/routes.h"

#include "core/ids.h"
#include "service/common/time.h"

namespace despatch::api {

namespace {

// More servers in one notary query than this are refused (each may mean a fetch).
constexpr size_t kMaxNotaryServers = 100;

}  // namespace

void add_federation_key_routes(http::Router& r, const FederationServices& svc) {
  // GET /_matrix/key/v2/server
  r.add({"GET", "/_matrix/key/v2/server", Auth::kNone, RateClass::kNone, http::Body::kJson,
         [&svc](Request& req) -> Awaitable { co_return svc.keys->own_keys(now_ms()); }});

  // GET /_matrix/key/v2/query/{serverName}
  r.add({"GET", "/_matrix/key/v2/query/{serverName}", Auth::kNone, RateClass::kNone, http::Body::kJson,
         [&svc](Request& req) -> Awaitable {
           const std::string& server = req.param(0);
           if (!is_valid_server_name(server)) co_return Error::invalid_param("Invalid server name");
           DS_CO_ASSIGN(auto min_ts, query_int(req, "minimum_valid_until_ts", 0, INT64_MAX));
           json::array keys = co_await svc.keys->notary(server, min_ts.value_or(0));
           co_return json::object{{"server_keys", std::move(keys)}};
         }});

  // POST /_matrix/key/v2/query
  r.add({"POST", "/_matrix/key/v2/query", Auth::kNone, RateClass::kNone, http::Body::kJson,
         [&svc](Request& req) -> Awaitable {
           DS_CO_ASSIGN(auto criteria, opt_object(req.body_object(), "server_keys"));
           if (!criteria) co_return Error::missing_param("server_keys is required");
           if (criteria->size() > kMaxNotaryServers)
             co_return Error::invalid_param("At most " + std::to_string(kMaxNotaryServers) + " servers per query");
           json::array out;
           for (const auto& [server, key_ids] : *criteria) {
             if (!is_valid_server_name(server) || !key_ids.is_object()) continue;
             // The latest minimum_valid_until_ts asked for any of the server's keys.
             int64_t min_ts = 0;
             for (const auto& [id, c] : key_ids.as_object())
               if (c.is_object())
                 if (auto* m = c.as_object().if_contains("minimum_valid_until_ts"); m && m->is_int64())
                   min_ts = std::max(min_ts, m->as_int64());
             json::array keys = co_await svc.keys->notary(std::string(server), min_ts);
             for (auto& k : keys) out.push_back(std::move(k));
           }
           co_return json::object{{"server_keys", std::move(out)}};
         }});
}

}  // namespace despatch::api
