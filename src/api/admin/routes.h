// Admin API route registration.
#pragma once

#include "http/router.h"

namespace despatch {
struct App;
}

namespace despatch::api {

void add_admin_routes(http::Router& r, App& app);  // admin.cpp

}  // namespace despatch::api
