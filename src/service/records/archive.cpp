#include "service/records/archive.h"

#include "core/base64.h"
#include "core/canonical_json.h"
#include "core/log.h"
#include "service/common/time.h"

#include <sodium.h>

#include <fstream>

namespace despatch {

using storage::Txn;

namespace {


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

std::string archive_content_hash(const ArchiveRow& a) {
  json::object o{{"seq", a.seq},          {"stream_pos", a.stream_pos}, {"event_id", a.event_id},
                 {"room_id", a.room_id},  {"sender", a.sender},         {"type", a.type},
                 {"ts", a.ts},            {"classification", a.classification},
                 {"kind", a.kind},        {"key_id", a.key_id},         {"sealed", a.sealed}};
  return hex_encode(sha256(canonical_json(o)));
}

std::string archive_chain_hash(const std::string& prev_hash, const std::string& content_hash) {
  return hex_encode(sha256(prev_hash + content_hash));
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

Result<RecordsKeyPair> RecordsKeyPair::from_secret(std::string secret_key) {
  if (secret_key.size() != crypto_box_SECRETKEYBYTES)
    return Error::invalid_param("a records office secret key is 32 bytes");
  unsigned char pk[crypto_box_PUBLICKEYBYTES];
  crypto_scalarmult_base(pk, reinterpret_cast<const unsigned char*>(secret_key.data()));
  return RecordsKeyPair{std::string(reinterpret_cast<char*>(pk), sizeof pk), std::move(secret_key)};
}

Result<std::string> load_records_public_key(const std::string& path) { return read_key_file(path); }
Result<std::string> load_records_secret_key(const std::string& path) { return read_key_file(path); }

namespace {
constexpr int64_t kDataKeyUses = 1000;
constexpr size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
}  // namespace

ArchiveOpener::~ArchiveOpener() {
  for (auto& [id, k] : data_keys_) sodium_memzero(k.data(), k.size());
}

Result<std::string> ArchiveOpener::open(const ArchiveRow& row) {
  auto it = data_keys_.find(row.key_id);
  if (it == data_keys_.end()) {
    DS_ASSIGN(auto kr, archive_.data_key(row.key_id));
    if (!kr) return Error::internal("record " + std::to_string(row.seq) + " names a missing data key");
    auto sealed = base64_decode(*kr);
    if (!sealed || sealed->size() != crypto_box_SEALBYTES + 32) return Error::internal("malformed data key");
    std::string key(32, '\0');
    if (crypto_box_seal_open(reinterpret_cast<unsigned char*>(key.data()),
                             reinterpret_cast<const unsigned char*>(sealed->data()), sealed->size(),
                             reinterpret_cast<const unsigned char*>(keys_.public_key.data()),
                             reinterpret_cast<const unsigned char*>(keys_.secret_key.data())) != 0)
      return Error::forbidden("The records key does not open this archive");
    it = data_keys_.emplace(row.key_id, std::move(key)).first;
  }
  auto blob = base64_decode(row.sealed);
  if (!blob || blob->size() < kNonce + kTag) return Error::internal("record " + std::to_string(row.seq) + " is malformed");
  std::string plain(blob->size() - kNonce - kTag, '\0');
  unsigned long long len = 0;
  // The record's sequence number is the associated data: a ciphertext moved between
  // records does not open.
  std::string ad = std::to_string(row.seq);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(plain.data()), &len, nullptr,
          reinterpret_cast<const unsigned char*>(blob->data() + kNonce), blob->size() - kNonce,
          reinterpret_cast<const unsigned char*>(ad.data()), ad.size(),
          reinterpret_cast<const unsigned char*>(blob->data()),
          reinterpret_cast<const unsigned char*>(it->second.data())) != 0)
    return Error::internal("record " + std::to_string(row.seq) + " does not decrypt");
  plain.resize(len);
  return plain;
}

Archive::Archive(storage::Database& db, const SigningKey& server_key,
                 std::string records_public_key, int64_t checkpoint_every)
    : db_(db), key_(server_key), records_public_key_(std::move(records_public_key)),
      checkpoint_every_(checkpoint_every) {
  // A rolled-back group may have taken the data key's row with it: start a new key.
  db_.add_on_rollback([this] {
    head_loaded_ = false;
    data_key_id_ = 0;
  });
}

Status Archive::load_head(Txn& t) {
  DS_ASSIGN(auto head, t.archive().head());
  head_seq_ = head ? head->seq : 0;
  head_hash_ = head ? head->hash : kGenesisHash;
  DS_ASSIGN(checkpoint_seq_, t.archive().last_checkpoint_seq());
  head_loaded_ = true;
  return ok_status();
}

Result<int64_t> Archive::append(Txn& t, const ArchiveEntry& e) {
  if (!head_loaded_) DS_TRY(load_head(t));
  if (data_key_id_ == 0 || data_key_uses_ >= kDataKeyUses) {
    data_key_.assign(32, '\0');
    crypto_aead_xchacha20poly1305_ietf_keygen(reinterpret_cast<unsigned char*>(data_key_.data()));
    std::string sealed_key(32 + crypto_box_SEALBYTES, '\0');
    crypto_box_seal(reinterpret_cast<unsigned char*>(sealed_key.data()),
                    reinterpret_cast<const unsigned char*>(data_key_.data()), 32,
                    reinterpret_cast<const unsigned char*>(records_public_key_.data()));
    DS_ASSIGN(data_key_id_, t.archive().add_data_key(base64_encode(sealed_key)));
    data_key_uses_ = 0;
  }
  ++data_key_uses_;
  ArchiveRow a;
  a.seq = head_seq_ + 1;
  std::string blob(kNonce + e.plaintext.size() + kTag, '\0');
  randombytes_buf(blob.data(), kNonce);
  std::string ad = std::to_string(a.seq);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      reinterpret_cast<unsigned char*>(blob.data() + kNonce), &clen,
      reinterpret_cast<const unsigned char*>(e.plaintext.data()), e.plaintext.size(),
      reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr,
      reinterpret_cast<const unsigned char*>(blob.data()),
      reinterpret_cast<const unsigned char*>(data_key_.data()));
  a.stream_pos = e.stream_pos;
  a.event_id = e.event_id;
  a.room_id = e.room_id;
  a.sender = e.sender;
  a.type = e.type;
  a.ts = e.ts;
  a.classification = e.classification;
  a.kind = e.kind;
  a.key_id = data_key_id_;
  a.sealed = base64_encode(blob);
  a.content_hash = archive_content_hash(a);
  a.prev_hash = head_hash_;
  a.hash = archive_chain_hash(a.prev_hash, a.content_hash);
  DS_TRY(t.archive().append(a));
  head_seq_ = a.seq;
  head_hash_ = a.hash;
  if (checkpoint_every_ > 0 && head_seq_ - checkpoint_seq_ >= checkpoint_every_) DS_TRY(checkpoint(t));
  return a.seq;
}

Status Archive::checkpoint(Txn& t) {
  if (!head_loaded_) DS_TRY(load_head(t));
  if (head_seq_ == 0 || head_seq_ == checkpoint_seq_) return ok_status();
  int64_t ts = now_ms();
  std::string sig = base64_encode(key_.sign(checkpoint_message(head_seq_, head_hash_, ts)));
  DS_TRY(t.archive().add_checkpoint({head_seq_, head_hash_, ts, key_.key_id(), sig}));
  checkpoint_seq_ = head_seq_;
  return ok_status();
}

boost::asio::awaitable<Status> Archive::checkpoint() {
  co_return co_await db_.transact<Ok>([this](Txn& t) { return checkpoint(t); });
}

Status Archive::checkpoint_blocking() {
  return db_.transact_blocking<Ok>([this](Txn& t) { return checkpoint(t); });
}

}  // namespace despatch
