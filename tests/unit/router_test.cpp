#include "http/router.h"

#include <gtest/gtest.h>

namespace despatch::http {
namespace {

Route make(const char* method, const char* pattern) {
  return Route{method, pattern, Auth::kNone, RateClass::kNone, Body::kJson, nullptr};
}

TEST(RouterTest, MatchesLiteralAndCapturedSegments) {
  Router r;
  r.add(make("PUT", "/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}"));
  auto m = r.match("PUT", "/_matrix/client/v3/rooms/%21abc%3Aexample.org/send/m.room.message/t%2F1");
  ASSERT_NE(m.route, nullptr);
  ASSERT_EQ(m.params.size(), 3u);
  EXPECT_EQ(m.params[0], "!abc:example.org");
  EXPECT_EQ(m.params[1], "m.room.message");
  EXPECT_EQ(m.params[2], "t/1");  // an encoded slash stays inside its segment
}

TEST(RouterTest, DistinguishesUnknownPathFromWrongMethod) {
  Router r;
  r.add(make("GET", "/_matrix/client/v3/account/whoami"));
  auto wrong_method = r.match("POST", "/_matrix/client/v3/account/whoami");
  EXPECT_EQ(wrong_method.route, nullptr);
  EXPECT_TRUE(wrong_method.path_known);
  auto unknown = r.match("GET", "/_matrix/client/v3/account/whoareyou");
  EXPECT_EQ(unknown.route, nullptr);
  EXPECT_FALSE(unknown.path_known);
  EXPECT_EQ(r.methods_for("/_matrix/client/v3/account/whoami"), std::vector<std::string>{"GET"});
}

TEST(RouterTest, EmptySegmentsDoNotMatchCaptures) {
  Router r;
  r.add(make("GET", "/rooms/{roomId}/state/{eventType}/{stateKey}"));
  r.add(make("GET", "/rooms/{roomId}/state/{eventType}/"));
  auto with_key = r.match("GET", "/rooms/!r:x/state/m.room.name/k");
  ASSERT_NE(with_key.route, nullptr);
  EXPECT_EQ(with_key.route->pattern, "/rooms/{roomId}/state/{eventType}/{stateKey}");
  auto empty_key = r.match("GET", "/rooms/!r:x/state/m.room.name/");
  ASSERT_NE(empty_key.route, nullptr);
  EXPECT_EQ(empty_key.route->pattern, "/rooms/{roomId}/state/{eventType}/");
  EXPECT_EQ(r.match("GET", "/rooms//state/m.room.name/k").route, nullptr);
}

TEST(RouterTest, PercentDecoding) {
  EXPECT_EQ(percent_decode("a%20b+c", false), "a b+c");
  EXPECT_EQ(percent_decode("a%20b+c", true), "a b c");
  EXPECT_EQ(percent_decode("bad%zz%4", false), "bad%zz%4");  // malformed escapes stay literal
  EXPECT_EQ(percent_decode("%E2%9C%93", false), "\xE2\x9C\x93");
}

}  // namespace
}  // namespace despatch::http
