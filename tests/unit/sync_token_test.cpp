#include "service/sync/sync_service.h"
#include "service/sync/timeline.h"

#include <gtest/gtest.h>

namespace despatch {
namespace {

TEST(SyncTokenTest, RoundTripsAllParts) {
  SyncToken t{123, 45, 67};
  auto p = SyncToken::parse(t.str());
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->pos, 123);
  EXPECT_EQ(p->typing, 45u);
  EXPECT_EQ(p->to_device, 67);
}

TEST(SyncTokenTest, AcceptsShorterForms) {
  auto a = SyncToken::parse("s10");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->pos, 10);
  EXPECT_EQ(a->typing, 0u);
  auto b = SyncToken::parse("s10_3");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->typing, 3u);
}

TEST(SyncTokenTest, RejectsGarbage) {
  for (const char* bad : {"", "s", "x10", "s10_", "s10_a", "s1_2_3_4_5", "s-1", "s10__2",
                          "s99999999999999999999999"})
    EXPECT_FALSE(SyncToken::parse(bad).has_value()) << bad;
}

TEST(StreamTokenTest, MessagesTokensAcceptSyncTokens) {
  EXPECT_EQ(parse_stream_token("s42"), 42);
  EXPECT_EQ(parse_stream_token("s42_7_9"), 42);
  EXPECT_FALSE(parse_stream_token("42").has_value());
  EXPECT_EQ(stream_token(5), "s5");
}

TEST(StreamTokenTest, HistoryTokensAreNegative) {
  // History fetched from other servers sits below position 0: /messages pages into it.
  EXPECT_EQ(parse_stream_token(stream_token(-4611686018427387000)), -4611686018427387000);
  EXPECT_EQ(parse_stream_token("s-12_3"), -12);
  EXPECT_FALSE(parse_stream_token("s-").has_value());
  EXPECT_FALSE(parse_stream_token("s--1").has_value());
  EXPECT_FALSE(SyncToken::parse("s-12").has_value());  // never a point in the stream
}

}  // namespace
}  // namespace despatch
