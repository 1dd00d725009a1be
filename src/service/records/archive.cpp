#include "service/records/archive.h"

#include "core/base64.h"
#include "core/canonical_json.h"
#include "core/log.h"
#include "service/common/time.h"

#include <sodium.h>

#include <fstream>

namespace despatch {

using storage::Conn;

namespace {

std::string hex(std::string_view bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

Result<std::string> read_key_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error::invalid_param("cannot read key file " + path);
  std::string text;
  in >> text;
  auto raw = base64_decode(text);
  if (!raw || raw->size() != 32) return Error::invalid_param("key file " + path + " does not hold a 32-byte base64 key");
  return *raw;
}

}  // namespace

ArchiveRow parse_archive_row(const storage::Row& r) {
  ArchiveRow a;
  a.seq = r.i64(0);
  a.stream_pos = r.i64(1);
  a.event_id = r.str(2);
  a.room_id = r.str(3);
  a.sender = r.str(4);
  a.type = r.str(5);
  a.ts = r.i64(6);
  a.classification = r.str(7);
  a.kind = r.str(8);
  a.sealed = r.str(9);
  a.content_hash = r.str(10);
  a.prev_hash = r.str(11);
  a.hash = r.str(12);
  return a;
}

std::string archive_content_hash(const ArchiveRow& a) {
  json::object o{{"seq", a.seq},          {"stream_pos", a.stream_pos}, {"event_id", a.event_id},
                 {"room_id", a.room_id},  {"sender", a.sender},         {"type", a.type},
                 {"ts", a.ts},            {"classification", a.classification},
                 {"kind", a.kind},        {"sealed", a.sealed}};
  return hex(sha256(canonical_json(o)));
}

std::string archive_chain_hash(const std::string& prev_hash, const std::string& content_hash) {
  return hex(sha256(prev_hash + content_hash));
}

std::string checkpoint_message(int64_t seq, const std::string& hash, int64_t ts) {
  return "despatch-archive-checkpoint:" + std::to_string(seq) + ":" + hash + ":" + std::to_string(ts);
}

RecordsKeyPair RecordsKeyPair::generate() {
  unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
  crypto_box_keypair(pk, sk);
  RecordsKeyPair kp{std::string(reinterpret_cast<char*>(pk), sizeof pk),
                    std::string(reinterpret_cast<char*>(sk), sizeof sk)};
  sodium_memzero(sk, sizeof sk);
  return kp;
}

Result<std::string> load_records_public_key(const std::string& path) { return read_key_file(path); }
Result<std::string> load_records_secret_key(const std::string& path) { return read_key_file(path); }

Result<std::string> open_sealed(const std::string& sealed_b64, const RecordsKeyPair& keys) {
  auto sealed = base64_decode(sealed_b64);
  if (!sealed || sealed->size() < crypto_box_SEALBYTES) return Error::internal("malformed sealed record");
  std::string plain(sealed->size() - crypto_box_SEALBYTES, '\0');
  if (crypto_box_seal_open(reinterpret_cast<unsigned char*>(plain.data()),
                           reinterpret_cast<const unsigned char*>(sealed->data()), sealed->size(),
                           reinterpret_cast<const unsigned char*>(keys.public_key.data()),
                           reinterpret_cast<const unsigned char*>(keys.secret_key.data())) != 0)
    return Error::forbidden("The records key does not open this archive");
  return plain;
}

Archive::Archive(storage::Database& db, const SigningKey& server_key,
                 std::string records_public_key, int64_t checkpoint_every)
    : db_(db), key_(server_key), records_public_key_(std::move(records_public_key)),
      checkpoint_every_(checkpoint_every) {
  db_.add_on_rollback([this] { head_loaded_ = false; });
}

Status Archive::load_head(Conn& c) {
  DS_ASSIGN(auto row, storage::query_one(c, "SELECT seq, hash FROM archive ORDER BY seq DESC LIMIT 1"));
  head_seq_ = row ? row->i64(0) : 0;
  head_hash_ = row ? row->str(1) : kGenesisHash;
  DS_ASSIGN(auto cp, storage::query_one(c, "SELECT MAX(seq) FROM archive_checkpoints"));
  checkpoint_seq_ = cp && !cp->is_null(0) ? cp->i64(0) : 0;
  head_loaded_ = true;
  return ok_status();
}

Result<int64_t> Archive::append(Conn& c, const ArchiveEntry& e) {
  if (!head_loaded_) DS_TRY(load_head(c));
  std::string sealed(e.plaintext.size() + crypto_box_SEALBYTES, '\0');
  crypto_box_seal(reinterpret_cast<unsigned char*>(sealed.data()),
                  reinterpret_cast<const unsigned char*>(e.plaintext.data()), e.plaintext.size(),
                  reinterpret_cast<const unsigned char*>(records_public_key_.data()));
  ArchiveRow a;
  a.seq = head_seq_ + 1;
  a.stream_pos = e.stream_pos;
  a.event_id = e.event_id;
  a.room_id = e.room_id;
  a.sender = e.sender;
  a.type = e.type;
  a.ts = e.ts;
  a.classification = e.classification;
  a.kind = e.kind;
  a.sealed = base64_encode(sealed);
  a.content_hash = archive_content_hash(a);
  a.prev_hash = head_hash_;
  a.hash = archive_chain_hash(a.prev_hash, a.content_hash);
  DS_TRY(c.exec("INSERT INTO archive(seq, stream_pos, event_id, room_id, sender, type, ts, classification, "
                "kind, sealed, content_hash, prev_hash, hash) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                {a.seq, a.stream_pos, a.event_id, a.room_id, a.sender, a.type, a.ts, a.classification,
                 a.kind, a.sealed, a.content_hash, a.prev_hash, a.hash}));
  head_seq_ = a.seq;
  head_hash_ = a.hash;
  if (checkpoint_every_ > 0 && head_seq_ - checkpoint_seq_ >= checkpoint_every_) DS_TRY(checkpoint(c));
  return a.seq;
}

Status Archive::checkpoint(Conn& c) {
  if (!head_loaded_) DS_TRY(load_head(c));
  if (head_seq_ == 0 || head_seq_ == checkpoint_seq_) return ok_status();
  int64_t ts = now_ms();
  std::string sig = base64_encode(key_.sign(checkpoint_message(head_seq_, head_hash_, ts)));
  DS_TRY(c.exec("INSERT INTO archive_checkpoints(seq, hash, ts, key_id, signature) VALUES(?,?,?,?,?)",
                {head_seq_, head_hash_, ts, key_.key_id(), sig}));
  checkpoint_seq_ = head_seq_;
  return ok_status();
}

}  // namespace despatch
