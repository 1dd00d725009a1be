// Sealed exports and the bag: what the server hands out opens only with the office's key and
// only unchanged; the bag's formats quote and encode what they must; verify-export notices a
// changed, added or removed file.
#include "core/base64.h"
#include "core/canonical_json.h"
#include "service/records/archive.h"
#include "service/records/bag.h"
#include "service/records/export.h"
#include "service/records/sealed_export.h"
#include "storage/database.h"
#include "test_support.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace despatch {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const fs::path& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << data;
}

class RecordsExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::fresh_test_dir("despatch_records_export_test");
    auto db = storage::Database::open_sqlite((dir_ / "db").string());
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(db).value();
    archive_ = std::make_unique<Archive>(*db_, key_, office_.public_key, 0);
    add("@alice:test", "m.room.message", "hello, \"world\"\nsecond line");
    add("@bob:test", "m.room.message", std::string("Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln, ") + std::string(80, 'x'));
    add("@alice:test", "m.room.topic", "");
  }

  void add(const std::string& sender, const std::string& type, const std::string& body) {
    int64_t n = ++count_;
    json::object ev{{"type", type}, {"sender", sender}, {"room_id", "!r:test"}, {"origin_server_ts", 1'700'000'000'000 + n},
                    {"event_id", "$e" + std::to_string(n)}};
    ev["content"] = type == "m.room.message" ? json::object{{"msgtype", "m.text"}, {"body", body}}
                                              : json::object{{"topic", "t"}};
    if (type != "m.room.message") ev["state_key"] = "";
    ArchiveEntry e{n, "$e" + std::to_string(n), "!r:test", sender, type, 1'700'000'000'000 + n, "OFFICIAL", "event",
                   canonical_json(ev)};
    auto r = db_->transact_blocking<int64_t>([&](storage::Txn& t) { return archive_->append(t, e); });
    ASSERT_TRUE(r.ok()) << r.error().message;
  }

  std::string sealed_text(const ExportFilter& f = {}) {
    auto s = build_sealed_export(db_->read(), f, key_, SealedExportOptions{"CASE-1", "test"});
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? json::serialize(s->document) : "";
  }

  fs::path dir_;
  SigningKey key_ = SigningKey::generate("t1");
  RecordsKeyPair office_ = RecordsKeyPair::generate();
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<Archive> archive_;
  int64_t count_ = 0;
};

TEST_F(RecordsExportTest, TheSealedExportOpensOnlyWithTheOfficeKeyAndTheServersSignature) {
  std::string text = sealed_text();
  EXPECT_EQ(text.find("second line"), std::string::npos) << "a body in clear";
  auto opened = open_sealed_export(text, office_, "", key_.public_key());
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  ASSERT_EQ(opened->records.size(), 3u);
  EXPECT_EQ(opened->records[0].event.at("content").at("body").as_string(), "hello, \"world\"\nsecond line");
  EXPECT_EQ(opened->case_ref, "CASE-1");

  auto other = open_sealed_export(text, RecordsKeyPair::generate(), "", key_.public_key());
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().status, 403);
  auto pinned = open_sealed_export(text, office_, "", SigningKey::generate("x").public_key());
  ASSERT_FALSE(pinned.ok());
  EXPECT_NE(pinned.error().message.find("not with this server's key"), std::string::npos);

  // One character of one sealed record changed: the manifest's digest no longer matches.
  auto at = text.find("\\\"sealed\\\":\\\"") + 14;
  std::string changed = text;
  changed[at] = changed[at] == 'A' ? 'B' : 'A';
  auto bad = open_sealed_export(changed, office_, "", key_.public_key());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("do not match the signed manifest"), std::string::npos) << bad.error().message;

  // The text filter applies on opening, and the server refuses it.
  auto some = open_sealed_export(text, office_, "K\xc3\xb6LN", key_.public_key());
  ASSERT_TRUE(some.ok());
  EXPECT_EQ(some->records.size(), 1u);
  ExportFilter f;
  f.text = "x";
  auto refused = build_sealed_export(db_->read(), f, key_, SealedExportOptions{"CASE-1", "test"});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().status, 400);
}

TEST_F(RecordsExportTest, TooManyRecordsAreRefusedBeforeTheReplyIsBuilt) {
  SealedExportOptions opt{"CASE-1", "test"};
  opt.max_records = 3;
  EXPECT_TRUE(build_sealed_export(db_->read(), {}, key_, opt).ok());
  opt.max_records = 2;
  auto r = build_sealed_export(db_->read(), {}, key_, opt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 413);
  EXPECT_EQ(r.error().errcode, std::string("M_TOO_LARGE"));
}

