#include "service/sync/presence.h"
#include "service/sync/sync_service.h"

#include <gtest/gtest.h>

namespace despatch {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;
constexpr int64_t kOfflineAfter = 90'000;

PresenceState online_at(int64_t ts) {
  PresenceState s;
  s.presence = "online";
  s.last_active_ts = ts;
  s.last_sync_ts = ts;
  s.currently_active = true;
  return s;
}

TEST(PresenceRulesTest, IdleOnlineUserBecomesUnavailable) {
  PresenceState s = online_at(kNow - kPresenceIdleMs);
  s.last_sync_ts = kNow;  // still syncing
  auto d = decayed(s, kNow, kOfflineAfter);
  EXPECT_EQ(d.presence, "unavailable");
  EXPECT_TRUE(d.idle);
  EXPECT_FALSE(d.currently_active);
  EXPECT_EQ(decayed(online_at(kNow - 1000), kNow, kOfflineAfter).presence, "online");
}

TEST(PresenceRulesTest, UserWhoStoppedSyncingGoesOffline) {
  auto d = decayed(online_at(kNow - kOfflineAfter), kNow, kOfflineAfter);
  EXPECT_EQ(d.presence, "offline");
  PresenceState never;  // never seen: nothing to decay
  EXPECT_EQ(decayed(never, kNow, kOfflineAfter), never);
}

TEST(PresenceRulesTest, SyncOnlineBringsOfflineUserOnlineButNotIdleOrChosenOnes) {
  auto s = after_sync(PresenceState{}, "online", kNow);
  EXPECT_EQ(s.presence, "online");
  EXPECT_EQ(s.last_active_ts, kNow);
  PresenceState idle = decayed(online_at(kNow - kPresenceIdleMs), kNow, kPresenceIdleMs * 2);
  EXPECT_EQ(after_sync(idle, "online", kNow).presence, "unavailable");
  PresenceState chosen;
  chosen.presence = "unavailable";
  chosen.chosen = true;
  EXPECT_EQ(after_sync(chosen, "online", kNow).presence, "unavailable");
  // An earlier sync's "unavailable" is undone by an "online" one.
  auto away = after_sync(online_at(kNow), "unavailable", kNow);
  EXPECT_EQ(away.presence, "unavailable");
  EXPECT_EQ(after_sync(away, "online", kNow).presence, "online");
}

TEST(PresenceRulesTest, SyncOfflineChangesNothingButTheSyncTime) {
  auto s = after_sync(PresenceState{}, "offline", kNow);
  EXPECT_EQ(s.presence, "offline");
  EXPECT_EQ(s.last_sync_ts, kNow);
}

TEST(PresenceRulesTest, ContentCarriesAgoAndStatus) {
  PresenceState s = online_at(kNow - 250);
  s.status_msg = "lunch";
  auto c = presence_content(s, kNow);
  EXPECT_EQ(c["presence"], "online");
  EXPECT_EQ(c["last_active_ago"], 250);
  EXPECT_EQ(c["status_msg"], "lunch");
  EXPECT_EQ(c["currently_active"], true);
  EXPECT_FALSE(presence_content(PresenceState{}, kNow).contains("last_active_ago"));
}

TEST(PresenceRulesTest, SyncTokenCarriesThePresenceSerial) {
  SyncToken t{5, 1, 2, 9};
  auto p = SyncToken::parse(t.str());
  ASSERT_TRUE(p);
  EXPECT_EQ(p->presence, 9u);
  auto old = SyncToken::parse("s5_1_2");  // a token from before presence
  ASSERT_TRUE(old);
  EXPECT_EQ(old->presence, 0u);
}

}  // namespace
}  // namespace despatch
