// Rooms (version, creator, kind, directory visibility) and
// room aliases.
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <optional>
#include <string>
#include <vector>

namespace despatch::storage {

struct RoomRow {
  std::string room_id, room_version, creator;
  bool is_public = false;
  int64_t created_ts = 0;
  std::string kind;  // "group" or "direct"
};

struct RoomAlias {
  std::string alias, room_id, creator;
};

class RoomStore {
 public:
  virtual ~RoomStore() = default;
  virtual Status create(const RoomRow& room) = 0;
  virtual Result<std::optional<RoomRow>> room(const std::string& room_id) = 0;
  virtual Result<std::vector<RoomRow>> all_rooms() = 0;
  virtual Result<std::vector<std::string>> public_rooms() = 0;
  virtual Status set_public(const std::string& room_id, bool is_public) = 0;

  virtual Result<std::optional<RoomAlias>> alias(const std::string& alias) = 0;
  virtual Status add_alias(const RoomAlias& a) = 0;
  virtual Status remove_alias(const std::string& alias) = 0;
  virtual Result<std::vector<std::string>> aliases_of(const std::string& room_id) = 0;
};

}  // namespace despatch::storage
