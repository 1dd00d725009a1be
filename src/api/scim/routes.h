// SCIM 2.0 (RFC 7644) at /scim/v2, authenticated by SCIM bearer tokens (not Matrix tokens).
#pragma once

#include "http/router.h"
#include "service/scim/scim_service.h"

namespace despatch::api {

void add_scim_routes(http::Router& r, ScimService& scim);  // scim.cpp

}  // namespace despatch::api
