// Protective markings: the detector of refused markings in text, the marking parser, the
// rules for rooms and messages, topic labels and the federation maximum.
#include "service/policy/classification.h"

#include <gtest/gtest.h>

namespace despatch {
namespace {

namespace json = boost::json;

const std::vector<std::string> kRefused = {"SECRET", "TOP SECRET"};

std::optional<std::string> pm(std::string_view text) { return protective_marking(text, kRefused); }

TEST(ProtectiveMarking, MarkingLinesAreFoundInAnyCase) {
  EXPECT_EQ(pm("SECRET"), "SECRET");
  EXPECT_EQ(pm("secret"), "SECRET");
  EXPECT_EQ(pm("  Secret  \nthe plan follows"), "SECRET");
  EXPECT_EQ(pm("TOP SECRET"), "TOP SECRET");
  EXPECT_EQ(pm("TOP SECRET UK EYES ONLY\nbody"), "TOP SECRET");
  EXPECT_EQ(pm("top secret uk eyes only"), "TOP SECRET");
  EXPECT_EQ(pm("[SECRET]"), "SECRET");
  EXPECT_EQ(pm("**TOP SECRET**\r\nminutes"), "TOP SECRET");
  EXPECT_EQ(pm("SECRET//NOFORN"), "SECRET");
  EXPECT_EQ(pm("SECRET - STRAP1"), "SECRET");
  EXPECT_EQ(pm("SECRET: minutes of the meeting"), "SECRET");
  EXPECT_EQ(pm("== Secret =="), "SECRET");
}

TEST(ProtectiveMarking, OrdinarySentencesAreNot) {
  EXPECT_EQ(pm("This is not secret"), std::nullopt);
  EXPECT_EQ(pm("Secret santa on Friday, bring a present"), std::nullopt);
  EXPECT_EQ(pm("secret: it is my birthday"), std::nullopt);
  EXPECT_EQ(pm("Secretary of State visits on Monday"), std::nullopt);
  EXPECT_EQ(pm("SECRETARIAT"), std::nullopt);
  EXPECT_EQ(pm("hello\nSECRET"), std::nullopt);  // only the first line marks a message
  EXPECT_EQ(pm("Top secret recipe for flapjacks"), std::nullopt);
  EXPECT_EQ(pm(""), std::nullopt);
  EXPECT_EQ(pm("***"), std::nullopt);
  EXPECT_EQ(pm("OFFICIAL-SENSITIVE"), std::nullopt);
}

TEST(ProtectiveMarking, UsesTheConfiguredMarkings) {
  EXPECT_EQ(protective_marking("RESTRICTED", {"RESTRICTED"}), "RESTRICTED");
  EXPECT_EQ(protective_marking("SECRET", {"RESTRICTED"}), std::nullopt);
  EXPECT_EQ(protective_marking("SECRET", {}), std::nullopt);
}

struct SchemeTest : ::testing::Test {
  Config config;
  ClassificationScheme scheme{config};

  ClassificationCheck parse(const char* text, Marking& out) {
    return scheme.parse(json::parse(text), out);
  }

  static json::object event(const std::string& type, const char* content,
                            std::optional<std::string> key = {}) {
    json::object ev{{"type", type},
                    {"sender", "@alice:here"},
                    {"room_id", "!r:here"},
                    {"content", json::parse(content)}};
    if (key) ev["state_key"] = *key;
    return ev;
  }

  static void set(StateMap& state, const std::string& type, const std::string& key,
                  const char* content) {
    state[{type, key}] =
        json::object{{"type", type}, {"state_key", key}, {"content", json::parse(content)}};
  }

