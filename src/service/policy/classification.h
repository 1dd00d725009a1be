// Protective markings ([classification] in the config): the room's classification state
// event, a message's own marking, protective markings written into unencrypted text, the
// label a room's topic carries and the most a room may be shared with another server.
// Pure rules over the config and a room's state: RoomWriter applies them to local events,
// the federation paths to what crosses servers.
#pragma once

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/result.h"
#include "service/rooms/state_map.h"

namespace despatch {

// The room's classification (state key ""), and the key of a message's own marking in its
// content; both hold {"marking": "OFFICIAL-SENSITIVE", "descriptors": ["PERSONAL"]}.
inline constexpr const char* kClassificationType = "gov.despatch.classification";
inline constexpr const char* kClassificationKey = "gov.despatch.classification";

struct Marking {
  std::string level;
  std::vector<std::string> descriptors;
  // "OFFICIAL-SENSITIVE PERSONAL": how records and topics show it.
  std::string label() const;
};

// A check's verdict. attempt is set when the refusal is worth auditing as suspicious
// (room_marking, message_marking, above_room, protective_marking, shared_server); malformed
// input is refused without it.
struct ClassificationCheck {
  Status status = ok_status();
  std::string attempt;
  std::string marking;  // what was tried
};

class ClassificationScheme {
 public:
  explicit ClassificationScheme(const Config& config)
      : c_(config.classification), fed_(config.federation) {}

  // The level's place in the scheme (0 lowest), -1 when it is not a level.
  int rank(std::string_view level) const;
  // The refused marking text is (any case, surrounding spaces ignored), if any.
  std::optional<std::string> refused(std::string_view text) const;
  Marking default_marking() const { return Marking{c_.default_marking, {}}; }
  // The room's classification from its state; the default when it has none (or one that
  // does not parse, such as one taken from another server with another scheme).
  Marking room_marking(const StateMap& state) const;
  // What the room's topic starts with, in brackets: "" for the default marking unless
  // label_default.
  std::string topic_label(const Marking& m) const;
  // The highest level a room may have to be shared with server.
  const std::string& cap_for(std::string_view server) const;

  // Reads a marking object (a classification event's content, a message's key) into out.
  ClassificationCheck parse(const boost::json::value& v, Marking& out) const;
  // Checks an event this server is about to append against the room's state before it.
  // record: the marking its archive record carries (its own, or the room's after it).
  ClassificationCheck check_event(const StateMap& state, const boost::json::object& ev,
                                  const std::string& server_name, Marking& record) const;
  // Whether a room marked room may be shared with server (invites, joins, knocks).
  Status check_shared(const Marking& room, std::string_view server) const;

 private:
  ClassificationCheck refuse(const std::string& attempt, const std::string& marking,
                             std::string message) const;
  ClassificationCheck check_text(const boost::json::object& content) const;

  const Classification& c_;
  const Federation& fed_;
};

// The refused marking (as configured) that text's first line carries as a protective
// marking: the marking alone, in brackets or asterisks, or followed by caveats ("TOP SECRET
// UK EYES ONLY", "SECRET//NOFORN", "SECRET: ..."), in any case; not a sentence that starts
// with the word ("Secret santa on Friday").
std::optional<std::string> protective_marking(std::string_view text,
                                              const std::vector<std::string>& refused);

// topic with any label it starts with ("[OFFICIAL] ...", a level of the scheme) replaced by
// "[label] ", or removed when label is empty.
std::string labelled_topic(std::string_view topic, const std::string& label,
                           const ClassificationScheme& scheme);

}  // namespace despatch
