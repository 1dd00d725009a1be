#pragma once

#include "storage/conn.h"
#include "storage/membership_store.h"

namespace despatch::storage {

class SqliteMembershipStore final : public MembershipStore {
 public:
  explicit SqliteMembershipStore(Conn& c) : c_(c) {}
  Result<std::optional<std::string>> membership(const std::string& room_id, const std::string& user) override;
  Result<std::vector<std::string>> users_with(const std::string& room_id, const std::string& membership) override;
  Result<std::vector<MembershipRow>> rooms_of(const std::string& user, int64_t upto) override;
  Result<std::vector<MembershipRow>> joined_and_invited(const std::string& room_id) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
