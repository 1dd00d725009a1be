#include "service/rooms/room_version.h"

#include <array>

namespace despatch {
namespace {

constexpr RoomVersion make(std::string_view id, int n) {
  RoomVersion v{};
  v.id = id;
  v.event_ids = n <= 2   ? EventIdFormat::kOpaque
                : n == 3 ? EventIdFormat::kReferenceHash
                         : EventIdFormat::kUrlSafeReferenceHash;
  v.state_res = n == 1    ? StateResolution::kV1
                : n <= 11 ? StateResolution::kV2
                          : StateResolution::kV21;
  v.event_refs_with_hashes = n <= 2;
  v.key_validity_enforced = n >= 5;
  v.strict_canonical_json = n >= 6;
  v.create_has_creator = n <= 10;
  v.redacts_in_content = n >= 11;
  v.room_id_from_create = n >= 12;
  v.redaction_keeps_aliases = n <= 5;
  v.redaction_keeps_allow = n >= 8;
  v.redaction_keeps_authoriser = n >= 9;
  v.redaction_v11 = n >= 11;
  v.aliases_rule = n <= 5;
  v.redaction_rule = n <= 2;
  v.notifications_checked = n >= 6;
  v.knocking = n >= 7;
  v.restricted_joins = n >= 8;
  v.knock_restricted = n >= 10;
  v.integer_power_levels = n >= 10;
  v.infinite_creators = n >= 12;
  return v;
}

// Each row is the version before it plus what its spec page adds; the flags above say which.
constexpr std::array<RoomVersion, 12> kVersions = {
    make("1", 1), make("2", 2), make("3", 3), make("4", 4),   make("5", 5),   make("6", 6),
    make("7", 7), make("8", 8), make("9", 9), make("10", 10), make("11", 11), make("12", 12),
};

}  // namespace

const RoomVersion* find_room_version(std::string_view id) {
  for (const RoomVersion& v : kVersions) {
    if (v.id == id) return &v;
  }
  return nullptr;
}

bool is_supported_room_version(std::string_view id) { return find_room_version(id) != nullptr; }

std::span<const RoomVersion> room_versions() { return kVersions; }

const RoomVersion& latest_room_version() { return kVersions.back(); }

}  // namespace despatch
