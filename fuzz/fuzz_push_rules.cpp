// Push rules from clients: arbitrary rules and events through evaluation, and the rule
// editing that /pushrules does.
#include "core/canonical_json.h"
#include "service/push/push_rules.h"

#include <cstdint>
#include <string_view>

namespace json = boost::json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  auto v = despatch::parse_strict_json(s);
  if (!v.ok() || !v->is_object()) return 0;
  const json::object& in = v->as_object();
  json::object event = in.contains("event") && in.at("event").is_object() ? in.at("event").as_object() : json::object{};
  json::object overrides =
      in.contains("overrides") && in.at("overrides").is_object() ? in.at("overrides").as_object() : json::object{};
  despatch::PushContext ctx;
  ctx.user_id = "@alice:example.org";
  ctx.display_name = "Alice";
  ctx.member_count = 3;
  ctx.user_power_level = [](std::string_view) { return int64_t{50}; };
  auto rules = despatch::effective_push_rules(ctx.user_id, overrides);
  (void)despatch::evaluate_push_rules(rules, event, ctx);
  if (auto* rule = in.if_contains("rule"); rule && rule->is_object())
    (void)despatch::put_push_rule(overrides, "override", "u.fuzz", rule->as_object());
  if (auto* path = in.if_contains("path"); path && path->is_string())
    (void)despatch::find_event_property(event, path->as_string());
  return 0;
}
