#include "core/canonical_json.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace despatch {
namespace {

// Deeper nesting than this is treated as abuse; real events stay far below it.
constexpr size_t kMaxParseDepth = 128;

void append_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out += kHex[u >> 4];
          out += kHex[u & 0xf];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void append_double(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  // Exact integers in the safe range are printed as integers; this also folds -0.0 to 0.
  if (std::trunc(d) == d && std::fabs(d) <= static_cast<double>(kMaxCanonicalInt)) {
    out += std::to_string(static_cast<int64_t>(d));
    return;
  }
  out += json::serialize(json::value(d));
}

void append_value(std::string& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      out += "null";
      break;
    case json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      break;
    case json::kind::int64:
      out += std::to_string(v.get_int64());
      break;
    case json::kind::uint64:
      out += std::to_string(v.get_uint64());
      break;
    case json::kind::double_:
      append_double(out, v.get_double());
      break;
    case json::kind::string:
      append_string(out, v.get_string());
      break;
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& item : v.get_array()) {
        if (!first) out += ',';
        first = false;
        append_value(out, item);
      }
      out += ']';
      break;
    }
    case json::kind::object: {
      const auto& obj = v.get_object();
      // std::string_view compares as unsigned bytes, and UTF-8 byte order equals code point
      // order, which is what the spec sorts by.
      std::vector<const json::key_value_pair*> members;
      members.reserve(obj.size());
      for (const auto& kv : obj) members.push_back(&kv);
      std::sort(members.begin(), members.end(), [](const auto* a, const auto* b) {
        return std::string_view(a->key()) < std::string_view(b->key());
      });
      out += '{';
      bool first = true;
      for (const auto* kv : members) {
        if (!first) out += ',';
        first = false;
        append_string(out, kv->key());
        out += ':';
        append_value(out, kv->value());
      }
      out += '}';
      break;
    }
  }
}

}  // namespace

std::string canonical_json(const json::value& v) {
  std::string out;
  append_value(out, v);
  return out;
}

Result<json::value> parse_strict_json(std::string_view text) {
  json::parse_options opts;
  opts.max_depth = kMaxParseDepth;
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec, {}, opts);
  if (ec) return Error::not_json("Content not JSON: " + ec.message());
  return v;
}

Status check_canonical_values(const json::value& v) {
  switch (v.kind()) {
    case json::kind::int64: {
      int64_t n = v.get_int64();
      if (n > kMaxCanonicalInt || n < -kMaxCanonicalInt) {
        return Error::bad_json("Integer out of canonical JSON range: " + std::to_string(n));
      }
      return ok_status();
    }
    case json::kind::uint64:
      // The parser only produces uint64 for values above INT64_MAX, so always out of range.
      if (v.get_uint64() > static_cast<uint64_t>(kMaxCanonicalInt)) {
        return Error::bad_json("Integer out of canonical JSON range");
      }
      return ok_status();
    case json::kind::double_:
      return Error::bad_json("Floats are not allowed in canonical JSON");
    case json::kind::array:
      for (const auto& item : v.get_array()) DS_TRY(check_canonical_values(item));
      return ok_status();
    case json::kind::object:
      for (const auto& kv : v.get_object()) DS_TRY(check_canonical_values(kv.value()));
      return ok_status();
    default:
      return ok_status();
  }
}

Status check_json_numbers(const json::value& v) {
  switch (v.kind()) {
    case json::kind::int64:
    case json::kind::uint64:
      return check_canonical_values(v);
    case json::kind::double_: {
      double d = v.get_double();
      if (!std::isfinite(d) || std::fabs(d) > static_cast<double>(kMaxCanonicalInt))
        return Error::bad_json("Number out of range");
      return ok_status();
    }
    case json::kind::array:
      for (const auto& item : v.get_array()) DS_TRY(check_json_numbers(item));
      return ok_status();
    case json::kind::object:
      for (const auto& kv : v.get_object()) DS_TRY(check_json_numbers(kv.value()));
      return ok_status();
    default:
      return ok_status();
  }
}

}  // namespace despatch
