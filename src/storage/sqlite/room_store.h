#pragma once

#include "storage/conn.h"
#include "storage/room_store.h"

namespace despatch::storage {

class SqliteRoomStore final : public RoomStore {
 public:
  explicit SqliteRoomStore(Conn& c) : c_(c) {}
  Status create(const RoomRow& room) override;
  Result<std::optional<RoomRow>> room(const std::string& room_id) override;
  Result<std::vector<RoomRow>> all_rooms() override;
  Result<std::vector<std::string>> public_rooms() override;
  Status set_public(const std::string& room_id, bool is_public) override;
  Result<std::optional<RoomAlias>> alias(const std::string& alias) override;
  Status add_alias(const RoomAlias& a) override;
  Status remove_alias(const std::string& alias) override;
  Result<std::vector<std::string>> aliases_of(const std::string& room_id) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
