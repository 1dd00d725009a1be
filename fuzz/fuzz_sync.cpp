// /sync and /messages tokens, and filters (inline JSON in a query string or a stored body).
#include "core/canonical_json.h"
#include "service/sync/filter.h"
#include "service/sync/sync_service.h"
#include "service/sync/timeline.h"

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace json = boost::json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  if (auto t = despatch::SyncToken::parse(s)) {
    auto back = despatch::SyncToken::parse(t->str());
    if (!back || back->pos != t->pos || back->typing != t->typing || back->to_device != t->to_device) std::abort();
  }
  (void)despatch::parse_stream_token(s);
  (void)despatch::parse_room_event_filter_param(s);
  auto v = despatch::parse_strict_json(s);
  if (!v.ok()) return 0;
  if (auto f = despatch::parse_filter(*v); f.ok()) {
    // What was accepted must render and parse again.
    if (!despatch::parse_filter(despatch::filter_to_json(*f)).ok()) std::abort();
    json::object ev{{"type", "m.room.message"}, {"sender", "@a:b"}, {"content", json::object{{"body", "x"}}}};
    (void)despatch::matches(f->room.timeline, ev, "!r:b");
    (void)despatch::apply_event_fields(ev, f->event_fields);
  }
  return 0;
}
