// Schema step 6 for databases made before the event graph: fills in each stored event's
// edges, depth and state groups, and each room's forward extremities, from the events
// themselves (their prev_events, depth and state, replayed in stream order).
#pragma once

#include "storage/conn.h"

namespace despatch::storage {

Status backfill_event_graph(Conn& c);

}  // namespace despatch::storage
