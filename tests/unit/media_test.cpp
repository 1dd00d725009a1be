#include "core/config.h"
#include "service/media/clamd.h"
#include "service/media/file_store.h"
#include "service/media/media_types.h"
#include "service/media/sniff.h"
#include "storage/database.h"
#include "storage/media_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

namespace despatch::media {
namespace {

TEST(MediaIds, OnlyTheSpecAlphabet) {
  EXPECT_TRUE(is_valid_media_id("AQwafuaFswefuhsfAFAgsw"));
  EXPECT_TRUE(is_valid_media_id("a_b-C9"));
  for (const char* bad : {"", "..", "../etc/passwd", "a/b", "a%2Fb", "a.b", "a b", "\xc3\xa9", "a\\b"})
    EXPECT_FALSE(is_valid_media_id(bad)) << bad;
  EXPECT_FALSE(is_valid_media_id(std::string(256, 'a')));
  std::string id = make_media_id();
  EXPECT_EQ(id.size(), 24u);
  EXPECT_TRUE(is_valid_media_id(id));
  EXPECT_NE(id, make_media_id());
}

TEST(MediaTypes, ContentTypeHeaderIsParsedStrictly) {
  EXPECT_EQ(base_content_type("image/PNG"), "image/png");
  EXPECT_EQ(base_content_type(" audio/ogg; codecs=opus"), "audio/ogg");
  EXPECT_EQ(base_content_type("image/png\r\nSet-Cookie: x"), std::nullopt);
  EXPECT_EQ(base_content_type("image"), std::nullopt);
  EXPECT_EQ(base_content_type("/png"), std::nullopt);
  EXPECT_EQ(base_content_type("image/p\"ng"), std::nullopt);
  EXPECT_EQ(base_content_type(""), std::nullopt);
}

TEST(MediaTypes, AllowListPatterns) {
  std::vector<std::string> allowed = {"image/png", "audio/*", "application/vnd.oasis.opendocument.*"};
  EXPECT_TRUE(type_allowed("image/png", allowed));
  EXPECT_TRUE(type_allowed("audio/ogg", allowed));
  EXPECT_TRUE(type_allowed("application/vnd.oasis.opendocument.text", allowed));
  EXPECT_FALSE(type_allowed("image/jpeg", allowed));
  EXPECT_FALSE(type_allowed("audiox/ogg", allowed));
  EXPECT_FALSE(type_allowed("text/html", allowed));
}

TEST(MediaTypes, ServedTypeTrustsTheClaimOnlyWhenTheBytesAgree) {
  std::vector<std::string> allowed = {"image/*", "audio/*", "text/plain", "text/csv", "application/ogg",
                                      "application/octet-stream", "text/html"};
  EXPECT_EQ(served_content_type("image/png", "image/png", allowed), "image/png");
  EXPECT_EQ(served_content_type(std::nullopt, "image/png", allowed), "image/png");
  EXPECT_EQ(served_content_type("image/jpeg", "image/png", allowed), "image/png");
  // an encrypted attachment claimed as an image
  EXPECT_EQ(served_content_type("image/png", "application/octet-stream", allowed), "application/octet-stream");
  EXPECT_EQ(served_content_type("audio/ogg", "application/ogg", allowed), "audio/ogg");
  EXPECT_EQ(served_content_type("text/csv", "text/plain", allowed), "text/csv");
  // script-capable claims are never echoed, even if configured as allowed
  EXPECT_EQ(served_content_type("text/html", "text/plain", allowed), "text/plain");
  EXPECT_EQ(served_content_type("image/svg+xml", "text/plain", allowed), "text/plain");
  // a claim outside the allow-list is ignored
  EXPECT_EQ(served_content_type("text/markdown", "text/plain", allowed), "text/plain");
}

TEST(MediaTypes, InlineOnlyForTheSpecList) {
  EXPECT_TRUE(inline_safe("image/png"));
  EXPECT_TRUE(inline_safe("audio/ogg"));
  EXPECT_FALSE(inline_safe("text/html"));
  EXPECT_FALSE(inline_safe("application/pdf"));
  EXPECT_FALSE(inline_safe("image/svg+xml"));
}

TEST(MediaFilenames, PathsControlsAndBadUtf8) {
  EXPECT_EQ(clean_filename("report.pdf"), "report.pdf");
  EXPECT_EQ(clean_filename("../../etc/passwd"), "passwd");
  EXPECT_EQ(clean_filename("C:\\Users\\x\\evil.exe"), "evil.exe");
  EXPECT_EQ(clean_filename("a\r\nb\tc"), "abc");
  EXPECT_EQ(clean_filename(".."), "");
  EXPECT_EQ(clean_filename("caf\xc3\xa9.png"), "caf\xc3\xa9.png");
  EXPECT_EQ(clean_filename("x\xe2\x80\xaegnp.exe"), "xgnp.exe");  // right-to-left override
  EXPECT_EQ(clean_filename("bad\xff.png"), std::nullopt);
  EXPECT_EQ(clean_filename("\xc0\xaf"), std::nullopt);  // overlong '/'
  auto longname = clean_filename(std::string(300, 'a'));
  ASSERT_TRUE(longname);
  EXPECT_EQ(longname->size(), 255u);
  // cut on a character boundary
  std::string many;
  for (int i = 0; i < 200; ++i) many += "\xc3\xa9";
  auto cut = clean_filename(many);
  ASSERT_TRUE(cut);
  EXPECT_EQ(cut->size(), 254u);
}

TEST(MediaFilenames, ContentDispositionCannotBeInjected) {
  EXPECT_EQ(content_disposition("image/png", ""), "inline");
  EXPECT_EQ(content_disposition("image/png", "cat.png"), "inline; filename=\"cat.png\"");
  EXPECT_EQ(content_disposition("application/pdf", "a.pdf"), "attachment; filename=\"a.pdf\"");
  std::string v = content_disposition("text/plain", "x\"; filename=evil.html; a=\".txt");
  // The name stays inside one quoted string; the rest is the percent-encoded filename*.
  EXPECT_EQ(std::count(v.begin(), v.end(), '"'), 2) << v;
  std::string rest = v.substr(v.rfind('"') + 1);
  EXPECT_EQ(rest.rfind("; filename*=utf-8''", 0), 0u) << v;
  EXPECT_EQ(std::count(rest.begin(), rest.end(), ';'), 1) << v;
  EXPECT_EQ(content_disposition("image/png", "caf\xc3\xa9 1.png"),
            "inline; filename=\"caf_ 1.png\"; filename*=utf-8''caf%C3%A9%201.png");
  for (char c : content_disposition("text/plain", "a\\b%c;d"))
    EXPECT_TRUE(c >= 0x20 && c < 0x7f);
}

TEST(MediaSniff, RecognisesBytesNotNames) {
  const std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89", 33);
  EXPECT_EQ(sniff_content_type(png), "image/png");
  EXPECT_EQ(sniff_content_type("hello, world\n"), "text/plain");
  EXPECT_EQ(sniff_content_type("<!DOCTYPE html><html><body>hi</body></html>"), "text/html");
  EXPECT_EQ(sniff_content_type(""), "application/octet-stream");
  EXPECT_EQ(sniff_content_type(std::string("\x01\x9c\xf3\x07\x88\x11\x00\xfe\x42", 9)), "application/octet-stream");
}

TEST(MediaSniff, EncryptedBytesAreToldFromRealFiles) {
  std::mt19937_64 rng(42);
  auto random_bytes = [&](size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng() & 0xff);
    return s;
  };
  // Every random buffer from 1 KiB up counts as encrypted, including ones that begin like an
  // executable (the case libmagic gets wrong).
  int missed = 0;
  for (size_t n : {1024u, 4096u, 65536u})
    for (int i = 0; i < 300; ++i) missed += !looks_encrypted(random_bytes(n));
  EXPECT_EQ(missed, 0);
  std::string mz = "MZ" + random_bytes(8190);
  EXPECT_EQ(sniff_content_type(mz), "application/x-dosexec");
  EXPECT_TRUE(looks_encrypted(mz));
  // Real programs, text, repetitive data and short buffers are not.
  std::ifstream exe("/bin/true", std::ios::binary);
  std::string program((std::istreambuf_iterator<char>(exe)), std::istreambuf_iterator<char>());
  ASSERT_GT(program.size(), 4096u);
  EXPECT_FALSE(looks_encrypted(program));
  std::string text;
  while (text.size() < 8192) text += "The minister's office will reply to the request by Friday. ";
  EXPECT_FALSE(looks_encrypted(text));
  EXPECT_FALSE(looks_encrypted(std::string(8192, '\0')));
  EXPECT_FALSE(looks_encrypted(random_bytes(512)));
}

TEST(MediaClamd, UnreachableScannerIsAnErrorNeverClean) {
  auto r = clamd_scan("/nonexistent/clamd.sock", "data", 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("cannot connect"), std::string::npos);
}

class MediaStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("despatch_media_test_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    auto db = storage::Database::open_sqlite(dir_.string());
    ASSERT_TRUE(db.ok());
    db_ = std::move(db).value();
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  Status insert(const MediaRecord& m) {
    return db_->transact_blocking<Ok>([&](storage::Txn& t) -> Status { return t.media().add(m); });
  }
  Result<int64_t> purge(const FileStore& files, int64_t now, int64_t remote_cutoff_ts) {
    return db_->transact_blocking<int64_t>(
        [&](storage::Txn& t) { return purge_media(t, files, "localhost", now, remote_cutoff_ts); });
  }
  bool stored(const std::string& server_name, const std::string& media_id) {
    auto m = db_->read().media().media(server_name, media_id);
    return m.ok() && m->has_value();
  }
  std::filesystem::path dir_;
  std::unique_ptr<storage::Database> db_;
};

TEST_F(MediaStoreTest, FilesAreContentAddressedAndPurgeKeepsSharedOnes) {
  FileStore files((dir_ / "media").string());
  ASSERT_TRUE(files.init().ok());
  std::string shared(64, 'a'), remote_only(64, 'b');
  ASSERT_TRUE(files.put(shared, "shared bytes").ok());
  ASSERT_TRUE(files.put(remote_only, "remote bytes").ok());
  ASSERT_TRUE(files.put(shared, "ignored: already stored").ok());
  EXPECT_EQ(*files.get(shared), "shared bytes");
  EXPECT_NE(files.path_of(shared).find("/aa/aa/"), std::string::npos);
  EXPECT_FALSE(files.put("../../x", "y").ok());

  const int64_t day = 86'400'000, now = 100 * day;
  MediaRecord local{"localhost", "local1", "@a:localhost", "image/png", "a.png", shared, 12, now - 90 * day};
  MediaRecord remote_shared{"other.example", "r1", "", "image/png", "", shared, 12, now - 60 * day};
  MediaRecord remote_old{"other.example", "r2", "", "text/plain", "", remote_only, 12, now - 60 * day};
  MediaRecord remote_fresh{"other.example", "r3", "", "text/plain", "", remote_only, 12, now - 1 * day};
  MediaRecord pending_expired{"localhost", "p1", "@a:localhost", "", "", "", 0, now - 2 * day};
  pending_expired.expires_ts = now - day;
  MediaRecord pending_live{"localhost", "p2", "@a:localhost", "", "", "", 0, now - 1000};
  pending_live.expires_ts = now + day;
  for (auto* m : {&local, &remote_shared, &remote_old, &remote_fresh, &pending_expired, &pending_live})
    ASSERT_TRUE(insert(*m).ok()) << m->media_id;
  // A thumbnail of r2 in a file of its own goes with r2.
  std::string thumb(64, 'c');
  ASSERT_TRUE(files.put(thumb, "thumbnail bytes").ok());
  ASSERT_TRUE(db_->transact_blocking<Ok>([&](storage::Txn& t) -> Status {
                   return t.media().add_thumbnail("other.example", "r2", 32, 32, "crop",
                                                  {thumb, "image/png", 15, 32, 32});
                 }).ok());

  auto count = purge(files, now, now - 30 * day);
  ASSERT_TRUE(count.ok()) << count.error().message;
  EXPECT_EQ(*count, 3);  // r1, r2, p1
  EXPECT_TRUE(stored("localhost", "local1"));
  EXPECT_FALSE(stored("other.example", "r1"));
  EXPECT_FALSE(stored("other.example", "r2"));
  EXPECT_TRUE(stored("other.example", "r3"));
  EXPECT_FALSE(stored("localhost", "p1"));
  EXPECT_TRUE(stored("localhost", "p2"));
  EXPECT_TRUE(files.exists(shared));       // still used by local1
  EXPECT_TRUE(files.exists(remote_only));  // still used by r3
  EXPECT_FALSE(files.exists(thumb));

  // Without retention (cutoff 0) remote media stays; once r3 ages out its file goes too.
  count = purge(files, now, 0);
  EXPECT_EQ(*count, 0);
  count = purge(files, now + 40 * day, now + 10 * day);
  EXPECT_EQ(*count, 2);  // r3 and the now expired p2
  EXPECT_FALSE(files.exists(remote_only));
  EXPECT_TRUE(files.exists(shared));
}

}  // namespace
}  // namespace despatch::media

