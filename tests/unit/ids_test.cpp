#include "core/ids.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace despatch {
namespace {

TEST(IdsTest, ServerNamesFromSpec) {
  for (std::string_view ok :
       {"matrix.org", "matrix.org:8888", "1.2.3.4", "1.2.3.4:1234", "[1234:5678::abcd]",
        "[1234:5678::abcd]:5678", "localhost", "MATRIX.ORG", "my-server.example", "[::1]",
        "[::ffff:1.2.3.4]:8", "a:65535", "255.255.255.255", "0.0.0.0:1"}) {
    EXPECT_TRUE(is_valid_server_name(ok)) << ok;
  }
}

TEST(IdsTest, InvalidServerNames) {
  for (std::string_view bad : {"",
                               ":8448",
                               "matrix.org:",
                               "matrix.org:123456",
                               "matrix.org:80a",
                               "matrix.org:-1",
                               "under_score.org",
                               "exa mple.org",
                               "ex/ample",
                               "256.1.1.1",
                               "1.2.3",
                               "1.2.3.4.5",
                               "1.2.3.4:",
                               "[1234:5678::abcd",
                               "[1234:5678::abcd]x",
                               "[1234:5678::abcd]:",
                               "[]",
                               "[zz::1]",
                               "[1:2:3:4:5:6:7:8:9]",
                               "1234:5678::abcd",
                               "héllo.org",
                               "a:b:c"}) {
    EXPECT_FALSE(is_valid_server_name(bad)) << bad;
  }
  EXPECT_TRUE(is_valid_server_name(std::string(255, 'a')));
  EXPECT_FALSE(is_valid_server_name(std::string(256, 'a')));
}

TEST(IdsTest, StrictLocalparts) {
  for (std::string_view ok : {"alice", "a", "bob.smith", "x_y=z-1/2+3", "0123456789"}) {
    EXPECT_TRUE(is_valid_localpart(ok)) << ok;
  }
  for (std::string_view bad : {"", "Alice", "al ice", "al:ice", "al@ice", "émile", "a*b", "a#b"}) {
    EXPECT_FALSE(is_valid_localpart(bad)) << bad;
  }
}

TEST(IdsTest, UserIdsAreLenientForHistoricalLocalparts) {
  for (std::string_view ok : {"@alice:matrix.org", "@Alice:matrix.org", "@a b!:example.org:8448",
                              "@émile:[::1]", "@:example.org", "@alice:1.2.3.4"}) {
    EXPECT_TRUE(is_valid_user_id(ok)) << ok;
  }
  for (std::string_view bad : {"", "@", "alice:matrix.org", "@alice", "@alice:", "#alice:a.org",
                               "@alice:bad_server", "@a\xff:example.org"}) {
    EXPECT_FALSE(is_valid_user_id(bad)) << bad;
  }
  EXPECT_FALSE(is_valid_user_id(std::string("@a\0b:example.org", 16)));
  // 255 bytes total is the limit.
  std::string at_limit = "@" + std::string(255 - 1 - 4, 'a') + ":a.b";
  ASSERT_EQ(at_limit.size(), 255u);
  EXPECT_TRUE(is_valid_user_id(at_limit));
  EXPECT_FALSE(is_valid_user_id("@a" + at_limit.substr(1)));
}

TEST(IdsTest, CompliantUserIdsNeedStrictLocalparts) {
  EXPECT_TRUE(is_compliant_user_id("@alice:matrix.org"));
  EXPECT_FALSE(is_compliant_user_id("@Alice:matrix.org"));
  EXPECT_FALSE(is_compliant_user_id("@:matrix.org"));
  EXPECT_FALSE(is_compliant_user_id("@alice:bad_server"));
}

TEST(IdsTest, RoomIdsAndAliases) {
  EXPECT_TRUE(is_valid_room_id("!abcDEF123:matrix.org"));
  EXPECT_TRUE(is_valid_room_id("!x:domain:8448"));
  EXPECT_FALSE(is_valid_room_id("!:matrix.org"));
  EXPECT_FALSE(is_valid_room_id("!abc"));
  EXPECT_FALSE(is_valid_room_id("#abc:matrix.org"));
  EXPECT_FALSE(is_valid_room_id("!abc:"));
  EXPECT_FALSE(is_valid_room_id("!" + std::string(250, 'a') + ":a.org"));

  EXPECT_TRUE(is_valid_room_alias("#room:matrix.org"));
  EXPECT_TRUE(is_valid_room_alias("#Räume & more:example.org"));
  EXPECT_FALSE(is_valid_room_alias("#:matrix.org"));
  EXPECT_FALSE(is_valid_room_alias("#room"));
  EXPECT_FALSE(is_valid_room_alias("!room:matrix.org"));
  EXPECT_FALSE(is_valid_room_alias("#room:exa mple.org"));
}

TEST(IdsTest, EventIds) {
  EXPECT_TRUE(is_valid_event_id("$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg"));
  EXPECT_TRUE(is_valid_event_id("$0:domain"));
  EXPECT_TRUE(is_valid_event_id("$abc:matrix.org:8448"));
  EXPECT_TRUE(is_valid_event_id("$Rqnc+F/dvnEYJTyHqxiKxU2bZ1CI92+kuZq3a5lr5Zg"));    // v3: std alphabet
  EXPECT_FALSE(is_valid_event_id("$Rqnc+F/dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg"));   // mixed alphabets
  EXPECT_FALSE(is_valid_event_id("$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Z"));    // 42 chars
  EXPECT_FALSE(is_valid_event_id("$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zgg"));  // 44 chars
  EXPECT_FALSE(is_valid_event_id("Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg"));
  EXPECT_FALSE(is_valid_event_id("$"));
  EXPECT_FALSE(is_valid_event_id("$:domain"));
  EXPECT_FALSE(is_valid_event_id("$abc:bad_domain"));
}

TEST(IdsTest, SplittingIds) {
  EXPECT_EQ(server_name_of("@alice:matrix.org"), "matrix.org");
  EXPECT_EQ(server_name_of("!room:[::1]:8448"), "[::1]:8448");
  EXPECT_EQ(server_name_of("$abcdef"), "");
  EXPECT_EQ(localpart_of("@alice:matrix.org"), "alice");
  EXPECT_EQ(localpart_of("@:matrix.org"), "");
  EXPECT_EQ(localpart_of("@alice"), "alice");
  EXPECT_EQ(localpart_of(""), "");
}

TEST(IdsTest, RandomStringsAreLettersAndDiffer) {
  std::string a = random_string(32);
  ASSERT_EQ(a.size(), 32u);
  for (char c : a) EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) << c;
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) seen.insert(random_string(16));
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_EQ(random_string(0), "");
}

TEST(IdsTest, MakeRoomIdIsValidAndOnServer) {
  std::string id = make_room_id("example.org:8448");
  EXPECT_TRUE(is_valid_room_id(id)) << id;
  EXPECT_EQ(server_name_of(id), "example.org:8448");
  EXPECT_EQ(id.size(), 1 + 18 + 1 + 16u);
  EXPECT_NE(make_room_id("example.org"), make_room_id("example.org"));
}

}  // namespace
}  // namespace despatch
