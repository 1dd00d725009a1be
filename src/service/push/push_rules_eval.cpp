// Evaluating push rules against an event: conditions, globbing and actions.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "service/push/push_rules.h"

namespace despatch {
namespace {

constexpr int64_t kDefaultNotificationLevel = 50;

// --- Text handling ------------------------------------------------------------------------
// Globs and word boundaries work on code points so that '?' matches one character, not one
// byte. Case folding covers ASCII, Latin-1, Greek and Cyrillic, which the spec leaves to us.

std::u32string decode_utf8(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    int len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) {  // invalid byte: keep it as its own character
      out.push_back(b);
      ++i;
      continue;
    }
    char32_t cp = len == 1 ? b : b & (0xFF >> (len + 1));
    for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(cp);
    i += len;
  }
  return out;
}

char32_t fold_case(char32_t c) {
  if (c >= U'A' && c <= U'Z') return c + 32;
  if (c < 0xC0) return c;
  if (c <= 0xDE && c != 0xD7) return c + 32;                  // Latin-1 capitals
  if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 32;  // Greek capitals
  if (c >= 0x410 && c <= 0x42F) return c + 32;                // Cyrillic А-Я
  if (c >= 0x400 && c <= 0x40F) return c + 80;                // Cyrillic Ѐ-Џ
  return c;
}

std::u32string folded(std::string_view s) {
  std::u32string out = decode_utf8(s);
  for (char32_t& c : out) c = fold_case(c);
  return out;
}

bool is_word_char(char32_t c) {
  return (c >= U'a' && c <= U'z') || (c >= U'A' && c <= U'Z') || (c >= U'0' && c <= U'9') ||
         c == U'_';
}

// A substring [start, end) of `text` is a whole word (run) if nothing word-like touches it.
bool starts_word(const std::u32string& text, std::size_t i) {
  return i == 0 || !is_word_char(text[i - 1]);
}
bool ends_word(const std::u32string& text, std::size_t i) {
  return i == text.size() || !is_word_char(text[i]);
}

// Glob match ('*' any run, '?' one character) of already case-folded strings, simulated as an
// NFA over pattern positions so long bodies stay linear in their length. With `word_bounded`,
// the pattern may match any substring that starts and ends at a word boundary; otherwise it
// must match the whole text.
bool glob_match(const std::u32string& pattern, const std::u32string& text, bool word_bounded) {
  const std::size_t m = pattern.size();
  std::vector<char> active(m + 1, 0);
  std::vector<char> next(m + 1, 0);
  auto close_over_stars = [&](std::vector<char>& states) {
    for (std::size_t j = 0; j < m; ++j) {
      if (states[j] && pattern[j] == U'*') states[j + 1] = 1;
    }
  };
  for (std::size_t i = 0;; ++i) {
    if (i == 0 || (word_bounded && starts_word(text, i))) {
      active[0] = 1;
      close_over_stars(active);
    }
    if (active[m] && (word_bounded ? ends_word(text, i) : i == text.size())) return true;
    if (i == text.size()) return false;
    std::fill(next.begin(), next.end(), 0);
    bool any = false;
    for (std::size_t j = 0; j < m; ++j) {
      if (!active[j]) continue;
      if (pattern[j] == U'*') {
        next[j] = 1;
      } else if (pattern[j] == U'?' || pattern[j] == text[i]) {
        next[j + 1] = 1;
      } else {
        continue;
      }
      any = true;
    }
    close_over_stars(next);
    active.swap(next);
    if (!any && !word_bounded) return false;
  }
}

// Whole-word, case-insensitive occurrence of `needle` (taken literally) in `haystack`.
bool contains_word(std::string_view haystack, std::string_view needle) {
  std::u32string text = folded(haystack);
  std::u32string word = folded(needle);
  if (word.empty() || word.size() > text.size()) return false;
  for (std::size_t i = 0; i + word.size() <= text.size(); ++i) {
    if (starts_word(text, i) && ends_word(text, i + word.size()) &&
        text.compare(i, word.size(), word) == 0) {
      return true;
    }
  }
  return false;
}

// --- Conditions ---------------------------------------------------------------------------

std::string_view string_field(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
}

bool has_string(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string();
}

