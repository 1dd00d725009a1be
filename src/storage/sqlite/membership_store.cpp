#include "storage/sqlite/membership_store.h"

namespace despatch::storage {

Result<std::optional<std::string>> SqliteMembershipStore::membership(const std::string& room_id,
                                                                     const std::string& user) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT membership FROM memberships WHERE room_id=? AND user_id=?",
                                {room_id, user}));
  if (!row) return std::optional<std::string>{};
  return std::optional<std::string>(row->str(0));
}

Result<std::vector<std::string>> SqliteMembershipStore::users_with(const std::string& room_id,
                                                                   const std::string& membership) {
  DS_ASSIGN(auto rows, c_.query("SELECT user_id FROM memberships WHERE room_id=? AND membership=?",
                                {room_id, membership}));
  std::vector<std::string> out;
  for (auto& r : rows) out.push_back(r.str(0));
  return out;
}

Result<std::vector<MembershipRow>> SqliteMembershipStore::rooms_of(const std::string& user, int64_t upto) {
  DS_ASSIGN(auto rows, c_.query("SELECT room_id, membership, stream_pos FROM memberships "
                                "WHERE user_id=? AND forgotten=0 AND stream_pos<=?",
                                {user, upto}));
  std::vector<MembershipRow> out;
  for (auto& r : rows) out.push_back({r.str(0), user, r.str(1), r.i64(2)});
  return out;
}

Result<std::vector<MembershipRow>> SqliteMembershipStore::joined_and_invited(const std::string& room_id) {
  DS_ASSIGN(auto rows, c_.query("SELECT user_id, membership, stream_pos FROM memberships WHERE room_id=? AND "
                                "membership IN ('join','invite') ORDER BY user_id",
                                {room_id}));
  std::vector<MembershipRow> out;
  for (auto& r : rows) out.push_back({room_id, r.str(0), r.str(1), r.i64(2)});
  return out;
}

Status SqliteMembershipStore::set(const MembershipRow& m, const std::string& event_id) {
  return c_.exec("INSERT INTO memberships(room_id, user_id, membership, event_id, stream_pos) "
                 "VALUES(?,?,?,?,?) ON CONFLICT(room_id, user_id) DO UPDATE SET "
                 "membership=excluded.membership, event_id=excluded.event_id, "
                 "stream_pos=excluded.stream_pos, forgotten=0",
                 {m.room_id, m.user_id, m.membership, event_id, m.stream_pos});
}

Status SqliteMembershipStore::forget(const std::string& room_id, const std::string& user) {
  return c_.exec("UPDATE memberships SET forgotten=1 WHERE room_id=? AND user_id=?", {room_id, user});
}

Result<bool> SqliteMembershipStore::forgotten(const std::string& room_id, const std::string& user) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT 1 FROM memberships WHERE room_id=? AND user_id=? AND forgotten=1",
                                {room_id, user}));
  return row.has_value();
}

Result<std::vector<std::string>> SqliteMembershipStore::rooms_with(const std::string& user,
                                                                   const std::vector<std::string>& memberships) {
  std::vector<std::string> out;
  for (auto& m : memberships) {
    DS_ASSIGN(auto rows, c_.query("SELECT room_id FROM memberships WHERE user_id=? AND membership=?", {user, m}));
    for (auto& r : rows) out.push_back(r.str(0));
  }
  return out;
}

Result<int64_t> SqliteMembershipStore::count(const std::string& room_id, const std::string& membership) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT COUNT(*) FROM memberships WHERE room_id=? AND membership=?",
                                {room_id, membership}));
  return row ? row->i64(0) : 0;
}

Result<std::vector<std::pair<std::string, std::string>>> SqliteMembershipStore::joined_member_events(
    const std::string& room_id) {
  DS_ASSIGN(auto rows, c_.query("SELECT user_id, event_id FROM memberships WHERE room_id=? AND membership='join'",
                                {room_id}));
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& r : rows) out.emplace_back(r.str(0), r.str(1));
  return out;
}

Result<std::vector<std::string>> SqliteMembershipStore::co_members(const std::string& user) {
  DS_ASSIGN(auto rows, c_.query("SELECT DISTINCT b.user_id FROM memberships a JOIN memberships b ON a.room_id=b.room_id "
                                "WHERE a.user_id=? AND a.membership='join' AND b.membership='join'",
                                {user}));
  std::vector<std::string> out;
  for (auto& r : rows) out.push_back(r.str(0));
  return out;
}

}  // namespace despatch::storage
