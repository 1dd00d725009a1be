#include "service/rooms/event_view.h"

#include "service/common/time.h"
#include "service/rooms/event_format.h"
#include "service/users/erasure.h"

namespace despatch {

Result<std::optional<StoredEvent>> load_event(storage::Stores& s, const std::string& event_id) {
  return s.events().event(event_id);
}

json::object client_event(storage::Stores& s, const StoredEvent& ev, const std::string& room_version,
                          const std::string& viewer_device) {
  const json::object* src = &ev.pdu;
  json::object redacted;
  std::optional<StoredEvent> because;
  auto* sender = ev.pdu.if_contains("sender");
  // An erased account is deactivated, so nobody left to serve is the sender.
  bool erased = sender && sender->is_string() && is_erased(std::string(sender->as_string()));
  if (erased) {
    redacted = redact_event(ev.pdu, room_version);
    src = &redacted;
  }
  if (!ev.redacted_by.empty()) {
    redacted = redact_event(ev.pdu, room_version);
    src = &redacted;
    auto r = load_event(s, ev.redacted_by);
    if (r.ok() && *r) because = std::move(**r);
  }
  json::object out;
  for (const char* k : {"content", "origin_server_ts", "room_id", "sender", "state_key", "type",
                        "redacts"})
    if (auto* v = src->if_contains(k)) out[k] = *v;
  if (!out.contains("content")) out["content"] = json::object{};
  // Room v11 moved redacts into content; clients still read it at the top level.
  if (is_str(out["type"], "m.room.redaction") && !out.contains("redacts"))
    if (auto* r = out["content"].as_object().if_contains("redacts"); r && r->is_string())
      out["redacts"] = *r;
  out["event_id"] = ev.event_id;
  json::object u;
  if (auto* pu = ev.pdu.if_contains("unsigned"); pu && pu->is_object()) {
    for (auto& [k, v] : pu->as_object())
      if (k == "prev_content" || k == "replaces_state" || k == "prev_sender") u[k] = v;
    if (src != &ev.pdu) u.erase("prev_content");
  }
  if (auto* ts = ev.pdu.if_contains("origin_server_ts"); ts && ts->is_int64())
    u["age"] = now_ms() - ts->as_int64();
  if (!viewer_device.empty() && viewer_device == ev.txn_device) u["transaction_id"] = ev.txn_id;
  if (because) u["redacted_because"] = client_event(s, *because, room_version);
  // Bundle the latest edit by the original sender (spec: "Server-side aggregation of
  // m.replace relationships").
  if (!because && !erased && !ev.pdu.contains("state_key") && sender && sender->is_string()) {
    auto edit = s.events().latest_edit(ev.event_id, std::string(sender->as_string()));
    if (edit.ok() && *edit)
      u["m.relations"] = json::object{{"m.replace", client_event(s, **edit, room_version)}};
  }
  out["unsigned"] = std::move(u);
  return out;
}

}  // namespace despatch
