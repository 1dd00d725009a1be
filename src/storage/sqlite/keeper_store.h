#pragma once

#include "storage/conn.h"
#include "storage/keeper_store.h"

namespace despatch::storage {

class SqliteKeeperStore final : public KeeperStore {
 public:
  explicit SqliteKeeperStore(Conn& c) : c_(c) {}
  Result<std::optional<KeeperAccount>> account(const std::string& user_id) override;
  Status create_account(const KeeperAccount& a) override;
  Status set_account_pickle(const std::string& user_id, const std::string& pickle) override;
  Result<std::vector<KeeperOlmSession>> olm_sessions(const std::string& sender_key) override;
  Status replace_olm_sessions(const std::string& sender_key, const std::vector<KeeperOlmSession>& sessions) override;
  Result<std::optional<KeeperMegolmSession>> megolm_session(const std::string& room_id, const std::string& session_id,
                                                            const std::string& sender_key) override;
  Status put_megolm_session(const KeeperMegolmSession& s) override;
  Status add_pending(const KeeperPending& p) override;
  Result<std::vector<KeeperPending>> pending_for_session(const std::string& room_id,
                                                         const std::string& session_id) override;
  Status note_failed_attempt(const std::string& event_id, const std::string& reason) override;
  Status set_pending_reason(const std::string& room_id, const std::string& session_id, const std::string& sender,
                            const std::string& reason) override;
  Status drop_pending(const std::string& event_id) override;
  Result<int64_t> pending_count() override;
  Result<std::vector<KeeperPending>> newest_pending(int64_t limit) override;
  Status put_withheld(const KeeperWithheld& w) override;
  Result<std::optional<KeeperWithheld>> withheld(const std::string& room_id, const std::string& session_id) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
