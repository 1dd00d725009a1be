// End-to-end encryption: key upload, query, claim, changes, cross-signing, sendToDevice.
#include "api/client/routes.h"
#include "api/client/util.h"

#include "service/sync/timeline.h"

namespace despatch::api {

void add_keys_routes(http::Router& r, const Services& svc) {
  // POST /_matrix/client/v3/keys/upload
  add_client(r, "POST", "/keys/upload", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_ASSIGN(json::object out, co_await svc.keys->upload(req.who().user_id, req.who().device_id,
                                                                        req.body_object()));
               co_return out;
             });

  // POST /_matrix/client/v3/keys/query
  add_client(r, "POST", "/keys/query", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_ASSIGN(json::object out, co_await svc.keys->query(req.who().user_id, req.body_object()));
               co_return out;
             });

  // POST /_matrix/client/v3/keys/claim
  add_client(r, "POST", "/keys/claim", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_ASSIGN(json::object out, co_await svc.keys->claim(req.body_object()));
               co_return out;
             });

  // GET /_matrix/client/v3/keys/changes
  add_client(r, "GET", "/keys/changes", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               auto* from = req.query_param("from");
               auto* to = req.query_param("to");
               if (!from || !to) co_return Error::missing_param("from and to are required");
               auto f = parse_stream_token(*from);
               auto t = parse_stream_token(*to);
               if (!f || !t) co_return Error::invalid_param("Invalid from or to token");
               DS_CO_ASSIGN(auto d, svc.keys->changes(req.who().user_id, *f, *t));
               json::array changed, left;
               for (auto& u : d.changed) changed.push_back(json::string(u));
               for (auto& u : d.left) left.push_back(json::string(u));
               co_return json::object{{"changed", std::move(changed)}, {"left", std::move(left)}};
             });

  // POST /_matrix/client/v3/keys/device_signing/upload, and its unstable alias, which
  // Element Web still calls when it sets up cross-signing.
  auto device_signing = [&svc](Request& req) -> Awaitable {
    // The first upload, or the same keys again, need no re-authentication; replacing a
    // stored key does.
    if (svc.keys->cross_signing_needs_auth(req.who().user_id, req.body_object())) {
      const json::value* auth = req.body_object().if_contains(std::string_view("auth"));
      DS_CO_TRY(co_await svc.users->check_uia(req.who().user_id, auth));
    }
    DS_CO_TRY(co_await svc.keys->upload_cross_signing(req.who().user_id, req.body_object()));
    co_return empty_reply();
  };
  add_client(r, "POST", "/keys/device_signing/upload", Auth::kRequired, RateClass::kNone, device_signing);
  r.add({"POST", "/_matrix/client/unstable/keys/device_signing/upload", Auth::kRequired, RateClass::kNone,
         http::Body::kJson, device_signing});

  // POST /_matrix/client/v3/keys/signatures/upload
  add_client(r, "POST", "/keys/signatures/upload", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_ASSIGN(json::object out, co_await svc.keys->upload_signatures(req.who().user_id,
                                                                                   req.body_object()));
               co_return out;
             });

  // PUT /_matrix/client/v3/sendToDevice/{eventType}/{txnId}
  // Rate limited per sender: one request fans out to every device it names, and what it
  // queues is stored until each device syncs.
  add_client(r, "PUT", "/sendToDevice/{eventType}/{txnId}", Auth::kRequired, RateClass::kNormal,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(check_event_type(req.param(0)));
               DS_CO_TRY(check_txn_id(req.param(1)));
               auto* messages = req.body_object().if_contains("messages");
               if (!messages || !messages->is_object()) co_return Error::bad_json("messages must be an object");
               DS_CO_TRY(co_await svc.keys->send_to_device(req.who().user_id, req.who().device_id, req.param(0),
                                                           req.param(1), messages->as_object()));
               co_return empty_reply();
             });
}

void add_key_backup_routes(http::Router& r, const Services& svc) {
  // POST /_matrix/client/v3/room_keys/version
  add_client(r, "POST", "/room_keys/version", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_ASSIGN(std::string v, co_await svc.backup->create_version(req.who().user_id, req.body_object()));
               co_return json::object{{"version", v}};
             });
  // GET /_matrix/client/v3/room_keys/version and /room_keys/version/{version}
  auto get_version = [&svc](Request& req) -> Awaitable {
    DS_CO_ASSIGN(json::object out, svc.backup->get_version(req.who().user_id, req.params.empty() ? "" : req.param(0)));
    co_return out;
  };
  add_client(r, "GET", "/room_keys/version", Auth::kRequired, RateClass::kNone, get_version);
  add_client(r, "GET", "/room_keys/version/{version}", Auth::kRequired, RateClass::kNone, get_version);
  // PUT /_matrix/client/v3/room_keys/version/{version}
  add_client(r, "PUT", "/room_keys/version/{version}", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(co_await svc.backup->update_version(req.who().user_id, req.param(0), req.body_object()));
               co_return empty_reply();
             });
  // DELETE /_matrix/client/v3/room_keys/version/{version}
  add_client(r, "DELETE", "/room_keys/version/{version}", Auth::kRequired, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               DS_CO_TRY(co_await svc.backup->delete_version(req.who().user_id, req.param(0)));
               co_return empty_reply();
             });

  // /_matrix/client/v3/room_keys/keys[/{roomId}[/{sessionId}]] with ?version=
  for (std::string suffix : {"/room_keys/keys", "/room_keys/keys/{roomId}", "/room_keys/keys/{roomId}/{sessionId}"}) {
    auto scope = [](Request& req, std::string* room, std::string* session) {
      if (req.params.size() > 0) *room = req.param(0);
      if (req.params.size() > 1) *session = req.param(1);
    };
    add_client(r, "PUT", suffix, Auth::kRequired, RateClass::kNone, [&svc, scope](Request& req) -> Awaitable {
      auto* version = req.query_param("version");
      if (!version) co_return Error::missing_param("version is required");
      std::string room, session;
      scope(req, &room, &session);
      json::object rooms;
      if (room.empty()) {
        auto* rv = req.body_object().if_contains("rooms");
        if (!rv || !rv->is_object()) co_return Error::bad_json("rooms must be an object");
        rooms = rv->as_object();
      } else if (session.empty()) {
        rooms[room] = req.body_object();
      } else {
        rooms[room] = json::object{{"sessions", json::object{{session, req.body_object()}}}};
      }
      DS_CO_ASSIGN(json::object out, co_await svc.backup->put_keys(req.who().user_id, *version, rooms));
      co_return out;
    });
    add_client(r, "GET", suffix, Auth::kRequired, RateClass::kNone, [&svc, scope](Request& req) -> Awaitable {
      auto* version = req.query_param("version");
      if (!version) co_return Error::missing_param("version is required");
      std::string room, session;
      scope(req, &room, &session);
      DS_CO_ASSIGN(json::object out, svc.backup->get_keys(req.who().user_id, *version, room, session));
      co_return out;
    });
    add_client(r, "DELETE", suffix, Auth::kRequired, RateClass::kNone, [&svc, scope](Request& req) -> Awaitable {
      auto* version = req.query_param("version");
      if (!version) co_return Error::missing_param("version is required");
      std::string room, session;
      scope(req, &room, &session);
      DS_CO_ASSIGN(json::object out, co_await svc.backup->delete_keys(req.who().user_id, *version, room, session));
      co_return out;
    });
  }
}

}  // namespace despatch::api