bool is_integer(const json::value& v) { return v.is_int64() || v.is_uint64(); }

// Exact equality for the non-compound values event_property_* support; anything else
// (floats, arrays, objects) never matches.
bool scalar_equals(const json::value& a, const json::value& b) {
  if (a.is_string() && b.is_string()) return a.as_string() == b.as_string();
  if (a.is_bool() && b.is_bool()) return a.as_bool() == b.as_bool();
  if (a.is_null() && b.is_null()) return true;
  if (is_integer(a) && is_integer(b)) {
    if (a.is_int64() && b.is_int64()) return a.as_int64() == b.as_int64();
    if (a.is_uint64() && b.is_uint64()) return a.as_uint64() == b.as_uint64();
    const json::value& s = a.is_int64() ? a : b;  // one signed, one unsigned
    const json::value& u = a.is_int64() ? b : a;
    return s.as_int64() >= 0 && static_cast<uint64_t>(s.as_int64()) == u.as_uint64();
  }
  return false;
}

bool event_match(const json::object& event, const json::object& cond) {
  if (!has_string(cond, "key") || !has_string(cond, "pattern")) return false;
  std::string_view key = string_field(cond, "key");
  const json::value* value = find_event_property(event, key);
  if (!value || !value->is_string()) return false;
  return glob_match(folded(string_field(cond, "pattern")), folded(value->as_string()),
                    /*word_bounded=*/key == "content.body");
}

bool event_property_is(const json::object& event, const json::object& cond) {
  const json::value* expected = cond.if_contains("value");
  if (!has_string(cond, "key") || !expected) return false;
  const json::value* value = find_event_property(event, string_field(cond, "key"));
  return value && scalar_equals(*value, *expected);
}

bool event_property_contains(const json::object& event, const json::object& cond) {
  const json::value* expected = cond.if_contains("value");
  if (!has_string(cond, "key") || !expected) return false;
  const json::value* value = find_event_property(event, string_field(cond, "key"));
  if (!value || !value->is_array()) return false;
  for (const json::value& item : value->as_array()) {
    if (scalar_equals(item, *expected)) return true;
  }
  return false;
}

bool contains_display_name(const json::object& event, const PushContext& ctx) {
  if (ctx.display_name.empty()) return false;
  const json::value* body = find_event_property(event, "content.body");
  return body && body->is_string() && contains_word(body->as_string(), ctx.display_name);
}

// Parses "[==|<|>|<=|>=]N" and compares; a malformed "is" never matches.
bool room_member_count(const json::object& cond, int64_t member_count) {
  std::string_view is = string_field(cond, "is");
  std::string_view op = "==";
  for (std::string_view candidate : {"==", "<=", ">=", "<", ">"}) {
    if (is.substr(0, candidate.size()) == candidate) {
      op = candidate;
      is.remove_prefix(candidate.size());
      break;
    }
  }
  if (is.empty() || is.size() > 18) return false;
  int64_t n = 0;
  for (char c : is) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  if (op == "==") return member_count == n;
  if (op == "<") return member_count < n;
  if (op == ">") return member_count > n;
  if (op == "<=") return member_count <= n;
  return member_count >= n;
}

// Power levels may be integers or, in old rooms, decimal strings.
std::optional<int64_t> power_value(const json::value& v) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64()) return static_cast<int64_t>(v.as_uint64());
  if (!v.is_string() || v.as_string().empty() || v.as_string().size() > 18) return std::nullopt;
  std::string_view s = v.as_string();
  bool negative = s.front() == '-';
  if (negative) s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  int64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return negative ? -n : n;
}

bool sender_notification_permission(const json::object& event, const json::object& cond,
                                    const PushContext& ctx) {
  if (!has_string(cond, "key")) return false;
  int64_t required = kDefaultNotificationLevel;
  if (const json::value* v = ctx.notification_power_levels.if_contains(string_field(cond, "key"))) {
    if (auto level = power_value(*v)) required = *level;
  }
  int64_t sender_level =
      ctx.user_power_level ? ctx.user_power_level(string_field(event, "sender")) : 0;
  return sender_level >= required;
}

