// Exports open, hash and write tens of thousands of records and files: the work is split over
// the machine's cores in contiguous slices. Not for coroutine code (it blocks until done).
#pragma once

#include "core/result.h"

#include <algorithm>
#include <functional>
#include <thread>
#include <vector>

namespace despatch {

// Runs fn(i) for every i in [0, n); the error of the lowest i that failed, if any.
inline Status parallel_for(size_t n, const std::function<Status(size_t)>& fn) {
  size_t threads = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8);
  if (n < 256) threads = 1;
  std::vector<std::optional<std::pair<size_t, Error>>> failed(threads);
  auto slice = [&](size_t t) {
    for (size_t i = n * t / threads, end = n * (t + 1) / threads; i < end; ++i) {
      Status st = fn(i);
      if (!st.ok()) {
        failed[t].emplace(i, st.error());
        return;
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(slice, t);
  slice(0);
  for (auto& th : pool) th.join();
  for (auto& f : failed)
    if (f) return f->second;  // slices are in index order, so the first found is the lowest
  return ok_status();
}

}  // namespace despatch
