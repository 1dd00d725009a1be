// Numbered schema migrations: each runs once, in order, recorded in schema_version.
#pragma once

#include "storage/conn.h"

namespace despatch::storage {

Status run_migrations(Conn& conn);
int latest_schema_version();

}  // namespace despatch::storage
