// Room membership: join, knock, invite, leave, forget, kick, ban, unban.
#include "api/client/routes.h"
#include "api/client/util.h"

#include "core/ids.h"

namespace despatch::api {

namespace {

// Servers that may let the user in when this server is not in the room, for joins and
// knocks (server_name is the older name of via).
std::vector<std::string> via_servers(const Request& req) {
  std::vector<std::string> via;
  for (const char* name : {"via", "server_name"}) {
    auto [from, to] = req.query.equal_range(name);
    for (auto it = from; it != to; ++it)
      if (is_valid_server_name(it->second)) via.push_back(it->second);
  }
  return via;
}

}  // namespace

void add_membership_routes(http::Router& r, const Services& svc) {
  auto join = [&svc](Request& req) -> Awaitable {
    DS_CO_TRY(refuse_if_suspended(req));
    DS_CO_ASSIGN(auto reason, opt_string(req.body_object(), "reason"));
    std::vector<std::string> via = via_servers(req);
    DS_CO_ASSIGN(std::string room_id, co_await svc.rooms->join(req.who().user_id, req.param(0), reason, via));
    co_return json::object{{"room_id", room_id}};
  };
  // POST /_matrix/client/v3/rooms/{roomId}/join (a room ID only; aliases use /join/)
  add_client(r, "POST", "/rooms/{roomId}/join", Auth::kRequired, RateClass::kNormal,
             [join](Request& req) -> Awaitable {
               DS_CO_TRY(require_room_id(req.param(0)));
               co_return co_await join(req);
             });
  // POST /_matrix/client/v3/join/{roomIdOrAlias}
  add_client(r, "POST", "/join/{roomIdOrAlias}", Auth::kRequired, RateClass::kNormal, join);

  // POST /_matrix/client/v3/knock/{roomIdOrAlias}
  add_client(r, "POST", "/knock/{roomIdOrAlias}", Auth::kRequired, RateClass::kNormal,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(refuse_if_suspended(req));
               DS_CO_ASSIGN(auto reason, opt_string(req.body_object(), "reason"));
               std::vector<std::string> via = via_servers(req);
               DS_CO_ASSIGN(std::string room_id,
                            co_await svc.rooms->knock(req.who().user_id, req.param(0), reason, std::move(via)));
               json::object out;
               out["room_id"] = room_id;
               co_return out;
             });

  // POST /_matrix/client/v3/rooms/{roomId}/leave
  add_client(r, "POST", "/rooms/{roomId}/leave", Auth::kRequired, RateClass::kNormal,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(require_room_id(req.param(0)));
               DS_CO_ASSIGN(auto reason, opt_string(req.body_object(), "reason"));
               DS_CO_TRY(co_await svc.rooms->set_membership(req.who().user_id, req.param(0),
                                                            req.who().user_id, "leave", reason));
               co_return empty_reply();
             });

  // POST /_matrix/client/v3/rooms/{roomId}/forget
  add_client(r, "POST", "/rooms/{roomId}/forget", Auth::kRequired, RateClass::kNormal,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(require_room_id(req.param(0)));
               DS_CO_TRY(co_await svc.rooms->forget(req.who().user_id, req.param(0)));
               co_return empty_reply();
             });

  // POST /rooms/{roomId}/invite, /kick, /ban, /unban: each names a target user_id.
  struct Action {
    const char* path;
    const char* membership;
  };
  for (Action a : {Action{"invite", "invite"}, Action{"kick", "leave"}, Action{"ban", "ban"},
                   Action{"unban", "leave"}}) {
    std::string name = a.path;
    std::string membership = a.membership;
    add_client(r, "POST", "/rooms/{roomId}/" + name, Auth::kRequired, RateClass::kNormal,
               [&svc, name, membership](Request& req) -> Awaitable {
                 const std::string& room_id = req.param(0);
                 DS_CO_TRY(require_room_id(room_id));
                 if (name == "invite") DS_CO_TRY(refuse_if_suspended(req));
                 DS_CO_ASSIGN(std::string target, req_string(req.body_object(), "user_id"));
                 if (!is_valid_user_id(target)) co_return Error::invalid_param("Invalid user_id");
                 DS_CO_ASSIGN(auto reason, opt_string(req.body_object(), "reason"));
                 if (name == "unban" || name == "kick") {
                   DS_CO_ASSIGN(std::string current, svc.rooms->membership(room_id, target));
                   if (name == "unban" && current != "ban") co_return Error::forbidden(target + " is not banned");
                   // A kick would set a banned user's membership to leave, lifting the ban.
                   if (name == "kick" && current == "ban") co_return Error::forbidden(target + " is banned; unban them");
                 }
                 if (name == "kick" && target == req.who().user_id)
                   co_return Error::forbidden("Use /leave to leave a room");
                 DS_CO_TRY(co_await svc.rooms->set_membership(req.who().user_id, room_id, target,
                                                              membership, reason));
                 co_return empty_reply();
               });
  }
}

}  // namespace despatch::api
