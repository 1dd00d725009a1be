// The records keeper's end-to-end encryption state: its account (keeper_account), its Olm
// sessions with client devices (keeper_olm_sessions), the Megolm sessions clients shared
// with it (keeper_megolm_sessions), the events it could not decrypt yet (keeper_pending)
// and the sessions senders withheld from it (keeper_withheld). Pickles and seeds arrive
// encrypted; the store keeps them as given.
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <optional>
#include <string>
#include <vector>

namespace despatch::storage {

struct KeeperAccount {
  std::string user_id, device_id;
  std::string pickle;         // the libolm account, encrypted
  std::string cross_signing;  // the cross-signing seeds, encrypted
  int64_t created_ts = 0;
};

struct KeeperOlmSession {
  std::string session_id, pickle;
};

struct KeeperMegolmSession {
  std::string room_id, session_id, sender_key;
  std::string sender_user;  // whose device made the session
  int64_t first_index = 0;
  std::string source;  // m.room_key or m.forwarded_room_key
  std::string pickle;
  int64_t received_ts = 0;
};

struct KeeperPending {
  std::string event_id, room_id, session_id, sender_key, sender;
  int64_t stream_pos = 0, ts = 0;
  std::string reason;
  int64_t attempts = 1, first_seen_ts = 0;
};

struct KeeperWithheld {
  std::string room_id, session_id, sender_key, sender, code, reason;
  int64_t ts = 0;
};

class KeeperStore {
 public:
  virtual ~KeeperStore() = default;

  // keeper_account: user_id -> the keeper's account (one row).
  virtual Result<std::optional<KeeperAccount>> account(const std::string& user_id) = 0;
  virtual Status create_account(const KeeperAccount& a) = 0;
  virtual Status set_account_pickle(const std::string& user_id, const std::string& pickle) = 0;

  // keeper_olm_sessions: (sender_key, session_id) -> session; rank orders one sender's.
  // The sessions with sender_key, most recently used first.
  virtual Result<std::vector<KeeperOlmSession>> olm_sessions(const std::string& sender_key) = 0;
  // Replaces every session with sender_key by these, most recently used first (a repeated
  // session_id keeps its first place).
  virtual Status replace_olm_sessions(const std::string& sender_key,
                                      const std::vector<KeeperOlmSession>& sessions) = 0;

  // keeper_megolm_sessions: (room_id, session_id, sender_key) -> session.
  // A session of the room with this ID and sender key, or with any sender key when
  // sender_key is empty (newer clients leave it out of events).
  virtual Result<std::optional<KeeperMegolmSession>> megolm_session(const std::string& room_id,
                                                                    const std::string& session_id,
                                                                    const std::string& sender_key) = 0;
  // Inserts or replaces the session with the same (room_id, session_id, sender_key).
  virtual Status put_megolm_session(const KeeperMegolmSession& s) = 0;

  // keeper_pending: event_id -> an event not decrypted yet.
  // Adds the event unless it is already pending (then nothing changes).
  virtual Status add_pending(const KeeperPending& p) = 0;
  // The pending events of a Megolm session, by stream position.
  virtual Result<std::vector<KeeperPending>> pending_for_session(const std::string& room_id,
                                                                 const std::string& session_id) = 0;
  // Another failed attempt: the new reason, one more attempt.
  virtual Status note_failed_attempt(const std::string& event_id, const std::string& reason) = 0;
  // The reason of every pending event of a session from sender.
  virtual Status set_pending_reason(const std::string& room_id, const std::string& session_id,
                                    const std::string& sender, const std::string& reason) = 0;
  virtual Status drop_pending(const std::string& event_id) = 0;
  virtual Result<int64_t> pending_count() = 0;
  // At most limit pending events, newest stream position first.
  virtual Result<std::vector<KeeperPending>> newest_pending(int64_t limit) = 0;

  // keeper_withheld: (room_id, session_id, sender_key) -> why a sender withheld it.
  // Inserts or replaces the notice with the same key.
  virtual Status put_withheld(const KeeperWithheld& w) = 0;
  // A withheld notice for the session (from any sender key), nullopt when none.
  virtual Result<std::optional<KeeperWithheld>> withheld(const std::string& room_id,
                                                         const std::string& session_id) = 0;
};

}  // namespace despatch::storage
