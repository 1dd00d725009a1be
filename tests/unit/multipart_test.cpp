// The multipart/mixed answers of the federation media routes.
#include "service/media/multipart.h"

#include <gtest/gtest.h>

namespace despatch::media {
namespace {

TEST(Multipart, RoundTripKeepsBinaryBytes) {
  // Sized from the literal itself (17 bytes, two of them NUL): a hand count read past its end.
  static constexpr char kHead[] = "\x89PNG\r\n\x1a\n\0\0\r\n--x\r\n";
  std::string bytes(kHead, sizeof kHead - 1);
  bytes += std::string(1000, '\xff');
  MultipartBody mp = make_multipart("image/png", "inline; filename=\"cat.png\"", bytes);
  EXPECT_EQ(mp.content_type.rfind("multipart/mixed; boundary=", 0), 0u);
  auto parsed = parse_multipart(mp.content_type, mp.body);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->bytes, bytes);
  EXPECT_EQ(parsed->content_type, "image/png");
  EXPECT_EQ(parsed->disposition, "inline; filename=\"cat.png\"");
  EXPECT_TRUE(parsed->location.empty());
  EXPECT_NE(make_multipart("a/b", "inline", "x").content_type, mp.content_type);  // fresh boundary
}

TEST(Multipart, ParsesAnotherServersShape) {
  // A quoted boundary, a preamble, lower-case header names, a Location instead of bytes.
  std::string body =
      "preamble\r\n--abc\r\ncontent-type: application/json\r\n\r\n{\"k\":1}\r\n"
      "--abc\r\nlocation: https://cdn.example/file\r\n\r\n\r\n--abc--\r\n";
  auto parsed = parse_multipart("Multipart/Mixed; charset=x; boundary=\"abc\"", body);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->location, "https://cdn.example/file");
  EXPECT_TRUE(parsed->bytes.empty());
}

TEST(Multipart, RefusesMalformedAnswers) {
  std::string good = "--b\r\nContent-Type: application/json\r\n\r\n{}\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n";
  EXPECT_TRUE(parse_multipart("multipart/mixed; boundary=b", good).ok());
  EXPECT_FALSE(parse_multipart("application/json", good).ok());
  EXPECT_FALSE(parse_multipart("multipart/mixed", good).ok());                 // no boundary
  EXPECT_FALSE(parse_multipart("multipart/mixed; boundary=other", good).ok());  // wrong boundary
  std::string one_part = "--b\r\nContent-Type: application/json\r\n\r\n{}\r\n--b--\r\n";
  EXPECT_FALSE(parse_multipart("multipart/mixed; boundary=b", one_part).ok());
  std::string not_json = "--b\r\n\r\n[1]\r\n--b\r\n\r\nhi\r\n--b--\r\n";
  EXPECT_FALSE(parse_multipart("multipart/mixed; boundary=b", not_json).ok());
  EXPECT_FALSE(parse_multipart("multipart/mixed; boundary=b", "").ok());
  auto e = parse_multipart("multipart/mixed; boundary=b", "--b");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().status, 502);
}

TEST(Multipart, DispositionFileName) {
  EXPECT_EQ(disposition_filename("inline; filename=\"cat.png\""), "cat.png");
  EXPECT_EQ(disposition_filename("attachment; filename=plain.txt"), "plain.txt");
  EXPECT_EQ(disposition_filename("attachment; filename=\"_.txt\"; filename*=utf-8''%C3%A9.txt"), "\xc3\xa9.txt");
  EXPECT_EQ(disposition_filename("attachment; filename=\"a\\\"b\""), "a\"b");
  EXPECT_EQ(disposition_filename("inline"), std::nullopt);
}

}  // namespace
}  // namespace despatch::media
