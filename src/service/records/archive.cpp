#include "service/records/archive.h"

#include "core/base64.h"
#include "core/canonical_json.h"
#include "core/log.h"
#include "service/common/time.h"
#include "service/records/audit.h"

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
  if (a.format >= 2) {
    o.erase("sealed");
    o["kind"] = a.live_kind;
    o["sealed_sha256"] = a.sealed_hash;
    o["format"] = a.format;
  }
  return hex_encode(sha256(canonical_json(o)));
}

std::string data_key_hash(const std::string& prev_hash, int64_t id, const std::string& sealed) {
  return archive_chain_hash(prev_hash, hex_encode(sha256(std::to_string(id) + ":" + sealed)));
}

std::string archive_chain_hash(const std::string& prev_hash, const std::string& content_hash) {
  return hex_encode(sha256(prev_hash + content_hash));
}

std::string checkpoint_message(int64_t seq, const std::string& hash, int64_t ts) {
  return "despatch-archive-checkpoint:" + std::to_string(seq) + ":" + hash + ":" + std::to_string(ts);
}

std::string checkpoint_message(const storage::ArchiveCheckpoint& cp) {
  if (cp.version < 2) return checkpoint_message(cp.seq, cp.hash, cp.ts);
  return "despatch-records-checkpoint:2:" + std::to_string(cp.seq) + ":" + cp.hash + ":" +
         std::to_string(cp.audit_seq) + ":" + cp.audit_hash + ":" + std::to_string(cp.keys_seq) + ":" +
         cp.keys_hash + ":" + std::to_string(cp.ts);
}

Status adopt_archive_upgrade(Txn& t) {
  DS_ASSIGN(auto last, t.archive().last_data_key());
  if (last && last->hash.empty()) {
    std::string prev = kGenesisHash;
    for (int64_t after = 0;;) {
      DS_ASSIGN(auto keys, t.archive().data_keys_after(after, 1000));
      if (keys.empty()) break;
      for (auto& k : keys) {
        after = k.id;
        std::string h = data_key_hash(prev, k.id, k.sealed);
        if (k.hash.empty()) DS_TRY(t.archive().set_data_key_hash(k.id, h));
        prev = k.hash.empty() ? h : k.hash;
      }
    }
  }
  DS_ASSIGN(auto marks, t.audit().with_action("records.format"));
  if (!marks.empty()) return ok_status();
  DS_ASSIGN(auto head, t.archive().head());
  int64_t from = head ? head->seq + 1 : 1;
  if (head) {
    DS_ASSIGN(auto rows, t.archive().records_after(head->seq - 1, 1));
    // Written in the new format already with no entry saying so: the entry was removed.
    // Leave that for verify to report rather than paper over it.
    if (!rows.empty() && rows[0].format >= 2) return ok_status();
  }
  DS_TRY(audit_append(t, "server", "records.format", "",
                      json::object{{"format", kArchiveFormat}, {"from_seq", from}}));
  return ok_status();
}

namespace {

// The heads as they stand, and whether they differ from the newest checkpoint.
Result<std::pair<storage::ArchiveCheckpoint, bool>> current_heads(storage::Stores& s) {
  storage::ArchiveCheckpoint cp;
  cp.hash = kGenesisHash;
  cp.audit_hash = kGenesisHash;
  cp.keys_hash = kGenesisHash;
  DS_ASSIGN(auto head, s.archive().head());
  if (head) {
    cp.seq = head->seq;
    cp.hash = head->hash;
  }
  DS_ASSIGN(auto audit, s.audit().last());
  if (audit) {
    cp.audit_seq = audit->seq;
    cp.audit_hash = audit->hash;
  }
  DS_ASSIGN(auto data_key, s.archive().last_data_key());
  if (data_key) {
    cp.keys_seq = data_key->id;
    cp.keys_hash = data_key->hash;
  }
  DS_ASSIGN(auto last, s.archive().last_checkpoint(false));
  bool moved = !(last && last->version >= 2 && last->seq == cp.seq && last->audit_seq == cp.audit_seq &&
                 last->keys_seq == cp.keys_seq && last->hash == cp.hash && last->audit_hash == cp.audit_hash &&
                 last->keys_hash == cp.keys_hash);
  if (cp.seq == 0 && cp.audit_seq == 0 && cp.keys_seq == 0) moved = false;
  return std::pair{cp, moved};
}

}  // namespace

