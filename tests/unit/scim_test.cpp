// SCIM filters and PatchOp (RFC 7644 §3.4.2.2, §3.5.2) as pure functions, and the HMAC of
// shared-secret registration.
#include "core/hmac.h"
#include "service/scim/scim_filter.h"
#include "service/scim/scim_service.h"

#include <gtest/gtest.h>

namespace despatch {
namespace {

json::object patch(json::array ops) {
  return json::object{{"schemas", json::array{kScimPatchSchema}}, {"Operations", std::move(ops)}};
}

std::string scim_type(const Error& e) {
  auto* t = e.extra.if_contains("scimType");
  return t && t->is_string() ? std::string(t->as_string()) : "";
}

TEST(ScimFilter, ParsesComparisonsJoinedByAnd) {
  auto f = parse_scim_filter("userName eq \"bjensen\" and active eq true");
  ASSERT_TRUE(f.ok()) << f.error().message;
  ASSERT_EQ(f->size(), 2u);
  EXPECT_EQ((*f)[0].attribute, "username");
  EXPECT_EQ((*f)[0].op, "eq");
  EXPECT_EQ((*f)[0].value, json::value("bjensen"));
  EXPECT_EQ((*f)[1].value, json::value(true));
  auto urn = parse_scim_filter("urn:ietf:params:scim:schemas:core:2.0:User:userName Eq \"x\"");
  ASSERT_TRUE(urn.ok());
  EXPECT_EQ((*urn)[0].attribute, "username");
  EXPECT_EQ((*urn)[0].op, "eq");
  auto pr = parse_scim_filter("title pr");
  ASSERT_TRUE(pr.ok());
  EXPECT_EQ((*pr)[0].op, "pr");
}

TEST(ScimFilter, RefusesWhatItDoesNotSupport) {
  for (const char* bad : {"userName xx \"a\"", "userName eq \"a\" or active eq true", "emails[type eq \"work\"]",
                          "(userName eq \"a\")", "userName eq \"unterminated", "", "userName eq"}) {
    auto f = parse_scim_filter(bad);
    ASSERT_FALSE(f.ok()) << bad;
    EXPECT_EQ(f.error().status, 400) << bad;
    EXPECT_EQ(scim_type(f.error()), "invalidFilter") << bad;
  }
}

TEST(ScimFilter, MatchesCaseInsensitivelyUnlessExact) {
  auto f = parse_scim_filter("userName eq \"BJensen\"");
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(scim_matches((*f)[0], json::value("bjensen"), false));
  EXPECT_FALSE(scim_matches((*f)[0], json::value("bjensen"), true));
  auto sw = parse_scim_filter("userName sw \"bj\"");
  EXPECT_TRUE(scim_matches((*sw)[0], json::value("bjensen"), false));
  auto emails = parse_scim_filter("emails co \"example.com\"");
  json::value list = json::array{json::object{{"value", "bjensen@example.com"}}};
  EXPECT_TRUE(scim_matches((*emails)[0], list, false));
  auto active = parse_scim_filter("active eq false");
  EXPECT_TRUE(scim_matches((*active)[0], json::value(false), false));
  EXPECT_FALSE(scim_matches((*active)[0], json::value(true), false));
}

TEST(ScimPatch, AddReplaceRemoveWithAndWithoutPath) {
  json::object user{{"userName", "bjensen"}, {"displayName", "Babs"}, {"active", true},
                    {"emails", json::array{json::object{{"value", "b@work.example"}, {"type", "work"}}}}};
  // §3.5.2.1 without a path: the value's attributes are added (multi-valued ones appended).
  auto r = apply_scim_patch(user, patch({json::object{
                                      {"op", "add"},
                                      {"value", json::object{{"emails", json::array{json::object{
                                                                            {"value", "babs@jensen.org"}, {"type", "home"}}}},
                                                             {"nickName", "Babs"}}}}}));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->at("emails").as_array().size(), 2u);
  EXPECT_EQ(r->at("nickName"), json::value("Babs"));
  // Replace with a path, op capitalised as Entra ID sends it, a string boolean kept as sent.
  r = apply_scim_patch(*r, patch({json::object{{"op", "Replace"}, {"path", "active"}, {"value", "False"}}}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->at("active"), json::value("False"));
  // A value path with a sub-attribute.
  r = apply_scim_patch(*r, patch({json::object{
                               {"op", "replace"}, {"path", "emails[type eq \"work\"].value"}, {"value", "new@work.example"}}}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->at("emails").as_array()[0].as_object().at("value"), json::value("new@work.example"));
  // Remove by a value filter, and a whole attribute.
  r = apply_scim_patch(*r, patch({json::object{{"op", "remove"}, {"path", "emails[type eq \"home\"]"}},
                                  json::object{{"op", "remove"}, {"path", "nickName"}}}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->at("emails").as_array().size(), 1u);
  EXPECT_FALSE(r->contains("nickName"));
  // A sub-attribute of a complex attribute.
  r = apply_scim_patch(*r, patch({json::object{{"op", "add"}, {"path", "name.givenName"}, {"value", "Barbara"}}}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->at("name").as_object().at("givenName"), json::value("Barbara"));
}

TEST(ScimPatch, GroupMembers) {
  json::object group{{"displayName", "Finance"}, {"members", json::array{json::object{{"value", "a"}}}}};
  auto r = apply_scim_patch(group, patch({json::object{
                                       {"op", "add"}, {"path", "members"},
                                       {"value", json::array{json::object{{"value", "b"}}, json::object{{"value", "a"}}}}}}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->at("members").as_array().size(), 2u) << "no duplicates";
  r = apply_scim_patch(*r, patch({json::object{{"op", "remove"}, {"path", "members[value eq \"a\"]"}}}));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->at("members").as_array().size(), 1u);
  EXPECT_EQ(r->at("members").as_array()[0].as_object().at("value"), json::value("b"));
}

TEST(ScimPatch, RefusesMalformedMessages) {
  json::object user{{"userName", "x"}};
  auto no_schema = apply_scim_patch(user, json::object{{"Operations", json::array{}}});
  ASSERT_FALSE(no_schema.ok());
  EXPECT_EQ(scim_type(no_schema.error()), "invalidSyntax");
  auto bad_op = apply_scim_patch(user, patch({json::object{{"op", "move"}, {"path", "x"}}}));
  ASSERT_FALSE(bad_op.ok());
  EXPECT_EQ(scim_type(bad_op.error()), "invalidSyntax");
  auto no_target = apply_scim_patch(user, patch({json::object{{"op", "remove"}}}));
  ASSERT_FALSE(no_target.ok());
  EXPECT_EQ(scim_type(no_target.error()), "noTarget");
  auto bad_path = apply_scim_patch(user, patch({json::object{{"op", "add"}, {"path", "emails[type eq \"w\""}, {"value", 1}}}));
  ASSERT_FALSE(bad_path.ok());
  EXPECT_EQ(scim_type(bad_path.error()), "invalidPath");
}

TEST(SharedSecretHmac, MatchesTheKnownVector) {
  // HMAC-SHA1("key", "The quick brown fox jumps over the lazy dog")
  EXPECT_EQ(hmac_sha1_hex("key", "The quick brown fox jumps over the lazy dog"),
            "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9");
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
}

}  // namespace
}  // namespace despatch
