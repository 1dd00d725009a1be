#include "storage/sqlite/room_store.h"

namespace despatch::storage {

namespace {
// rooms.last_event_id and rooms.depth (schema step 1) are unused since the event graph
// (step 6): the forward extremities say where a room's history ends.
constexpr const char* kRoomColumns = "room_id, room_version, creator, is_public, created_ts, kind";

RoomRow room_of(const Row& r) { return RoomRow{r.str(0), r.str(1), r.str(2), r.i64(3) != 0, r.i64(4), r.str(5)}; }
}  // namespace

Status SqliteRoomStore::create(const RoomRow& room) {
  return c_.exec("INSERT INTO rooms(room_id, room_version, creator, is_public, created_ts, kind) VALUES(?,?,?,?,?,?)",
                 {room.room_id, room.room_version, room.creator, int64_t{room.is_public ? 1 : 0}, room.created_ts,
                  room.kind});
}

Result<std::optional<RoomRow>> SqliteRoomStore::room(const std::string& room_id) {
  DS_ASSIGN(auto row, query_one(c_, std::string("SELECT ") + kRoomColumns + " FROM rooms WHERE room_id=?", {room_id}));
  if (!row) return std::optional<RoomRow>{};
  return std::optional<RoomRow>(room_of(*row));
}

Result<std::vector<RoomRow>> SqliteRoomStore::all_rooms() {
  DS_ASSIGN(auto rows, c_.query(std::string("SELECT ") + kRoomColumns + " FROM rooms ORDER BY room_id"));
  std::vector<RoomRow> out;
  for (auto& r : rows) out.push_back(room_of(r));
  return out;
}

Result<std::vector<std::string>> SqliteRoomStore::public_rooms() {
  DS_ASSIGN(auto rows, c_.query("SELECT room_id FROM rooms WHERE is_public=1"));
  std::vector<std::string> out;
  for (auto& r : rows) out.push_back(r.str(0));
  return out;
}

Status SqliteRoomStore::set_public(const std::string& room_id, bool is_public) {
  return c_.exec("UPDATE rooms SET is_public=? WHERE room_id=?", {int64_t{is_public ? 1 : 0}, room_id});
}

Result<std::optional<RoomAlias>> SqliteRoomStore::alias(const std::string& alias) {
  DS_ASSIGN(auto row, query_one(c_, "SELECT alias, room_id, creator FROM room_aliases WHERE alias=?", {alias}));
  if (!row) return std::optional<RoomAlias>{};
  return std::optional<RoomAlias>(RoomAlias{row->str(0), row->str(1), row->str(2)});
}

Status SqliteRoomStore::add_alias(const RoomAlias& a) {
  return c_.exec("INSERT INTO room_aliases(alias, room_id, creator) VALUES(?,?,?)", {a.alias, a.room_id, a.creator});
}

Status SqliteRoomStore::remove_alias(const std::string& alias) {
  return c_.exec("DELETE FROM room_aliases WHERE alias=?", {alias});
}

Result<std::vector<std::string>> SqliteRoomStore::aliases_of(const std::string& room_id) {
  DS_ASSIGN(auto rows, c_.query("SELECT alias FROM room_aliases WHERE room_id=? ORDER BY alias", {room_id}));
  std::vector<std::string> out;
  for (auto& r : rows) out.push_back(r.str(0));
  return out;
}

}  // namespace despatch::storage
