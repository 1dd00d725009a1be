// Push rules as pure logic: the server-default ruleset, merging a user's stored changes into it,
// the edits behind the /pushrules API, and evaluating a ruleset against an event.
//
// A user's stored state ("overrides") is a JSON object of this shape; every part is optional:
//   {
//     "custom":   {"override": [rule, ...], "content": [...], "room": [...], "sender": [...],
//                  "underride": [...]},            // user-defined rules, most important first
//     "defaults": {"<kind>": {"<rule_id>": {"enabled": bool, "actions": [...]}}}
//   }
// Custom rules are stored in their API shape ({rule_id, default: false, enabled, actions, and
// conditions or pattern where the kind uses them}). Server-default rules are never stored whole,
// only the two things a user may change about them, so spec updates to defaults still apply.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace despatch {

// Rule kinds in the order they are evaluated.
inline constexpr const char* kPushRuleKinds[] = {"override", "content", "room", "sender",
                                                 "underride"};

// True for the five kinds the /pushrules API accepts.
bool is_push_rule_kind(std::string_view kind);

// The server-default ruleset, {"global": {override, content, room, sender, underride}}, as the
// push module of the current spec version defines it. `user_id` fills the rules that match on the
// owner's Matrix ID. Every rule has default: true.
json::object default_push_rules(std::string_view user_id);

// The ruleset the user sees and events are evaluated against, {"global": {...}}: per kind, user
// rules come before server-default rules, except that .m.rule.master stays first in override.
// Malformed parts of `user_overrides` are skipped rather than failing.
json::object effective_push_rules(std::string_view user_id, const json::object& user_overrides);

// --- /pushrules API ---------------------------------------------------------------------------
// Every operation validates `kind` (M_INVALID_PARAM) and reports an unknown rule as M_NOT_FOUND.
// Edits return the new overrides for the caller to store; the input is never modified.

// GET /pushrules/global/{kind}/{ruleId}: the effective rule.
Result<json::object> get_push_rule(std::string_view user_id, const json::object& overrides,
                                   std::string_view kind, std::string_view rule_id);

// GET .../{ruleId}/enabled.
Result<bool> get_push_rule_enabled(std::string_view user_id, const json::object& overrides,
                                   std::string_view kind, std::string_view rule_id);

// GET .../{ruleId}/actions.
Result<json::array> get_push_rule_actions(std::string_view user_id, const json::object& overrides,
                                          std::string_view kind, std::string_view rule_id);

// PUT /pushrules/global/{kind}/{ruleId}?before=&after= with the request `body`.
// Creates or replaces a user-defined rule. Refuses ids that are empty, start with '.' (reserved
// for server defaults) or contain '/' or '\' (M_INVALID_PARAM). The body needs an "actions" array
// of known actions, a string "pattern" for content rules and a "conditions" array (possibly
// empty) for override/underride rules; anything else malformed is M_BAD_JSON. `before` wins over
// `after`; either must name a user-defined rule of the same kind or the result is M_UNKNOWN.
// Without either, a new rule becomes the most important user rule and an existing one keeps its
// place and its enabled flag; new rules are enabled.
Result<json::object> put_push_rule(const json::object& overrides, std::string_view kind,
                                   std::string_view rule_id, const json::object& body,
                                   std::optional<std::string_view> before = std::nullopt,
                                   std::optional<std::string_view> after = std::nullopt);

// DELETE /pushrules/global/{kind}/{ruleId}. Server-default rules cannot be deleted
// (M_INVALID_PARAM); disable them instead.
Result<json::object> delete_push_rule(const json::object& overrides, std::string_view kind,
                                      std::string_view rule_id);

// PUT .../{ruleId}/enabled with `body` {"enabled": bool} (otherwise M_BAD_JSON).
Result<json::object> set_push_rule_enabled(const json::object& overrides, std::string_view kind,
                                           std::string_view rule_id, const json::object& body);

// PUT .../{ruleId}/actions with `body` {"actions": [...]} (otherwise M_BAD_JSON). Works on
// server-default rules too.
Result<json::object> set_push_rule_actions(const json::object& overrides, std::string_view kind,
                                           std::string_view rule_id, const json::object& body);

// --- Evaluation -------------------------------------------------------------------------------

// What the evaluator needs to know about the room and the user whose rules are evaluated.
struct PushContext {
  std::string user_id;
  std::string display_name;  // the user's display name in the room; empty if none
  int64_t member_count = 0;  // joined members of the room
  // Power level of a user in the room; treated as 0 for everyone when unset.
  std::function<int64_t(std::string_view)> user_power_level;
  // content.notifications of m.room.power_levels; a missing key requires level 50.
  json::object notification_power_levels;
};

// The outcome of evaluation: the tweaks a push gateway and the unread counts care about.
struct PushActions {
  bool notify = false;
  bool highlight = false;
  std::string sound;  // empty when no sound tweak was set
};

// Evaluates `effective_rules` (as returned by effective_push_rules, or just its "global" ruleset)
// against `event`: the first enabled rule whose conditions all hold decides the actions, and no
// match means no notification. An event sent by ctx.user_id itself never notifies, so callers may
// evaluate every local member without filtering out the sender. Unknown conditions never match;
// the legacy dont_notify and coalesce actions are ignored.
PushActions evaluate_push_rules(const json::object& effective_rules, const json::object& event,
                                const PushContext& ctx);

// Follows a dot-separated property path (the spec's appendix form, where "\." is a literal dot and
// "\\" a literal backslash) through `event`. Returns nullptr when any step is missing or not an
// object.
const json::value* find_event_property(const json::object& event, std::string_view path);

}  // namespace despatch
