#include "service/policy/classification.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "core/ids.h"

namespace despatch {

namespace json = boost::json;

namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& ch : out) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return out;
}

bool has_lower(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char ch) { return ch >= 'a' && ch <= 'z'; });
}

std::string_view trim(std::string_view s, std::string_view chars) {
  auto b = s.find_first_not_of(chars);
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(chars);
  return s.substr(b, e - b + 1);
}

// Decoration around a marking line: "[SECRET]", "**SECRET**", "== SECRET ==".
constexpr std::string_view kDecoration = " \t*_#[](){}<>|=~.";
// What may separate a marking from its caveats.
constexpr std::string_view kSeparators = " \t/-:,|";

// Caveats and descriptors that follow a marking in any case ("top secret uk eyes only").
bool known_caveat(std::string_view rest) {
  static const char* kCaveats[] = {
      "UK EYES ONLY", "EYES ONLY", "EYES ALPHA", "STRAP",  "NOFORN", "ATOMAL", "CODEWORD",
      "REL ",         "PERSONAL",  "COMMERCIAL", "LOCSEN", "UK ",    "NATO"};
  std::string u = upper(rest);
  for (const char* c : kCaveats)
    if (u.rfind(c, 0) == 0) return true;
  return false;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

std::string Marking::label() const {
  std::string out = level;
  for (auto& d : descriptors) out += " " + d;
  return out;
}

std::optional<std::string> protective_marking(std::string_view text,
                                              const std::vector<std::string>& refused) {
  std::string_view line = text.substr(0, text.find_first_of("\r\n"));
  line = trim(line, kDecoration);
  if (line.empty()) return std::nullopt;
  std::vector<std::string> order = refused;
  // "TOP SECRET" before "SECRET", should a scheme list one inside the other.
  std::sort(order.begin(), order.end(), [](auto& a, auto& b) { return a.size() > b.size(); });
  std::string u = upper(line);
  for (auto& marking : order) {
    std::string m = upper(marking);
    if (m.empty() || u.rfind(m, 0) != 0) continue;
    std::string_view rest = line.substr(m.size());
    if (rest.empty()) return marking;
    if (std::isalnum(static_cast<unsigned char>(rest.front()))) continue;  // "SECRETARY"
    std::string_view sep = rest.substr(0, rest.find_first_not_of(kSeparators));
    std::string_view caveat = trim(rest, kSeparators);
    if (caveat.empty()) return marking;
    // Capitals throughout are how markings and caveats are written ("SECRET STRAP1"); a
    // marking in capitals set off with punctuation labels what follows ("SECRET: ...").
    if (!has_lower(caveat) || known_caveat(caveat)) return marking;
    if (!has_lower(line.substr(0, m.size())) && sep.find_first_of("/-:|") != std::string_view::npos)
      return marking;
  }
  return std::nullopt;
}

int ClassificationScheme::rank(std::string_view level) const {
  auto it = std::find(c_.levels.begin(), c_.levels.end(), level);
  return it == c_.levels.end() ? -1 : static_cast<int>(it - c_.levels.begin());
}

std::optional<std::string> ClassificationScheme::refused(std::string_view text) const {
  std::string u = upper(trim(text, " \t"));
  for (auto& r : c_.refused)
    if (upper(r) == u) return r;
  return std::nullopt;
}

Marking ClassificationScheme::room_marking(const StateMap& state) const {
  const json::object* ev = find_state(state, kClassificationType);
  if (!ev) return default_marking();
  auto* content = ev->if_contains("content");
  Marking m;
  if (!content || !parse(*content, m).status.ok()) return default_marking();
  return m;
}

std::string ClassificationScheme::topic_label(const Marking& m) const {
  if (!c_.label_default && m.level == c_.default_marking && m.descriptors.empty()) return "";
  return m.label();
}

const std::string& ClassificationScheme::cap_for(std::string_view server) const {
  auto it = fed_.max_classification.find(std::string(server));
  if (it == fed_.max_classification.end()) it = fed_.max_classification.find("*");
  const std::string& cap = it == fed_.max_classification.end() ? c_.maximum : it->second;
  return rank(cap) < rank(c_.maximum) ? cap : c_.maximum;
}

ClassificationCheck ClassificationScheme::refuse(const std::string& attempt,
                                                 const std::string& marking,
                                                 std::string message) const {
  return ClassificationCheck{Error::forbidden(std::move(message)), attempt, marking};
}

ClassificationCheck ClassificationScheme::parse(const json::value& v, Marking& out) const {
  auto bad = [](std::string m) {
    return ClassificationCheck{Error::bad_json(std::move(m)), "", ""};
  };
  if (!v.is_object())
    return bad("A classification is an object: {\"marking\": \"" + c_.default_marking + "\"}");
  auto* marking = v.as_object().if_contains("marking");
  if (!marking || !marking->is_string()) return bad("A classification needs a string marking");
  std::string level(marking->as_string());
  if (auto r = refused(level))
    return refuse(
        "room_marking", *r,
        *r + " material must never be sent through this server, which carries information up to " +
            c_.maximum + " only. " + c_.refused_advice);
  if (rank(level) < 0)
    return ClassificationCheck{
        Error::invalid_param(level + " is not a marking of this server's scheme (" +
                             join(c_.levels) + ")"),
        "", ""};
  out.level = level;
  out.descriptors.clear();
  if (auto* d = v.as_object().if_contains("descriptors"); d && !d->is_null()) {
    if (!d->is_array()) return bad("descriptors must be a list of strings");
    std::set<std::string> seen;
    for (auto& e : d->as_array()) {
      if (!e.is_string()) return bad("descriptors must be a list of strings");
      std::string name(e.as_string());
      if (std::find(c_.descriptors.begin(), c_.descriptors.end(), name) == c_.descriptors.end())
        return ClassificationCheck{
            Error::invalid_param(name + " is not a descriptor of this server's scheme (" +
                                 join(c_.descriptors) + ")"),
            "", ""};
      if (seen.insert(name).second) out.descriptors.push_back(std::move(name));
    }
  }
  if (rank(level) > rank(c_.maximum))
    return refuse("room_marking", level,
                  "This server carries information up to " + c_.maximum + " only, and " + level +
                      " is above it: share " + level +
                      " information only through a system approved for it.");
  return {};
}

ClassificationCheck ClassificationScheme::check_text(const json::object& content) const {
  for (const char* key : {"body", "filename"}) {
    auto* v = content.if_contains(key);
    if (!v || !v->is_string()) continue;
    std::string_view text(v->as_string());
    // A file name's extension is no caveat: "SECRET.docx" is marked SECRET.
    if (key == std::string("filename"))
      if (auto dot = text.rfind('.');
          dot != std::string_view::npos && dot > 0 && text.size() - dot <= 6)
        text = text.substr(0, dot);
    if (auto m = protective_marking(text, c_.refused))
      return refuse(
          "protective_marking", *m,
          std::string(key == std::string("body") ? "The message" : "The file name") +
              " starts with the protective marking " + *m + ": " + *m +
              " material must never be sent through this server, which carries information up to " +
              c_.maximum + " only. " + c_.refused_advice);
  }
  return {};
}

ClassificationCheck ClassificationScheme::check_event(const StateMap& state, const json::object& ev,
                                                      const std::string& server_name,
                                                      Marking& record) const {
  Marking room = room_marking(state);
  record = room;
  auto* cv = ev.if_contains("content");
  if (!cv || !cv->is_object()) return {};
  const json::object& content = cv->as_object();
  const std::string type(ev.at("type").as_string());
  bool is_state = ev.contains("state_key");
  if (type == kClassificationType && is_state) {
    if (!ev.at("state_key").as_string().empty())
      return ClassificationCheck{Error::bad_json("A room's classification has an empty state key"),
                                 "", ""};
    Marking next;
    ClassificationCheck c = parse(content, next);
    if (!c.status.ok()) return c;
    // A room already shared with a server stays within what that server may hold.
    std::set<std::string> servers;
    for (auto it = state.lower_bound({"m.room.member", ""});
         it != state.end() && it->first.first == "m.room.member"; ++it) {
      auto* m = it->second.at("content").as_object().if_contains("membership");
      if (!m || !m->is_string() || (m->as_string() != "join" && m->as_string() != "invite"))
        continue;
      std::string server(server_name_of(it->first.second));
      if (server != server_name) servers.insert(server);
    }
    for (auto& server : servers)
      if (rank(next.level) > rank(cap_for(server)))
        return refuse(
            "shared_server", next.level,
            server + " takes part in this room and may hold information up to " + cap_for(server) +
                " only: its members must leave before the room is raised to " + next.level + ".");
    record = next;
    return {};
  }
  if (is_state) return {};
  if (auto* own = content.if_contains(kClassificationKey)) {
    Marking m;
    ClassificationCheck c = parse(*own, m);
    if (!c.status.ok()) {
      if (!c.attempt.empty()) c.attempt = "message_marking";
      return c;
    }
    if (rank(m.level) > rank(room.level))
      return refuse(
          "above_room", m.level,
          "This message is marked " + m.level + ", above its room's classification " + room.level +
              ": ask a room admin to raise the room's classification first, or send it in a room "
              "classified " +
              m.level + ".");
    record = m;
  }
  // Encrypted content is opaque here; what the server can read, it checks.
  ClassificationCheck text = check_text(content);
  if (!text.status.ok()) return text;
  if (auto* nc = content.if_contains("m.new_content"); nc && nc->is_object())
    return check_text(nc->as_object());
  return {};
}

Status ClassificationScheme::check_shared(const Marking& room, std::string_view server) const {
  const std::string& cap = cap_for(server);
  if (rank(room.level) <= rank(cap)) return ok_status();
  return Error::forbidden("This room is classified " + room.level + ", above " + cap +
                          ", the most that may be shared with " + std::string(server) +
                          ": it cannot be shared with that server.");
}

std::string labelled_topic(std::string_view topic, const std::string& label,
                           const ClassificationScheme& scheme) {
  std::string_view rest = topic;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close != std::string_view::npos) {
      std::string_view inside = rest.substr(1, close - 1);
      std::string_view level = inside.substr(0, inside.find(' '));
      if (scheme.rank(level) >= 0 || scheme.refused(level)) {
        rest = rest.substr(close + 1);
        rest = rest.substr(std::min(rest.size(), rest.find_first_not_of(' ')));
      }
    }
  }
  if (label.empty()) return std::string(rest);
  return "[" + label + "]" + (rest.empty() ? "" : " " + std::string(rest));
}

}  // namespace despatch
