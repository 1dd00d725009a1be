#include "storage/sqlite/remote_membership_store.h"

namespace despatch::storage {

namespace {

constexpr const char* kColumns =
    "user_id, room_id, membership, event_id, event, room_version, stripped_state, via, stream_pos";

RemoteMembershipRow row_of(const Row& r) {
  return RemoteMembershipRow{r.str(0), r.str(1), r.str(2), r.str(3), r.str(4), r.str(5), r.str(6), r.str(7), r.i64(8)};
}

}  // namespace

Status SqliteRemoteMembershipStore::put(const RemoteMembershipRow& m, int64_t stream_pos) {
  return c_.exec(std::string("INSERT OR REPLACE INTO remote_memberships(") + kColumns +
                     ") VALUES(?,?,?,?,?,?,?,?,?)",
                 {m.user_id, m.room_id, m.membership, m.event_id, m.event, m.room_version, m.stripped_state, m.via,
                  stream_pos});
}

Result<std::optional<RemoteMembershipRow>> SqliteRemoteMembershipStore::get(const std::string& user,
                                                                             const std::string& room_id) {
  DS_ASSIGN(auto row, query_one(c_, std::string("SELECT ") + kColumns +
                                        " FROM remote_memberships WHERE user_id=? AND room_id=?",
                                {user, room_id}));
  if (!row) return std::optional<RemoteMembershipRow>{};
  return std::optional<RemoteMembershipRow>(row_of(*row));
}

Status SqliteRemoteMembershipStore::remove(const std::string& user, const std::string& room_id) {
  return c_.exec("DELETE FROM remote_memberships WHERE user_id=? AND room_id=?", {user, room_id});
}

Result<std::vector<RemoteMembershipRow>> SqliteRemoteMembershipStore::of_user(const std::string& user, int64_t upto) {
  DS_ASSIGN(auto rows, c_.query(std::string("SELECT ") + kColumns +
                                    " FROM remote_memberships WHERE user_id=? AND stream_pos<=? ORDER BY stream_pos",
                                {user, upto}));
  std::vector<RemoteMembershipRow> out;
  for (auto& r : rows) out.push_back(row_of(r));
  return out;
}

}  // namespace despatch::storage
