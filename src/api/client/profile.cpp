// Profiles: display name and avatar URL.
#include "api/client/routes.h"
#include "api/client/util.h"

#include "core/ids.h"

namespace despatch::api {

namespace {

// The profile of any user: this server's from its users, another server's over federation.
asio::awaitable<Result<json::object>> profile_of(const Services& svc, const std::string& user, const std::string& field) {
  if (server_name_of(user) != svc.config.server_name && svc.config.federation.enabled)
    co_return co_await svc.federation->query_profile(user, field);
  co_return svc.users->get_profile(user);
}

}  // namespace

void add_profile_routes(http::Router& r, const Services& svc) {
  // GET /_matrix/client/v3/profile/{userId}
  add_client(r, "GET", "/profile/{userId}", Auth::kOptional, RateClass::kNone,
             [&svc](Request& req) -> Awaitable {
               const std::string& user = req.param(0);
               if (!is_valid_user_id(user)) co_return Error::invalid_param("Invalid user ID");
               DS_CO_ASSIGN(json::object p, co_await profile_of(svc, user, ""));
               co_return p;
             });

  for (std::string field : {"displayname", "avatar_url"}) {
    // GET /_matrix/client/v3/profile/{userId}/displayname (and avatar_url)
    add_client(r, "GET", "/profile/{userId}/" + field, Auth::kOptional, RateClass::kNone,
               [&svc, field](Request& req) -> Awaitable {
                 const std::string& user = req.param(0);
                 if (!is_valid_user_id(user)) co_return Error::invalid_param("Invalid user ID");
                 DS_CO_ASSIGN(json::object p, co_await profile_of(svc, user, field));
                 json::object out;
                 if (auto* v = p.if_contains(field)) out[field] = *v;
                 else co_return Error::not_found("No " + field + " set");
                 co_return out;
               });
    // PUT /_matrix/client/v3/profile/{userId}/displayname (and avatar_url)
    add_client(r, "PUT", "/profile/{userId}/" + field, Auth::kRequired, RateClass::kNormal,
               [&svc, field](Request& req) -> Awaitable {
                 DS_CO_TRY(require_self(req, req.param(0)));
                 DS_CO_TRY(refuse_if_suspended(req));
                 DS_CO_ASSIGN(auto value, opt_string(req.body_object(), field.c_str()));
                 if (!value) co_return Error::missing_param(field + " is required");
                 if (value->size() > 256) co_return Error::invalid_param(field + " is too long");
                 DS_CO_TRY(co_await svc.users->set_profile_field(req.who().user_id, field, *value));
                 co_await svc.rooms->propagate_profile(req.who().user_id);
                 co_return empty_reply();
               });
  }

  // POST /_matrix/client/v3/user_directory/search
  add_client(r, "POST", "/user_directory/search", Auth::kRequired, RateClass::kNormal,
             [&svc](Request& req) -> Awaitable {
               auto& body = req.body_object();
               DS_CO_ASSIGN(std::string term, req_string(body, "search_term"));
               DS_CO_ASSIGN(auto limit, opt_int(body, "limit"));
               int64_t n = limit.value_or(10);
               if (n < 1 || n > 100) n = std::clamp<int64_t>(n, 1, 100);
               bool limited = false;
               DS_CO_ASSIGN(json::array results,
                            svc.users->search_directory(req.who().user_id, term,
                                                        static_cast<size_t>(n), &limited));
               co_return json::object{{"results", std::move(results)}, {"limited", limited}};
             });
}

}  // namespace despatch::api
