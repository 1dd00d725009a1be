// Server-server spec "Public Room Directory": this server's public rooms for other servers.
#include "api/client/util.h"
#include "api/federation/routes.h"

namespace despatch::api {

namespace {

// include_all_networks and third_party_instance_id ask for bridged networks, of which this
// server has none: the answer is the same list, and an instance ID matches nothing.
Status check_network(bool all_networks, const std::string* instance) {
  if (all_networks && instance) return Error::invalid_param("include_all_networks excludes third_party_instance_id");
  return ok_status();
}

json::object no_rooms() {
  json::object out;
  out["chunk"] = json::array();
  out["total_room_count_estimate"] = 0;
  return out;
}

}  // namespace

void add_federation_public_rooms_routes(http::Router& r, const FederationServices& svc) {
  // GET /_matrix/federation/v1/publicRooms
  r.add({"GET", "/_matrix/federation/v1/publicRooms", Auth::kFederation, RateClass::kNone, http::Body::kJson,
         [&svc](Request& req) -> Awaitable {
           DS_CO_ASSIGN(auto limit, query_int(req, "limit", 0, 100000));
           const std::string* since = req.query_param("since");
           const std::string* all = req.query_param("include_all_networks");
           if (all && *all != "true" && *all != "false")
             co_return Error::invalid_param("include_all_networks must be true or false");
           const std::string* instance = req.query_param("third_party_instance_id");
           DS_CO_TRY(check_network(all && *all == "true", instance));
           if (instance) co_return no_rooms();
           DS_CO_ASSIGN(json::object out, svc.rooms->public_rooms(limit.value_or(0), since ? *since : "", ""));
           co_return out;
         }});
  // POST /_matrix/federation/v1/publicRooms
  r.add({"POST", "/_matrix/federation/v1/publicRooms", Auth::kFederation, RateClass::kNone, http::Body::kJson,
         [&svc](Request& req) -> Awaitable {
           if (!req.json.is_object()) co_return Error::bad_json("The body must be an object");
           const json::object& body = req.json.as_object();
           DS_CO_ASSIGN(auto limit, opt_int(body, "limit"));
           if (limit && *limit < 0) co_return Error::invalid_param("limit must not be negative");
           DS_CO_ASSIGN(auto since, opt_string(body, "since"));
           bool all = false;
           if (auto* v = body.if_contains("include_all_networks"); v && !v->is_null()) {
             if (!v->is_bool()) co_return Error::bad_json("include_all_networks must be a boolean");
             all = v->as_bool();
           }
           DS_CO_ASSIGN(auto instance, opt_string(body, "third_party_instance_id"));
           DS_CO_TRY(check_network(all, instance ? &*instance : nullptr));
           std::string term;
           DS_CO_ASSIGN(auto filter, opt_object(body, "filter"));
           if (filter) {
             DS_CO_ASSIGN(auto t, opt_string(*filter, "generic_search_term"));
             term = t.value_or("");
           }
           if (instance) co_return no_rooms();
           DS_CO_ASSIGN(json::object out, svc.rooms->public_rooms(limit.value_or(0), since.value_or(""), term));
           co_return out;
         }});
}

}  // namespace despatch::api
