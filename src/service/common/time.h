#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>

namespace despatch {

// Milliseconds since the Unix epoch, as Matrix timestamps are.
inline int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// A Matrix timestamp as UTC text in a strftime format.
inline std::string utc_time(int64_t ms, const char* format) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  return std::string(buf, std::strftime(buf, sizeof buf, format, &tm));
}

}  // namespace despatch
