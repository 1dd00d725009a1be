#pragma once

#include "storage/conn.h"
#include "storage/membership_store.h"

namespace despatch::storage {

class SqliteMembershipStore final : public MembershipStore {
 public:
  explicit SqliteMembershipStore(Conn& c) : c_(c) {}
  Status set(const MembershipRow& m, const std::string& event_id) override;
  Status forget(const std::string& room_id, const std::string& user) override;
  Result<bool> forgotten(const std::string& room_id, const std::string& user) override;
  Result<std::optional<std::string>> membership(const std::string& room_id, const std::string& user) override;
  Result<std::vector<std::string>> rooms_with(const std::string& user,
                                              const std::vector<std::string>& memberships) override;
  Result<int64_t> count(const std::string& room_id, const std::string& membership) override;
  Result<std::vector<std::pair<std::string, std::string>>> joined_member_events(const std::string& room_id) override;
  Result<std::vector<std::string>> users_with(const std::string& room_id, const std::string& membership) override;
  Result<std::vector<MembershipRow>> rooms_of(const std::string& user, int64_t upto) override;
  Result<std::vector<MembershipRow>> joined_and_invited(const std::string& room_id) override;
  Result<std::vector<std::string>> co_members(const std::string& user) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