namespace despatch {
namespace {

TEST(MediaConfig, MediaSectionIsReadAndChecked) {
  auto path = std::filesystem::temp_directory_path() / ("despatch_media_cfg_" + std::to_string(::getpid()) + ".toml");
  auto load = [&](const std::string& text) {
    FILE* f = std::fopen(path.c_str(), "w");
    std::fputs(text.c_str(), f);
    std::fclose(f);
    return load_config_file(path.string());
  };
  auto c = load("[media]\nmax_upload_bytes = 1000\nallowed_types = [\"image/png\", \"audio/*\"]\n"
                "antivirus = true\nclamd_socket = \"/tmp/c.sock\"\nlegacy_unauthenticated = true\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->media.max_upload_bytes, 1000u);
  EXPECT_EQ(c->media.allowed_types, (std::vector<std::string>{"image/png", "audio/*"}));
  EXPECT_TRUE(c->media.antivirus);
  EXPECT_EQ(c->media.clamd_socket, "/tmp/c.sock");
  EXPECT_TRUE(c->media.legacy_unauthenticated);
  EXPECT_EQ(c->max_request_bytes, 1u << 20);  // JSON keeps its own limit
  EXPECT_FALSE(load("[media]\nallowed_types = \"image/png\"\n").ok());
  EXPECT_FALSE(load("[media]\nallowed_types = [1]\n").ok());
  EXPECT_FALSE(load("[media]\nmax_upload_bytes = 0\n").ok());
  EXPECT_FALSE(load("[media]\nantivirus_enabled = true\n").ok());  // unknown keys are errors
  Config defaults;
  EXPECT_EQ(defaults.media.max_upload_bytes, 50u << 20);
  EXPECT_FALSE(defaults.media.antivirus);
  EXPECT_FALSE(defaults.media.legacy_unauthenticated);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace despatch
