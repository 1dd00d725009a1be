// Despatch's own browser and OAuth 2.0 endpoints under /_despatch: the OpenID Connect
// provider's callback, and the authorization server's authorize, token, register and
// revoke endpoints that /_matrix/client/v1/auth_metadata advertises.
#pragma once

#include "api/services.h"
#include "http/router.h"

namespace despatch::api {

void add_oauth_routes(http::Router& r, const Services& svc);  // oauth.cpp

}  // namespace despatch::api
