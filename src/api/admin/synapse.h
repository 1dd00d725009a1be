// Shared by the Synapse-compatible admin API files (synapse_*.cpp): routes under
// /_synapse/admin, administrators only unless said otherwise, every action audited.
#pragma once

#include "api/admin/routes.h"
#include "api/client/util.h"

#include "core/ids.h"

namespace despatch::api {

inline void add_synapse(http::Router& r, const char* method, const std::string& path, http::Handler h,
                        Auth auth = Auth::kAdmin) {
  r.add({method, "/_synapse/admin" + path, auth, RateClass::kNone, http::Body::kJson, std::move(h)});
}

// Writes an audit entry "synapse.<action>" for who did it; a failure fails the reply.
inline asio::awaitable<Status> synapse_audit(const AdminServices& svc, std::string actor, std::string action,
                                             json::object details) {
  auto r = co_await svc.audit->record(actor, "synapse." + action, "", details);
  if (!r.ok()) co_return r.error();
  co_return ok_status();
}

// A local user ID from the path: M_INVALID_PARAM otherwise (Synapse: "Can only look up local users").
inline Status require_local_user(const AdminServices& svc, const std::string& user_id) {
  if (!is_valid_user_id(user_id)) return Error::invalid_param("Invalid user ID");
  if (server_name_of(user_id) != svc.users->config().server_name)
    return Error::invalid_param("Can only look up local users");
  return ok_status();
}

// An integer query parameter from Synapse's paging (from, limit), with a default.
inline Result<int64_t> paging_param(const Request& req, const char* name, int64_t fallback, int64_t hi) {
  DS_ASSIGN(auto v, query_int(req, name, 0, hi));
  return v.value_or(fallback);
}

}  // namespace despatch::api
