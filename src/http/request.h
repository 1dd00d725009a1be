// The plain request and reply types handlers see: no Beast types cross this line.
#pragma once

#include "core/result.h"

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string_view>
#include <string>
#include <utility>
#include <vector>

namespace despatch::http {

// Who is calling, resolved from the access token before the handler runs.
struct Caller {
  std::string user_id;
  std::string device_id;
  std::string access_token;
  bool is_admin = false;
  bool locked = false;     // spec 1.18 account locking
  bool suspended = false;  // spec 1.18 account suspension (handlers refuse new activity)
};

struct Request {
  std::string method;
  std::string target;                 // raw request target, for logs
  std::vector<std::string> params;    // path parameters in route order, percent-decoded
  std::multimap<std::string, std::string> query;  // percent-decoded
  std::map<std::string, std::string> headers;     // lower-case names
  std::string body;
  json::value json;                   // the parsed body for JSON routes ({} when empty)
  std::string remote;                 // peer address
  std::optional<Caller> caller;
  std::string origin;                 // Auth::kFederation: the server the X-Matrix header proved
  std::string_view route_pattern;     // the matched route's (empty: none), for metrics

  const std::string& param(size_t i) const { return params.at(i); }
  // Returns the first value of a query parameter, or nullptr.
  const std::string* query_param(std::string_view name) const {
    auto it = query.find(std::string(name));
    return it == query.end() ? nullptr : &it->second;
  }
  const Caller& who() const { return *caller; }
  json::object& body_object() { return json.as_object(); }
};

struct Reply {
  int status = 200;
  json::value body = json::object{};
  std::string raw;           // sent instead of body when content_type is set
  std::string content_type;  // empty: application/json
  std::vector<std::pair<std::string, std::string>> headers;

  Reply() = default;
  Reply(json::object o) : body(std::move(o)) {}  // NOLINT(google-explicit-constructor)
  Reply(int s, json::value b) : status(s), body(std::move(b)) {}
};

// kFederation: the request must carry a valid X-Matrix Authorization header from another
// server (checked by the server's FederationAuthenticator after the body is parsed, since
// the signature covers it); the handler finds the origin in Request::origin.
// kRequiredEvenLocked: an access token is needed, and a locked account may still call the
// route (spec 1.18: logout and logout/all); every other route refuses a locked account.
enum class Auth { kNone, kOptional, kRequired, kAdmin, kFederation, kRequiredEvenLocked };
enum class Body { kJson, kRaw };
enum class RateClass { kNone, kNormal, kLogin };

using Handler = std::function<boost::asio::awaitable<Result<Reply>>(Request&)>;

struct Route {
  std::string method;
  std::string pattern;  // e.g. /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}
  Auth auth = Auth::kRequired;
  RateClass rate = RateClass::kNone;
  Body body = Body::kJson;
  Handler handler;
  size_t max_body = 0;  // largest request body; 0: ServerOptions::max_body_bytes (uploads differ)
};

// Renders an Error as the spec's standard error response.
Reply error_reply(const Error& e);

}  // namespace despatch::http
