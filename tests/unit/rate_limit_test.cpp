#include "http/rate_limit.h"

#include <gtest/gtest.h>

#include <thread>

namespace despatch::http {
namespace {

TEST(RateLimiterTest, AllowsBurstThenRefusesWithWait) {
  RateLimiter limiter(/*per_second=*/2, /*burst=*/3);
  EXPECT_EQ(limiter.take("a"), 0);
  EXPECT_EQ(limiter.take("a"), 0);
  EXPECT_EQ(limiter.take("a"), 0);
  int64_t wait = limiter.take("a");
  EXPECT_GT(wait, 0);
  EXPECT_LE(wait, 500);  // one token at 2/s takes at most half a second
  EXPECT_EQ(limiter.take("b"), 0) << "buckets are per key";
}

TEST(RateLimiterTest, RefillsOverTime) {
  RateLimiter limiter(/*per_second=*/100, /*burst=*/1);
  EXPECT_EQ(limiter.take("k"), 0);
  EXPECT_GT(limiter.take("k"), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(limiter.take("k"), 0);
}

}  // namespace
}  // namespace despatch::http
