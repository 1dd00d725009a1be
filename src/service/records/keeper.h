// The records keeper (design.md, "Records"): a server-made account, @records:<server_name>,
// that is a visible member of every room the records policy covers. Its device is an
// ordinary Olm/Megolm device: it publishes device, one-time and fallback keys, is
// cross-signed by server-made keys, receives m.room_key and m.forwarded_room_key from
// clients, and decrypts m.room.encrypted events so that their plaintext is sealed into the
// archive next to the ciphertext. Events it cannot decrypt are archived with an
// "undecryptable" record, kept in keeper_pending and retried when keys for their session
// arrive.
//
// Every method that changes state runs on the database's writer thread inside a write job
// (start-up uses write_blocking), so the Olm account needs no lock. Pickles and seeds are
// encrypted at rest with a 32-byte key in <data_dir>/keeper.key (0600); the keys leave the
// server only sealed into the archive (records of kind "room_key").
#pragma once

#include "core/config.h"
#include "service/keys/key_service.h"
#include "service/records/archive.h"
#include "service/records/olm_device.h"
#include "storage/database.h"

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace despatch {

// The state event that tells every member a room is recorded.
inline constexpr const char* kRecordsNoticeType = "m.despatch.records";
// The keeper's device ID.
inline constexpr const char* kKeeperDeviceId = "RECORDSKEEPER";
// One-time keys kept published, and the level below which they are topped up.
inline constexpr size_t kKeeperOneTimeKeys = 50;
inline constexpr size_t kKeeperOneTimeKeysLow = 25;

// Loads the keeper's at-rest key from <data_dir>/keeper.key, creating it (0600) on first start.
Result<std::string> load_or_create_keeper_key(const std::string& data_dir);

class RecordsKeeper : public ServerDevice {
 public:
  // Ensures the keeper's user, device, keys and cross-signing keys exist (creating them on
  // first start) and loads its Olm account. Blocks on the writer thread. Fails when a user
  // with the keeper's ID exists that the server did not make.
  static Result<std::unique_ptr<RecordsKeeper>> open(const Config& config, storage::Database& db,
                                                     Archive& archive);

  const std::string& user_id() const override { return user_id_; }
  const std::string& device_id() const override { return device_id_; }
  // Whether the policy puts the keeper in rooms of this kind ("direct" or "group").
  bool covers(const std::string& room_kind) const;

  // Writer thread, inside a write job. An m.room.encrypted event (with event_id) was just
  // stored at pos in a room the keeper has joined: seals its plaintext into the archive, or
  // an "undecryptable" record plus a keeper_pending row. Only database errors fail.
  Status on_encrypted_event(storage::Txn& t, const json::object& event, int64_t pos);
  // A to-device message for the keeper's device (ServerDevice). Olm-decrypts it, checks its
  // sender, recipient and keys fields, stores the Megolm session it carries and retries the
  // pending events of that session. A message that does not check out is logged and dropped;
  // only database errors fail.
  Status receive_to_device(storage::Conn& c, const std::string& sender, const std::string& type,
                           const json::object& content) override;
  // Tops up one-time keys and replaces a used fallback key (ServerDevice).
  Status keys_claimed(storage::Conn& c) override;

  // Reads (this thread's read view): the events not (yet) decrypted, newest first, and their
  // number.
  Result<json::object> undecryptable(int64_t limit);
  // Counters for the admin metrics.
  json::object metrics();

  // Writer thread: drops in-memory state so that the next use reloads it from the database
  // (after a failed job or group commit).
  void invalidate() { stale_ = true; }

 private:
  struct Megolm {
    std::shared_ptr<MegolmInbound> session;
    std::string sender_user, source, sender_key;
    uint32_t first_index = 0;
  };
  struct Decrypted;

  RecordsKeeper(const Config& config, storage::Database& db, Archive& archive, std::string key);
  Status create_account(storage::Txn& t);
  Status load(storage::Txn& t);
  Status ensure_fresh(storage::Txn& t);
  Status save_account(storage::Txn& t);
  Status publish_one_time_keys(storage::Txn& t);
  Status load_olm_sessions(storage::Txn& t, const std::string& sender_key);
  Status save_olm_sessions(storage::Txn& t, const std::string& sender_key);

  Status handle_olm(storage::Txn& t, const std::string& sender, const json::object& content);
  // An Olm message from sender_key did not decrypt: the session is wedged (spec: "Recovering
  // from undecryptable messages"). Claims a one-time key of that device, starts a new session
  // and sends it an m.dummy over it, at most once an hour per device. Best effort: only
  // database errors fail.
  Status recover_session(storage::Txn& t, const std::string& sender, const std::string& sender_key);
  Status handle_room_key(storage::Txn& t, const std::string& sender, const std::string& sender_key,
                         const json::object& content, bool forwarded);
  Status handle_withheld(storage::Txn& t, const std::string& sender, const json::object& content);
  // Stores a session unless one at least as complete is known; returns whether it was stored.
  Result<bool> store_megolm(storage::Txn& t, const std::string& room_id, const std::string& sender_key,
                            const std::string& owner, const std::string& shared_by,
                            const std::string& source, MegolmInbound session);
  Result<const Megolm*> find_megolm(storage::Txn& t, const std::string& room_id,
                                    const std::string& session_id, const std::string& sender_key);
  Status retry_pending(storage::Txn& t, const std::string& room_id, const std::string& session_id);
  // Decrypts an m.room.encrypted event (with event_id) into *out: true, or false with *why
  // saying why it cannot (yet). Only database errors fail.
  Result<bool> decrypt_event(storage::Txn& t, const json::object& event, Decrypted* out,
                             std::string* why);
  Status archive_plaintext(storage::Txn& t, const json::object& event, int64_t pos,
                           const Decrypted& d);

  const Config& config_;
  storage::Database& db_;
  Archive& archive_;
  std::string key_;  // 32 raw bytes: the libolm pickle key and the secretbox key
  std::string user_id_, device_id_;
  // Writer thread only.
  bool stale_ = true;
  std::unique_ptr<OlmDevice> device_;
  std::set<std::string> loaded_senders_;
  std::map<std::string, Megolm> megolm_;  // room_id|session_id|sender_key -> session
  std::map<std::string, int64_t> recovered_at_;  // sender_key -> ms of the last new session
  std::atomic<int64_t> decrypted_{0}, undecryptable_{0}, room_keys_{0}, rejected_{0}, sessions_renewed_{0};
};

}  // namespace despatch
