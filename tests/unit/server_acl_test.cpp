// Server ACLs (m.room.server_acl): the spec's glob rules and its order of evaluation.
#include "service/rooms/server_acl.h"

#include <gtest/gtest.h>

namespace despatch {
namespace {

ServerAcl acl_of(const char* content_json) { return ServerAcl::from_content(json::parse(content_json).as_object()); }

TEST(GlobMatch, StarAndQuestionMark) {
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("*", "evil.example"));
  EXPECT_TRUE(glob_match("*.example", "evil.example"));
  EXPECT_TRUE(glob_match("*.example", "a.b.example"));
  EXPECT_FALSE(glob_match("*.example", "example"));
  EXPECT_TRUE(glob_match("ev?l.example", "evil.example"));
  EXPECT_FALSE(glob_match("ev?l.example", "evl.example"));
  EXPECT_FALSE(glob_match("ev?l.example", "eviil.example"));
  EXPECT_TRUE(glob_match("e*l*.ex*", "evil.l.example"));
  EXPECT_TRUE(glob_match("**a**", "a"));
  EXPECT_FALSE(glob_match("a", "ab"));
  EXPECT_FALSE(glob_match("ab", "a"));
  EXPECT_FALSE(glob_match("", "a"));
  EXPECT_TRUE(glob_match("", ""));
}

TEST(GlobMatch, CaseInsensitiveAndLiteralOtherwise) {
  EXPECT_TRUE(glob_match("EVIL.Example", "evil.EXAMPLE"));
  // Only * and ? are special: brackets and dots are literal.
  EXPECT_FALSE(glob_match("[ab].example", "a.example"));
  EXPECT_TRUE(glob_match("[ab].example", "[ab].example"));
  EXPECT_FALSE(glob_match("evil.example", "evilXexample"));
}

TEST(GlobMatch, PathologicalPatternStaysFast) {
  std::string text(5000, 'a');
  std::string pattern;
  for (int i = 0; i < 50; ++i) pattern += "*a";
  pattern += "b";
  EXPECT_FALSE(glob_match(pattern, text));  // would take forever with naive backtracking
}

TEST(ServerAcl, SpecOrderDenyBeforeAllow) {
  ServerAcl acl = acl_of(R"({"allow": ["*"], "deny": ["*.evil.example", "evil.example"]})");
  EXPECT_TRUE(acl.allows("good.example"));
  EXPECT_FALSE(acl.allows("evil.example"));
  EXPECT_FALSE(acl.allows("sub.evil.example"));
  EXPECT_TRUE(acl.allows("notevil.example"));
}

TEST(ServerAcl, PortIsNotConsidered) {
  ServerAcl acl = acl_of(R"({"allow": ["*"], "deny": ["evil.example"]})");
  EXPECT_FALSE(acl.allows("evil.example:8448"));
  EXPECT_FALSE(acl.allows("evil.example:1234"));
  ServerAcl port_rule = acl_of(R"({"allow": ["good.example:8448"]})");
  EXPECT_FALSE(port_rule.allows("good.example:8448"));  // rules are matched against the host only
}

TEST(ServerAcl, NoAllowDeniesEveryone) {
  EXPECT_FALSE(acl_of(R"({})").allows("good.example"));
  EXPECT_FALSE(acl_of(R"({"deny": []})").allows("good.example"));
  EXPECT_FALSE(acl_of(R"({"allow": "*"})").allows("good.example"));  // not an array: empty
  EXPECT_TRUE(acl_of(R"({"allow": [1, "good.*"]})").allows("good.example"));  // non-strings ignored
}

TEST(ServerAcl, IpLiterals) {
  ServerAcl open = acl_of(R"({"allow": ["*"]})");
  EXPECT_TRUE(open.allows("127.0.0.1:8448"));
  EXPECT_TRUE(open.allows("[::1]:8448"));
  ServerAcl closed = acl_of(R"({"allow": ["*"], "allow_ip_literals": false})");
  EXPECT_FALSE(closed.allows("127.0.0.1:8448"));
  EXPECT_FALSE(closed.allows("[::1]"));
  EXPECT_TRUE(closed.allows("good.example:8448"));
  // Anything but the boolean false keeps the default, true.
  EXPECT_TRUE(acl_of(R"({"allow": ["*"], "allow_ip_literals": "false"})").allows("127.0.0.1"));
  // An IP literal may still be denied or allowed by pattern, without its port.
  ServerAcl by_pattern = acl_of(R"({"allow": ["127.0.0.?"], "deny": ["127.0.0.2"]})");
  EXPECT_TRUE(by_pattern.allows("127.0.0.1:1234"));
  EXPECT_FALSE(by_pattern.allows("127.0.0.2:1234"));
  EXPECT_FALSE(by_pattern.allows("127.0.0.10:1234"));
  EXPECT_TRUE(acl_of(R"({"allow": ["[::1]"]})").allows("[::1]:8448"));
}

TEST(ServerAcl, InvalidServerNameIsDenied) {
  ServerAcl open = acl_of(R"({"allow": ["*"]})");
  EXPECT_FALSE(open.allows(""));
  EXPECT_FALSE(open.allows("bad name"));
  EXPECT_FALSE(open.allows("host:99999"));
}

}  // namespace
}  // namespace despatch
