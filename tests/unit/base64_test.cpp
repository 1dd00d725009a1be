#include "core/base64.h"

#include <gtest/gtest.h>

#include <string>

namespace despatch {
namespace {

TEST(Base64Test, EncodesSpecExamplesUnpadded) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg");
  EXPECT_EQ(base64_encode("fo"), "Zm8");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64Test, StandardAndUrlSafeAlphabetsDifferOnlyInLastTwoSymbols) {
  const std::string bytes("\xfb\xff\xbf", 3);  // encodes to 62,63,62,63
  EXPECT_EQ(base64_encode(bytes), "+/+/");
  EXPECT_EQ(base64url_encode(bytes), "-_-_");
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64url_encode(std::string("\xff", 1)), "_w");
}

TEST(Base64Test, EncodesBinaryIncludingNulBytes) {
  EXPECT_EQ(base64_encode(std::string("\0\0\0", 3)), "AAAA");
  EXPECT_EQ(base64_encode(std::string("\0", 1)), "AA");
}

TEST(Base64Test, DecodesPaddedAndUnpadded) {
  EXPECT_EQ(base64_decode("Zg"), "f");
  EXPECT_EQ(base64_decode("Zg=="), "f");
  EXPECT_EQ(base64_decode("Zm8"), "fo");
  EXPECT_EQ(base64_decode("Zm8="), "fo");
  EXPECT_EQ(base64_decode("Zm9vYmFy"), "foobar");
  EXPECT_EQ(base64_decode(""), "");
}

TEST(Base64Test, DecodesBothAlphabets) {
  const std::string bytes("\xfb\xff\xbf", 3);
  EXPECT_EQ(base64_decode("+/+/"), bytes);
  EXPECT_EQ(base64_decode("-_-_"), bytes);
}

TEST(Base64Test, RejectsInvalidInput) {
  EXPECT_FALSE(base64_decode("Zm9v!"));
  EXPECT_FALSE(base64_decode("Zm 9v"));
  EXPECT_FALSE(base64_decode("Zm9v\n"));
  EXPECT_FALSE(base64_decode("Z"));      // 6 bits cannot make a byte
  EXPECT_FALSE(base64_decode("Zm9vY"));  // same, after a full group
  EXPECT_FALSE(base64_decode("Zg="));    // padding that does not complete a group
  EXPECT_FALSE(base64_decode("Zm=8"));   // padding in the middle
  EXPECT_FALSE(base64_decode("Z==="));
  EXPECT_FALSE(base64_decode("===="));
  EXPECT_FALSE(base64_decode(std::string("Zm\0v", 4)));
}

TEST(Base64Test, RoundTripsEveryLengthAndByteValue) {
  std::string bytes;
  for (int i = 0; i < 300; ++i) {
    bytes += static_cast<char>((i * 37 + 11) & 0xff);
    auto std_round = base64_decode(base64_encode(bytes));
    auto url_round = base64_decode(base64url_encode(bytes));
    ASSERT_TRUE(std_round) << i;
    ASSERT_TRUE(url_round) << i;
    EXPECT_EQ(*std_round, bytes);
    EXPECT_EQ(*url_round, bytes);
    EXPECT_EQ(base64_encode(bytes).find('='), std::string::npos);
  }
}

}  // namespace
}  // namespace despatch
