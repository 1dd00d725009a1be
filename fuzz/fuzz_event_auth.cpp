// Event authorization, redaction and event IDs on arbitrary events and states, for every room
// version: never a crash, whatever another server sends.
#include "core/canonical_json.h"
#include "service/rooms/auth_rules.h"
#include "service/rooms/event_format.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace json = boost::json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  auto v = despatch::parse_strict_json(s);
  if (!v.ok() || !v->is_object()) return 0;
  const json::object& in = v->as_object();
  auto* ev = in.if_contains("event");
  if (!ev || !ev->is_object()) return 0;
  despatch::StateMap state;
  std::vector<json::object> auth_events;
  if (auto* st = in.if_contains("state"); st && st->is_array())
    for (auto& e : st->as_array()) {
      if (!e.is_object()) continue;
      auto* t = e.as_object().if_contains("type");
      auto* k = e.as_object().if_contains("state_key");
      if (t && t->is_string() && k && k->is_string())
        state[{std::string(t->as_string()), std::string(k->as_string())}] = e.as_object();
      auth_events.push_back(e.as_object());
    }
  for (const char* version : {"1", "3", "6", "8", "10", "11", "12"}) {
    (void)despatch::check_event_auth(ev->as_object(), state, version);
    (void)despatch::check_auth_events(ev->as_object(), auth_events, version);
    (void)despatch::redact_event(ev->as_object(), version);
    (void)despatch::compute_event_id(ev->as_object(), version);
  }
  (void)despatch::auth_state_keys(ev->as_object(), "11");
  (void)despatch::verify_event_content_hash(ev->as_object());
  return 0;
}
