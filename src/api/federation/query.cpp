// Server-server spec "Querying for information".
#include "api/client/util.h"
#include "api/federation/routes.h"

#include "core/ids.h"

namespace despatch::api {

void add_federation_query_routes(http::Router& r, const FederationServices& svc) {
  // GET /_matrix/federation/v1/query/profile
  r.add({"GET", "/_matrix/federation/v1/query/profile", Auth::kFederation, RateClass::kNone, http::Body::kJson,
         [&svc](Request& req) -> Awaitable {
           const std::string* user = req.query_param("user_id");
           if (!user) co_return Error::missing_param("user_id is required");
           if (!is_valid_user_id(*user)) co_return Error::invalid_param("Invalid user ID");
           // Only this server's users: a server must not answer for others'.
           if (server_name_of(*user) != svc.config.server_name)
             co_return Error::invalid_param("User is not local to this server");
           DS_CO_ASSIGN(json::object profile, svc.users->get_profile(*user));
           const std::string* field = req.query_param("field");
           if (!field) co_return profile;
           json::object only;
           if (auto* v = profile.if_contains(*field)) only[*field] = *v;
           co_return only;
         }});
  // GET /_matrix/federation/v1/query/directory
  r.add({"GET", "/_matrix/federation/v1/query/directory", Auth::kFederation, RateClass::kNone, http::Body::kJson,
         [&svc](Request& req) -> Awaitable {
           const std::string* alias = req.query_param("room_alias");
           if (!alias) co_return Error::missing_param("room_alias is required");
           // Only this server's aliases; another server's are not ours to answer for.
           DS_CO_ASSIGN(json::object found, svc.rooms->alias_directory(*alias));
           co_return found;
         }});
}

}  // namespace despatch::api