TEST_F(RecordsExportTest, TheBagHoldsEveryFormatAndVerifyExportNoticesChanges) {
  auto opened = open_sealed_export(sealed_text(), office_, "", key_.public_key());
  ASSERT_TRUE(opened.ok());
  fs::path bag = dir_ / "bag";
  auto res = write_bag(BagContent(std::move(*opened)), bag.string());
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->records, 3);
  for (const char* f : {"bagit.txt", "bag-info.txt", "manifest-sha256.txt", "tagmanifest-sha256.txt",
                        "sealed-export.json", "data/records.jsonl", "data/index.csv",
                        "data/messages/0000000001.eml", "data/messages/0000000002.eml"})
    EXPECT_TRUE(fs::exists(bag / f)) << f;
  EXPECT_FALSE(fs::exists(bag / "data/messages/0000000003.eml")) << "a topic change is no message";

  // CSV: the body with a comma, quotes and a line break is quoted, quotes doubled.
  std::string csv = slurp(bag / "data/index.csv");
  EXPECT_NE(csv.find("\"hello, \"\"world\"\"\nsecond line\""), std::string::npos) << csv;
  EXPECT_EQ(csv.substr(csv.size() - 2), "\r\n");
  // EML: a non-ASCII subject is RFC 2047 words, no header line over 78 characters.
  std::string eml = slurp(bag / "data/messages/0000000002.eml");
  EXPECT_NE(eml.find("Subject: =?UTF-8?B?"), std::string::npos) << eml;
  std::istringstream lines(eml.substr(0, eml.find("\r\n\r\n")));
  for (std::string line; std::getline(lines, line);) EXPECT_LE(line.size(), 79u) << line;
  EXPECT_NE(eml.find("Content-Transfer-Encoding: base64"), std::string::npos);
  EXPECT_NE(eml.find("From: \"@bob:test\" <bob@test>"), std::string::npos);

  auto ok = verify_export(bag.string(), key_.public_key(), office_);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->records, 3);
  EXPECT_TRUE(ok->content_checked);

  auto expect_refused = [&](const char* what, const std::string& needle) {
    auto r = verify_export(bag.string(), key_.public_key(), office_);
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_NE(r.error().message.find(needle), std::string::npos) << what << ": " << r.error().message;
  };
  std::string csv_before = slurp(bag / "data/index.csv");
  spit(bag / "data/index.csv", csv_before + "x");
  expect_refused("a payload file changed", "file changed since export: data/index.csv");
  spit(bag / "data/index.csv", csv_before);
  spit(bag / "data/extra.txt", "x");
  expect_refused("a payload file added", "file added to the bag: data/extra.txt");
  fs::remove(bag / "data/extra.txt");
  std::string info = slurp(bag / "bag-info.txt");
  spit(bag / "bag-info.txt", info + "Contact-Name: someone\n");
  expect_refused("a tag file changed", "file changed since export: bag-info.txt");
  spit(bag / "bag-info.txt", info);
  fs::rename(bag / "data/messages/0000000001.eml", dir_ / "moved.eml");
  expect_refused("a payload file removed", "file missing from the bag: data/messages/0000000001.eml");
  fs::rename(dir_ / "moved.eml", bag / "data/messages/0000000001.eml");
  EXPECT_TRUE(verify_export(bag.string(), key_.public_key(), office_).ok());
}

TEST_F(RecordsExportTest, BundlesFromBeforeBagsStillVerify) {
  // despatch-export-1: records.jsonl and the server's signed manifest of the files' hashes.
  fs::path old = dir_ / "old";
  fs::create_directories(old);
  std::string jsonl = "{\"seq\":1}\n";
  spit(old / "records.jsonl", jsonl);
  json::object manifest{{"format", "despatch-export-1"}, {"records", 1},
                        {"files", json::array{json::object{{"path", "records.jsonl"},
                                                           {"sha256", hex_encode(sha256(jsonl))}}}},
                        {"signing_key_id", key_.key_id()}, {"signing_public_key", key_.public_key_base64()}};
  std::string text = json::serialize(manifest) + "\n";
  spit(old / "manifest.json", text);
  spit(old / "manifest.sig", base64_encode(key_.sign(text)) + "\n");
  auto ok = verify_export(old.string(), key_.public_key());
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->records, 1);
  spit(old / "records.jsonl", "{\"seq\":2}\n");
  EXPECT_FALSE(verify_export(old.string(), key_.public_key()).ok());
}

}  // namespace
}  // namespace despatch
