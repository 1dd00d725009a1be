// Replies to a browser in the middle of a sign-in: redirects, and a plain page that says
// what went wrong (there is no client to read a JSON error there).
#pragma once

#include "http/request.h"

#include <string>

namespace despatch::api {

http::Reply browser_redirect(const std::string& location);
http::Reply browser_error_page(const Error& e);
// Asks the user before a login token goes to a client on host (which may be a phishing
// page that sent them here); continue_url carries the token.
http::Reply browser_confirm_page(const std::string& host, const std::string& user_id,
                                 const std::string& continue_url);
// The end of the m.login.sso fallback: tells the client's window (spec "Fallback").
http::Reply browser_auth_done_page();

}  // namespace despatch::api
