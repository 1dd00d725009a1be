#pragma once

#include <chrono>
#include <cstdint>

namespace despatch {

// Milliseconds since the Unix epoch, as Matrix timestamps are.
inline int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace despatch