Status sign_records_heads(Txn& t, const SigningKey& key, int64_t durable_every) {
  // Keys from before the keys' chain are chained first, so the head signed has a hash.
  DS_ASSIGN(auto data_key, t.archive().last_data_key());
  if (data_key && data_key->hash.empty()) DS_TRY(adopt_archive_upgrade(t));
  DS_ASSIGN(auto heads, current_heads(t));
  if (!heads.second) return ok_status();
  storage::ArchiveCheckpoint cp = heads.first;
  DS_ASSIGN(auto last, t.archive().last_checkpoint(false));
  cp.ts = now_ms();
  DS_ASSIGN(auto durable, t.archive().last_checkpoint(true));
  // Audit entries and data keys are rare and each matters (a retention run, a hold): a head
  // that covers a new one is kept for good.
  cp.durable = !durable || (durable_every > 0 && cp.seq - durable->seq >= durable_every) ||
               cp.ts - durable->ts >= kDurableCheckpointMs || cp.audit_seq != durable->audit_seq ||
               cp.keys_seq != durable->keys_seq;
  if (last && !last->durable) DS_TRY(t.archive().drop_checkpoint(last->id));
  cp.key_id = key.key_id();
  cp.signature = base64_encode(key.sign(checkpoint_message(cp)));
  DS_TRY(t.archive().add_checkpoint(cp));
  return ok_status();
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
  auto plain = open_record_box(row.sealed, row.seq, it->second);
  if (!plain) return Error::internal("record " + std::to_string(row.seq) + " is malformed or does not decrypt");
  return *plain;
}

std::optional<std::string> open_record_box(const std::string& sealed_b64, int64_t seq, const std::string& data_key) {
  auto blob = base64_decode(sealed_b64);
  if (!blob || blob->size() < kNonce + kTag || data_key.size() != 32) return std::nullopt;
  std::string plain(blob->size() - kNonce - kTag, '\0');
  unsigned long long len = 0;
  // The record's sequence number is the associated data: a ciphertext moved between
  // records does not open.
  std::string ad = std::to_string(seq);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(plain.data()), &len, nullptr,
          reinterpret_cast<const unsigned char*>(blob->data() + kNonce), blob->size() - kNonce,
          reinterpret_cast<const unsigned char*>(ad.data()), ad.size(),
          reinterpret_cast<const unsigned char*>(blob->data()),
          reinterpret_cast<const unsigned char*>(data_key.data())) != 0)
    return std::nullopt;
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
  DS_TRY(adopt_archive_upgrade(t));
  DS_ASSIGN(auto head, t.archive().head());
  head_seq_ = head ? head->seq : 0;
  head_hash_ = head ? head->hash : kGenesisHash;
  DS_ASSIGN(auto cp, t.archive().last_checkpoint(false));
  checkpoint_seq_ = cp ? cp->seq : 0;
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
    DS_ASSIGN(auto last, t.archive().last_data_key());
    storage::DataKeyRow row{last ? last->id + 1 : 1, base64_encode(sealed_key), ""};
    row.hash = data_key_hash(last ? last->hash : kGenesisHash, row.id, row.sealed);
    DS_TRY(t.archive().add_data_key(row));
    data_key_id_ = row.id;
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
  a.format = kArchiveFormat;
  a.live_kind = a.kind;
  a.sealed_hash = hex_encode(sha256(a.sealed));
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
  DS_TRY(sign_records_heads(t, key_, checkpoint_every_));
  checkpoint_seq_ = head_seq_;
  return ok_status();
}

boost::asio::awaitable<Status> Archive::checkpoint() {
  // Most seconds nothing moved: look on a read view first, so that an idle server commits
  // nothing (an idle database is what lets the WAL be checkpointed and truncated).
  DS_CO_ASSIGN(auto heads, current_heads(db_.read()));
  if (!heads.second) co_return ok_status();
  co_return co_await db_.transact<Ok>([this](Txn& t) { return checkpoint(t); });
}

Status Archive::checkpoint_blocking() {
  return db_.transact_blocking<Ok>([this](Txn& t) { return checkpoint(t); });
}

}  // namespace despatch
