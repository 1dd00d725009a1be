// The room version table against the spec: the feature matrix of rooms/_index.md and what each
// version's page says it changes.
#include "service/rooms/room_version.h"

#include <gtest/gtest.h>

#include <string>

namespace despatch {
namespace {

const RoomVersion& version(int n) {
  const RoomVersion* v = find_room_version(std::to_string(n));
  EXPECT_NE(v, nullptr) << n;
  return *v;
}

TEST(RoomVersionTable, KnowsExactlyOneToTwelve) {
  for (int n = 1; n <= 12; ++n) {
    EXPECT_TRUE(is_supported_room_version(std::to_string(n))) << n;
    EXPECT_EQ(version(n).id, std::to_string(n));
  }
  for (std::string_view other : {"", "0", "13", "01", "1.0", "11 ", "org.example.v1"}) {
    EXPECT_FALSE(is_supported_room_version(other)) << other;
    EXPECT_EQ(find_room_version(other), nullptr) << other;
  }
  ASSERT_EQ(room_versions().size(), 12u);
  EXPECT_EQ(room_versions().front().id, "1");
  EXPECT_EQ(latest_room_version().id, "12");
}

// rooms/_index.md "Feature matrix": knocking, restricted, knock_restricted, additional creators.
TEST(RoomVersionTable, MatchesTheSpecFeatureMatrix) {
  struct Row {
    bool knocking, restricted, knock_restricted, additional_creators;
  };
  const Row kMatrix[12] = {
      {false, false, false, false}, {false, false, false, false}, {false, false, false, false},
      {false, false, false, false}, {false, false, false, false}, {false, false, false, false},
      {true, false, false, false},  {true, true, false, false},   {true, true, false, false},
      {true, true, true, false},    {true, true, true, false},    {true, true, true, true},
  };
  for (int n = 1; n <= 12; ++n) {
    const Row& row = kMatrix[n - 1];
    const RoomVersion& v = version(n);
    EXPECT_EQ(v.knocking, row.knocking) << n;
    EXPECT_EQ(v.restricted_joins, row.restricted) << n;
    EXPECT_EQ(v.knock_restricted, row.knock_restricted) << n;
    EXPECT_EQ(v.infinite_creators, row.additional_creators) << n;
  }
}

TEST(RoomVersionTable, EventIdsAndStateResolution) {
  for (int n = 1; n <= 12; ++n) {
    const RoomVersion& v = version(n);
    EventIdFormat ids = n <= 2   ? EventIdFormat::kOpaque
                        : n == 3 ? EventIdFormat::kReferenceHash
                                 : EventIdFormat::kUrlSafeReferenceHash;
    EXPECT_EQ(v.event_ids, ids) << n;
    EXPECT_EQ(v.event_refs_with_hashes, n <= 2) << n;
    StateResolution res = n == 1    ? StateResolution::kV1
                          : n <= 11 ? StateResolution::kV2
                                    : StateResolution::kV21;
    EXPECT_EQ(v.state_res, res) << n;
  }
}

// One row per page that changes something, with the versions from which it holds.
TEST(RoomVersionTable, EachChangeStartsOrEndsWhereItsPageSays) {
  struct Change {
    const char* what;
    bool RoomVersion::*flag;
    int first;  // first version with the flag set
    int last;   // last version with the flag set
  };
  const Change kChanges[] = {
      {"v5 signing key validity", &RoomVersion::key_validity_enforced, 5, 12},
      {"v6 strict canonical JSON", &RoomVersion::strict_canonical_json, 6, 12},
      {"v11 drops content.creator", &RoomVersion::create_has_creator, 1, 10},
      {"v11 redacts in content", &RoomVersion::redacts_in_content, 11, 12},
      {"v12 room ID from the create event", &RoomVersion::room_id_from_create, 12, 12},
      {"v6 aliases lose redaction protection", &RoomVersion::redaction_keeps_aliases, 1, 5},
      {"v8 join_rules keep allow", &RoomVersion::redaction_keeps_allow, 8, 12},
      {"v9 member keeps the authoriser", &RoomVersion::redaction_keeps_authoriser, 9, 12},
      {"v11 redaction rules", &RoomVersion::redaction_v11, 11, 12},
      {"v6 drops the aliases auth rule", &RoomVersion::aliases_rule, 1, 5},
      {"v3 drops the redaction auth rule", &RoomVersion::redaction_rule, 1, 2},
      {"v6 checks notifications", &RoomVersion::notifications_checked, 6, 12},
      {"v10 integer power levels", &RoomVersion::integer_power_levels, 10, 12},
  };
  for (const Change& c : kChanges) {
    for (int n = 1; n <= 12; ++n) {
      EXPECT_EQ(version(n).*c.flag, n >= c.first && n <= c.last) << c.what << " in v" << n;
    }
  }
}

}  // namespace
}  // namespace despatch
