#include "core/canonical_json.h"

#include <gtest/gtest.h>

#include <string>

namespace despatch {
namespace {

std::string canon(std::string_view text) {
  auto v = parse_strict_json(text);
  EXPECT_TRUE(v.ok()) << text;
  return v.ok() ? canonical_json(*v) : std::string();
}

// Every example from appendices.md "Canonical JSON > Examples", byte for byte.
TEST(CanonicalJsonTest, SpecExamples) {
  EXPECT_EQ(canon("{}"), "{}");
  EXPECT_EQ(canon(R"({
    "one": 1,
    "two": "Two"
})"),
            R"({"one":1,"two":"Two"})");
  EXPECT_EQ(canon(R"({
    "b": "2",
    "a": "1"
})"),
            R"({"a":"1","b":"2"})");
  EXPECT_EQ(canon(R"({"b":"2","a":"1"})"), R"({"a":"1","b":"2"})");
  EXPECT_EQ(canon(R"({
    "auth": {
        "success": true,
        "mxid": "@john.doe:example.com",
        "profile": {
            "display_name": "John Doe",
            "three_pids": [
                {
                    "medium": "email",
                    "address": "john.doe@example.org"
                },
                {
                    "medium": "msisdn",
                    "address": "123456789"
                }
            ]
        }
    }
})"),
            R"({"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe",)"
            R"("three_pids":[{"address":"john.doe@example.org","medium":"email"},)"
            R"({"address":"123456789","medium":"msisdn"}]},"success":true}})");
  EXPECT_EQ(canon(R"({
    "a": "日本語"
})"),
            R"({"a":"日本語"})");
  EXPECT_EQ(canon(R"({
    "本": 2,
    "日": 1
})"),
            R"({"日":1,"本":2})");
  EXPECT_EQ(canon(R"({
    "a": "\u65E5"
})"),
            R"({"a":"日"})");
  EXPECT_EQ(canon(R"({
    "a": null
})"),
            R"({"a":null})");
  EXPECT_EQ(canon(R"({
    "a": -0,
    "b": 1e10
})"),
            R"({"a":0,"b":10000000000})");
}

TEST(CanonicalJsonTest, SortsKeysByCodePointNotUtf16) {
  // U+FF61 sorts before U+1F600 by code point but after it in UTF-16 code units.
  EXPECT_EQ(canon("{\"\\ud83d\\ude00\":1,\"\\uff61\":2,\"z\":3,\"B\":4}"),
            "{\"B\":4,\"z\":3,\"\xef\xbd\xa1\":2,\"\xf0\x9f\x98\x80\":1}");
}

TEST(CanonicalJsonTest, EscapesOnlyWhatTheGrammarRequires) {
  json::value v = json::object{{"s", "quote\" back\\ \b\f\n\r\t \x01\x1f\x7f / \xc3\xa9"}};
  EXPECT_EQ(canonical_json(v),
            "{\"s\":\"quote\\\" back\\\\ \\b\\f\\n\\r\\t \\u0001\\u001f\x7f / \xc3\xa9\"}");
  EXPECT_EQ(canonical_json(json::value(std::string(1, '\0'))), "\"\\u0000\"");
  EXPECT_EQ(canonical_json(json::value("\x0b\x1a")), "\"\\u000b\\u001a\"");
}

TEST(CanonicalJsonTest, ScalarsArraysAndNesting) {
  EXPECT_EQ(canon("[1, -2, true, false, null, \"x\", [], {}]"),
            R"([1,-2,true,false,null,"x",[],{}])");
  EXPECT_EQ(canon(R"({"b":[{"d":1,"c":2}],"a":{"y":{},"x":[]}})"),
            R"({"a":{"x":[],"y":{}},"b":[{"c":2,"d":1}]})");
  EXPECT_EQ(canon("9007199254740991"), "9007199254740991");
  EXPECT_EQ(canon("-9007199254740991"), "-9007199254740991");
  EXPECT_EQ(canon("1.0"), "1");
  EXPECT_EQ(canon("-0.0"), "0");
}

TEST(CanonicalJsonTest, ParseStrictJsonRejectsInvalidJson) {
  for (std::string_view bad : {"", "{", "{\"a\":1,}", "[1,]", "{'a':1}", "// c\n{}", "{\"a\":1}x",
                               "NaN", "{\"a\":\"\xff\"}"}) {
    auto r = parse_strict_json(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().status, 400);
    EXPECT_EQ(r.error().errcode, "M_NOT_JSON");
  }
  std::string deep(200, '[');
  deep += std::string(200, ']');
  EXPECT_FALSE(parse_strict_json(deep).ok());
  std::string ok_depth(100, '[');
  ok_depth += std::string(100, ']');
  EXPECT_TRUE(parse_strict_json(ok_depth).ok());
}

TEST(CanonicalJsonTest, CheckCanonicalValuesAcceptsSafeIntegers) {
  EXPECT_TRUE(
      check_canonical_values(*parse_strict_json(R"({"a":[9007199254740991,-9007199254740991,0],)"
                                                R"("b":{"c":"1.5","d":null,"e":true}})"))
          .ok());
}

TEST(CanonicalJsonTest, CheckCanonicalValuesRejectsFloatsAndBigIntegers) {
  for (std::string_view bad :
       {R"({"a":1.5})", R"({"a":1.0})", R"({"a":1e10})", R"({"a":{"b":[0,9007199254740992]}})",
        R"([-9007199254740992])", R"([18446744073709551615])", R"([9223372036854775808])"}) {
    auto r = check_canonical_values(*parse_strict_json(bad));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().status, 400);
    EXPECT_EQ(r.error().errcode, "M_BAD_JSON");
  }
}

}  // namespace
}  // namespace despatch