  ClassificationCheck check(const StateMap& state, const json::object& ev, Marking& record) {
    return scheme.check_event(state, ev, "here", record);
  }
};

TEST_F(SchemeTest, ParsesMarkingsOfTheScheme) {
  Marking m;
  ASSERT_TRUE(
      parse(R"({"marking": "OFFICIAL-SENSITIVE", "descriptors": ["PERSONAL", "PERSONAL"]})", m)
          .status.ok());
  EXPECT_EQ(m.level, "OFFICIAL-SENSITIVE");
  EXPECT_EQ(m.label(), "OFFICIAL-SENSITIVE PERSONAL");
  auto c = parse(R"({"marking": "RESTRICTED"})", m);
  EXPECT_EQ(c.status.error().errcode, "M_INVALID_PARAM");
  EXPECT_TRUE(c.attempt.empty());
  EXPECT_EQ(parse(R"({"marking": "OFFICIAL", "descriptors": ["SPICY"]})", m).status.error().errcode,
            "M_INVALID_PARAM");
  EXPECT_EQ(parse(R"({"marking": 3})", m).status.error().errcode, "M_BAD_JSON");
  EXPECT_EQ(parse(R"("OFFICIAL")", m).status.error().errcode, "M_BAD_JSON");
  EXPECT_EQ(
      parse(R"({"marking": "OFFICIAL", "descriptors": "PERSONAL"})", m).status.error().errcode,
      "M_BAD_JSON");
}

TEST_F(SchemeTest, RefusedAndTooHighMarkingsAreForbiddenAndSuspicious) {
  Marking m;
  auto c = parse(R"({"marking": "secret"})", m);
  EXPECT_EQ(c.status.error().status, 403);
  EXPECT_EQ(c.status.error().errcode, "M_FORBIDDEN");
  EXPECT_EQ(c.attempt, "room_marking");
  EXPECT_EQ(c.marking, "SECRET");
  EXPECT_NE(c.status.error().message.find("approved systems"), std::string::npos)
      << c.status.error().message;
  config.classification.maximum = "OFFICIAL";
  c = parse(R"({"marking": "OFFICIAL-SENSITIVE"})", m);
  EXPECT_EQ(c.status.error().errcode, "M_FORBIDDEN");
  EXPECT_EQ(c.marking, "OFFICIAL-SENSITIVE");
  EXPECT_NE(c.status.error().message.find("up to OFFICIAL only"), std::string::npos)
      << c.status.error().message;
}

TEST_F(SchemeTest, RoomsDefaultToOfficialAndMessagesStayWithinTheirRoom) {
  StateMap state;
  EXPECT_EQ(scheme.room_marking(state).level, "OFFICIAL");
  Marking record;
  // A message above an OFFICIAL room is refused, at or below it is recorded with its own marking.
  auto ev =
      event("m.room.message",
            R"({"body": "hi", "gov.despatch.classification": {"marking": "OFFICIAL-SENSITIVE"}})");
  auto c = check(state, ev, record);
  EXPECT_EQ(c.status.error().errcode, "M_FORBIDDEN");
  EXPECT_EQ(c.attempt, "above_room");
  EXPECT_NE(c.status.error().message.find("raise the room's classification"), std::string::npos);
  set(state, kClassificationType, "",
      R"({"marking": "OFFICIAL-SENSITIVE", "descriptors": ["COMMERCIAL"]})");
  EXPECT_EQ(scheme.room_marking(state).label(), "OFFICIAL-SENSITIVE COMMERCIAL");
  ASSERT_TRUE(check(state, ev, record).status.ok());
  EXPECT_EQ(record.label(), "OFFICIAL-SENSITIVE");
  ASSERT_TRUE(check(state, event("m.room.message", R"({"body": "plain"})"), record).status.ok());
  EXPECT_EQ(record.label(), "OFFICIAL-SENSITIVE COMMERCIAL");
  // A refused marking on a message is suspicious as a message marking.
  c = check(state,
            event("m.room.message",
                  R"({"body": "x", "gov.despatch.classification": {"marking": "TOP SECRET"}})"),
            record);
  EXPECT_EQ(c.attempt, "message_marking");
  // A room event the scheme cannot read counts as the default.
  set(state, kClassificationType, "", R"({"marking": "COSMIC"})");
  EXPECT_EQ(scheme.room_marking(state).level, "OFFICIAL");
}

TEST_F(SchemeTest, ProtectiveMarkingsInBodiesFileNamesAndEdits) {
  StateMap state;
  Marking record;
  auto c = check(
      state,
      event("m.room.message", R"({"msgtype": "m.text", "body": "TOP SECRET UK EYES ONLY\nplan"})"),
      record);
  EXPECT_EQ(c.status.error().errcode, "M_FORBIDDEN");
  EXPECT_EQ(c.attempt, "protective_marking");
  EXPECT_EQ(c.marking, "TOP SECRET");
  c = check(state,
            event("m.room.message",
                  R"({"msgtype": "m.file", "body": "notes", "filename": "SECRET - plan.pdf"})"),
            record);
  EXPECT_EQ(c.attempt, "protective_marking");
  EXPECT_NE(c.status.error().message.find("file name"), std::string::npos);
  c = check(state,
            event("m.room.message",
                  R"({"msgtype": "m.file", "body": "a", "filename": "Top Secret.docx"})"),
            record);
  EXPECT_EQ(c.marking, "TOP SECRET");
  EXPECT_TRUE(
      check(state,
            event("m.room.message", R"({"body": "a", "filename": "secret-santa-list.xlsx"})"),
            record)
          .status.ok());
  c = check(state,
            event("m.room.message", R"({"body": "* fixed", "m.new_content": {"body": "secret"}})"),
            record);
  EXPECT_EQ(c.attempt, "protective_marking");
  EXPECT_TRUE(
      check(state, event("m.room.message", R"({"body": "Secret santa list is up"})"), record)
          .status.ok());
  // Encrypted content is opaque: nothing to read.
  EXPECT_TRUE(check(state,
                    event("m.room.encrypted",
                          R"({"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "SECRET"})"),
                    record)
                  .status.ok());
}

TEST_F(SchemeTest, RoomChangesAreCheckedAgainstTheServersInTheRoom) {
  config.federation.max_classification["b.example"] = "OFFICIAL";
  StateMap state;
  set(state, "m.room.member", "@alice:here", R"({"membership": "join"})");
  Marking record;
  auto raise = event(kClassificationType, R"({"marking": "OFFICIAL-SENSITIVE"})", "");
  ASSERT_TRUE(check(state, raise, record).status.ok());
  EXPECT_EQ(record.level, "OFFICIAL-SENSITIVE");
  set(state, "m.room.member", "@bob:b.example", R"({"membership": "invite"})");
  auto c = check(state, raise, record);
  EXPECT_EQ(c.attempt, "shared_server");
  EXPECT_NE(c.status.error().message.find("b.example"), std::string::npos);
  set(state, "m.room.member", "@bob:b.example", R"({"membership": "leave"})");
  EXPECT_TRUE(check(state, raise, record).status.ok());
  EXPECT_EQ(check(state, event(kClassificationType, R"({"marking": "OFFICIAL"})", "x"), record)
                .status.error()
                .errcode,
            "M_BAD_JSON");
}

TEST_F(SchemeTest, FederationCaps) {
  config.federation.max_classification["b.example"] = "OFFICIAL";
  config.federation.max_classification["*"] = "OFFICIAL-SENSITIVE";
  Marking sensitive{"OFFICIAL-SENSITIVE", {}};
  EXPECT_EQ(scheme.cap_for("b.example"), "OFFICIAL");
  EXPECT_EQ(scheme.cap_for("c.example"), "OFFICIAL-SENSITIVE");
  EXPECT_EQ(scheme.check_shared(sensitive, "b.example").error().errcode, "M_FORBIDDEN");
  EXPECT_TRUE(scheme.check_shared(sensitive, "c.example").ok());
  EXPECT_TRUE(scheme.check_shared(scheme.default_marking(), "b.example").ok());
  // No cap is above the server's own maximum.
  config.classification.maximum = "OFFICIAL";
  EXPECT_EQ(scheme.cap_for("c.example"), "OFFICIAL");
}

TEST_F(SchemeTest, TopicLabels) {
  EXPECT_EQ(scheme.topic_label(scheme.default_marking()), "");
  EXPECT_EQ(scheme.topic_label(Marking{"OFFICIAL-SENSITIVE", {"PERSONAL"}}),
            "OFFICIAL-SENSITIVE PERSONAL");
  EXPECT_EQ(labelled_topic("Budget", "OFFICIAL-SENSITIVE", scheme), "[OFFICIAL-SENSITIVE] Budget");
  EXPECT_EQ(labelled_topic("[OFFICIAL-SENSITIVE] Budget", "OFFICIAL-SENSITIVE PERSONAL", scheme),
            "[OFFICIAL-SENSITIVE PERSONAL] Budget");
  EXPECT_EQ(labelled_topic("[OFFICIAL-SENSITIVE PERSONAL]  Budget", "", scheme), "Budget");
  EXPECT_EQ(labelled_topic("", "OFFICIAL-SENSITIVE", scheme), "[OFFICIAL-SENSITIVE]");
  EXPECT_EQ(labelled_topic("[draft] Budget", "OFFICIAL-SENSITIVE", scheme),
            "[OFFICIAL-SENSITIVE] [draft] Budget");
  config.classification.label_default = true;
  EXPECT_EQ(scheme.topic_label(scheme.default_marking()), "OFFICIAL");
}

TEST(ClassificationConfig, ChecksTheScheme) {
  Config c;
  EXPECT_TRUE(check_classification(c).ok());
  c.classification.maximum = "SECRET";
  EXPECT_FALSE(check_classification(c).ok());
  c = Config{};
  c.classification.levels.push_back("SECRET");
  EXPECT_FALSE(check_classification(c).ok());
  c = Config{};
  c.classification.default_marking = "OFFICIAL-SENSITIVE";
  c.classification.maximum = "OFFICIAL";
  EXPECT_FALSE(check_classification(c).ok());
  c = Config{};
  c.federation.max_classification["b.example"] = "TOP SECRET";
  EXPECT_FALSE(check_classification(c).ok());
  c = Config{};
  c.federation.max_classification["not a server"] = "OFFICIAL";
  EXPECT_FALSE(check_classification(c).ok());
}

}  // namespace
}  // namespace despatch
