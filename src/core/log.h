// Minimal leveled logging to stderr: one line per message, timestamped.
#pragma once

#include <string_view>

namespace despatch::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void set_level(Level level);
bool enabled(Level level);
void write(Level level, std::string_view message);
Level parse_level(std::string_view name);

}  // namespace despatch::log

#define DS_LOG(level, ...)                                                       \
  do {                                                                           \
    if (::despatch::log::enabled(::despatch::log::Level::level))                 \
      ::despatch::log::write(::despatch::log::Level::level, ::despatch::strfmt(__VA_ARGS__)); \
  } while (0)

#include <sstream>
#include <string>
namespace despatch {
// Tiny formatter: "{}" placeholders replaced in order (g++ 12 has no <format>).
inline void strfmt_impl(std::ostringstream& out, std::string_view f) { out << f; }
template <class A, class... R>
void strfmt_impl(std::ostringstream& out, std::string_view f, const A& a, const R&... rest) {
  auto p = f.find("{}");
  if (p == std::string_view::npos) {
    out << f;
    return;
  }
  out << f.substr(0, p) << a;
  strfmt_impl(out, f.substr(p + 2), rest...);
}
template <class... A>
std::string strfmt(std::string_view f, const A&... a) {
  std::ostringstream out;
  strfmt_impl(out, f, a...);
  return out.str();
}
}  // namespace despatch
