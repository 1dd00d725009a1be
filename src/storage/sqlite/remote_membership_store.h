#pragma once

#include "storage/conn.h"
#include "storage/remote_membership_store.h"

namespace despatch::storage {

class SqliteRemoteMembershipStore final : public RemoteMembershipStore {
 public:
  explicit SqliteRemoteMembershipStore(Conn& c) : c_(c) {}
  Status put(const RemoteMembershipRow& row, int64_t stream_pos) override;
  Result<std::optional<RemoteMembershipRow>> get(const std::string& user, const std::string& room_id) override;
  Status remove(const std::string& user, const std::string& room_id) override;
  Result<std::vector<RemoteMembershipRow>> of_user(const std::string& user, int64_t upto) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
