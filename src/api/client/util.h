// Small helpers shared by the client API handlers: typed field access with the spec's
// errors, and registration under both the current and the legacy path prefix.
#pragma once

#include "http/request.h"
#include "http/router.h"
#include "api/services.h"

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>

namespace despatch::api {

namespace asio = boost::asio;
using http::Auth;
using http::RateClass;
using http::Reply;
using http::Request;
using Awaitable = asio::awaitable<Result<Reply>>;

// Registers path under /_matrix/client/v3 and the legacy /_matrix/client/r0 that some
// clients (matrix-nio) still use.
void add_client(http::Router& r, const char* method, const std::string& suffix, Auth auth,
                RateClass rate, http::Handler h);

Result<std::optional<std::string>> opt_string(const json::object& o, const char* key);
Result<std::string> req_string(const json::object& o, const char* key);
Result<std::optional<bool>> opt_bool(const json::object& o, const char* key);
Result<std::optional<int64_t>> opt_int(const json::object& o, const char* key);
Result<std::optional<json::object>> opt_object(const json::object& o, const char* key);
// An integer query parameter within [lo, hi], or nullopt when absent.
Result<std::optional<int64_t>> query_int(const Request& r, const char* name, int64_t lo, int64_t hi);
// Refuses acting on another user's resources.
Status require_self(const Request& r, const std::string& user_id);
Status require_room_id(const std::string& room_id);
// M_USER_SUSPENDED for a suspended caller (spec 1.18): joining, knocking, inviting, sending,
// creating rooms and changing the profile. Reading, leaving and redacting stay open.
Status refuse_if_suspended(const Request& r);
// An event type (room or to-device) or a transaction ID from the path: 1 to 255 bytes. The
// HTTP layer has already refused invalid UTF-8 and control characters.
Status check_event_type(const std::string& type);
Status check_txn_id(const std::string& txn_id);

inline Reply empty_reply() { return Reply(json::object{}); }

}  // namespace despatch::api