bool condition_holds(const json::value& condition, const json::object& event,
                     const PushContext& ctx) {
  if (!condition.is_object()) return false;
  const json::object& cond = condition.as_object();
  std::string_view kind = string_field(cond, "kind");
  if (kind == "event_match") return event_match(event, cond);
  if (kind == "event_property_is") return event_property_is(event, cond);
  if (kind == "event_property_contains") return event_property_contains(event, cond);
  if (kind == "contains_display_name") return contains_display_name(event, ctx);
  if (kind == "room_member_count") return room_member_count(cond, ctx.member_count);
  if (kind == "sender_notification_permission") {
    return sender_notification_permission(event, cond, ctx);
  }
  return false;  // unknown conditions effectively disable the rule
}

// Room, sender and content rules carry their condition implicitly in rule_id or pattern.
bool rule_matches(std::string_view kind, const json::object& rule, const json::object& event,
                  const PushContext& ctx) {
  if (kind == "room") return string_field(event, "room_id") == string_field(rule, "rule_id");
  if (kind == "sender") return string_field(event, "sender") == string_field(rule, "rule_id");
  if (kind == "content") {
    if (!has_string(rule, "pattern")) return false;
    const json::value* body = find_event_property(event, "content.body");
    return body && body->is_string() &&
           glob_match(folded(string_field(rule, "pattern")), folded(body->as_string()),
                      /*word_bounded=*/true);
  }
  const json::value* conditions = rule.if_contains("conditions");
  if (!conditions) return true;
  if (!conditions->is_array()) return false;
  for (const json::value& c : conditions->as_array()) {
    if (!condition_holds(c, event, ctx)) return false;
  }
  return true;
}

PushActions to_push_actions(const json::object& rule) {
  PushActions out;
  const json::value* actions = rule.if_contains("actions");
  if (!actions || !actions->is_array()) return out;
  for (const json::value& action : actions->as_array()) {
    if (action.is_string()) {
      if (action.as_string() == "notify") out.notify = true;
      continue;  // dont_notify, coalesce and unknown strings do nothing
    }
    if (!action.is_object()) continue;
    const json::object& tweak = action.as_object();
    std::string_view name = string_field(tweak, "set_tweak");
    const json::value* value = tweak.if_contains("value");
    if (name == "highlight") {
      out.highlight = !value || (value->is_bool() && value->as_bool());
    } else if (name == "sound" && value && value->is_string()) {
      out.sound = std::string(value->as_string());
    }
  }
  return out;
}

}  // namespace

const json::value* find_event_property(const json::object& event, std::string_view path) {
  const json::object* current = &event;
  const json::value* found = nullptr;
  std::string segment;
  for (std::size_t i = 0;; ++i) {
    if (i == path.size() || path[i] == '.') {
      if (!current) return nullptr;
      found = current->if_contains(segment);
      if (!found) return nullptr;
      if (i == path.size()) return found;
      current = found->is_object() ? &found->as_object() : nullptr;
      segment.clear();
    } else if (path[i] == '\\' && i + 1 < path.size() &&
               (path[i + 1] == '.' || path[i + 1] == '\\')) {
      segment.push_back(path[++i]);
    } else {
      segment.push_back(path[i]);  // other escapes stay literal, as the appendix says
    }
  }
}

PushActions evaluate_push_rules(const json::object& effective_rules, const json::object& event,
                                const PushContext& ctx) {
  // The spec forbids notifying users about their own events, whatever their rules say.
  if (!ctx.user_id.empty() && string_field(event, "sender") == ctx.user_id) return {};
  const json::object* ruleset = &effective_rules;
  if (const json::value* global = effective_rules.if_contains("global");
      global && global->is_object()) {
    ruleset = &global->as_object();
  }
  for (const char* kind : kPushRuleKinds) {
    const json::value* rules = ruleset->if_contains(kind);
    if (!rules || !rules->is_array()) continue;
    for (const json::value& r : rules->as_array()) {
      if (!r.is_object()) continue;
      const json::object& rule = r.as_object();
      const json::value* enabled = rule.if_contains("enabled");
      if (enabled && !(enabled->is_bool() && enabled->as_bool())) continue;
      if (rule_matches(kind, rule, event, ctx)) return to_push_actions(rule);
    }
  }
  return {};
}

}  // namespace despatch
