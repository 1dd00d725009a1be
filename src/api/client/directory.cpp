// Room aliases, the public room list and a room's directory visibility.
#include "api/client/routes.h"
#include "api/client/util.h"

#include "core/ids.h"

namespace despatch::api {

namespace {

// The `server` query parameter of /publicRooms: "" for this server's own directory.
Result<std::string> directory_server(const Request& req, const Services& svc) {
  const std::string* server = req.query_param("server");
  if (!server || *server == svc.config.server_name) return std::string();
  if (!is_valid_server_name(*server)) return Error::invalid_param("Invalid server name");
  return *server;
}

}  // namespace

void add_directory_routes(http::Router& r, const Services& svc) {
  // GET /_matrix/client/v3/directory/room/{roomAlias}
  add_client(r, "GET", "/directory/room/{roomAlias}", Auth::kOptional, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_ASSIGN(json::object found, co_await svc.rooms->directory_lookup(req.param(0)));
               co_return found;
             });
  // PUT /_matrix/client/v3/directory/room/{roomAlias}
  add_client(r, "PUT", "/directory/room/{roomAlias}", Auth::kRequired, RateClass::kNormal,
             [&svc](Request& req) -> Awaitable {
               DS_CO_ASSIGN(std::string room_id, req_string(req.body_object(), "room_id"));
               DS_CO_TRY(co_await svc.rooms->create_alias(req.who().user_id, req.param(0), room_id));
               co_return empty_reply();
             });
  // DELETE /_matrix/client/v3/directory/room/{roomAlias}
  add_client(r, "DELETE", "/directory/room/{roomAlias}", Auth::kRequired, RateClass::kNormal,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(co_await svc.rooms->delete_alias(req.who().user_id, req.param(0)));
               co_return empty_reply();
             });
  // GET /_matrix/client/v3/rooms/{roomId}/aliases
  add_client(r, "GET", "/rooms/{roomId}/aliases", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(require_room_id(req.param(0)));
               DS_CO_ASSIGN(json::array aliases, svc.rooms->room_aliases(req.who().user_id, req.param(0)));
               co_return json::object{{"aliases", std::move(aliases)}};
             });

  // GET /_matrix/client/v3/directory/list/room/{roomId}
  add_client(r, "GET", "/directory/list/room/{roomId}", Auth::kNone, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(require_room_id(req.param(0)));
               DS_CO_ASSIGN(bool pub, svc.rooms->get_visibility(req.param(0)));
               co_return json::object{{"visibility", pub ? "public" : "private"}};
             });
  // PUT /_matrix/client/v3/directory/list/room/{roomId}
  add_client(r, "PUT", "/directory/list/room/{roomId}", Auth::kRequired, RateClass::kNormal,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(require_room_id(req.param(0)));
               DS_CO_ASSIGN(auto vis, opt_string(req.body_object(), "visibility"));
               if (vis && *vis != "public" && *vis != "private")
                 co_return Error::invalid_param("visibility must be public or private");
               DS_CO_TRY(co_await svc.rooms->set_visibility(req.who().user_id, req.param(0),
                                                            vis.value_or("public") == "public"));
               co_return empty_reply();
             });

  // GET /_matrix/client/v3/publicRooms
  add_client(r, "GET", "/publicRooms", Auth::kOptional, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_ASSIGN(auto limit, query_int(req, "limit", 0, 100000));
               auto* since = req.query_param("since");
               DS_CO_ASSIGN(std::string server, directory_server(req, svc));
               if (!server.empty()) {
                 json::object ask;
                 if (limit) ask["limit"] = *limit;
                 if (since) ask["since"] = *since;
                 DS_CO_ASSIGN(json::object theirs, co_await svc.federation->public_rooms(server, std::move(ask)));
                 co_return theirs;
               }
               DS_CO_ASSIGN(json::object out, svc.rooms->public_rooms(limit.value_or(0), since ? *since : "", ""));
               co_return out;
             });
  // POST /_matrix/client/v3/publicRooms
  add_client(r, "POST", "/publicRooms", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               auto& body = req.body_object();
               DS_CO_ASSIGN(std::string server, directory_server(req, svc));
               if (!server.empty()) {
                 // Passed on as the client wrote it: the other server judges its own filter.
                 DS_CO_ASSIGN(json::object theirs, co_await svc.federation->public_rooms(server, body));
                 co_return theirs;
               }
               DS_CO_ASSIGN(auto limit, opt_int(body, "limit"));
               DS_CO_ASSIGN(auto since, opt_string(body, "since"));
               std::string term;
               DS_CO_ASSIGN(auto filter, opt_object(body, "filter"));
               if (filter) {
                 DS_CO_ASSIGN(auto t, opt_string(*filter, "generic_search_term"));
                 term = t.value_or("");
               }
               DS_CO_ASSIGN(json::object out, svc.rooms->public_rooms(limit.value_or(0), since.value_or(""), term));
               co_return out;
             });
}

}  // namespace despatch::api
