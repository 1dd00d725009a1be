// The classification rules on a room's lane (service/policy/classification.h): local
// events refused for their marking, topics that carry the room's label, and the marking
// each archive record keeps.
#include "core/log.h"
#include "service/policy/classification.h"
#include "service/rooms/room_writer.h"

namespace despatch {

namespace {

bool is_topic(const json::object& ev) {
  auto* key = ev.if_contains("state_key");
  return ev.at("type") == "m.room.topic" && key && key->is_string() && key->as_string().empty();
}

// The topic's text and its m.topic renderings, each starting with label.
void label_topic_content(json::object& content, const std::string& label,
                         const ClassificationScheme& scheme) {
  if (auto* t = content.if_contains("topic"); t && t->is_string())
    *t = labelled_topic(std::string_view(t->as_string()), label, scheme);
  auto* block = content.if_contains("m.topic");
  auto* texts = block && block->is_object() ? block->as_object().if_contains("m.text") : nullptr;
  if (!texts || !texts->is_array()) return;
  for (auto& entry : texts->as_array()) {
    auto* body = entry.is_object() ? entry.as_object().if_contains("body") : nullptr;
    if (body && body->is_string())
      *body = labelled_topic(std::string_view(body->as_string()), label, scheme);
  }
}

}  // namespace

Status RoomWriter::guard_classification(const RoomService::RoomState& room, json::object& ev,
                                        std::string& record) {
  ClassificationScheme scheme(svc_.config_);
  Marking marking;
  ClassificationCheck c = scheme.check_event(room.state, ev, svc_.config_.server_name, marking);
  if (!c.status.ok()) {
    if (!c.attempt.empty()) {
      DS_LOG(kWarn, "refused {}'s {} ({}) in {}", std::string(ev.at("sender").as_string()),
             c.attempt, c.marking, std::string(ev.at("room_id").as_string()));
      classification_refusal_ = json::object{{"room_id", ev.at("room_id")},
                                             {"sender", ev.at("sender")},
                                             {"attempt", c.attempt},
                                             {"marking", c.marking},
                                             {"event_type", ev.at("type")}};
    }
    return c.status;
  }
  record = marking.label();
  if (is_topic(ev) && ev.at("content").is_object())
    label_topic_content(ev["content"].as_object(),
                        scheme.topic_label(scheme.room_marking(room.state)), scheme);
  return ok_status();
}

void RoomWriter::relabel_topic(const std::string& room_id, const std::string& sender) {
  auto room = this->room(room_id);
  if (!room.ok()) return;
  ClassificationScheme scheme(svc_.config_);
  std::string label = scheme.topic_label(scheme.room_marking((*room)->state));
  const json::object* topic = find_state((*room)->state, "m.room.topic");
  json::object content;
  std::string now;
  if (topic) {
    content = topic->at("content").as_object();
    if (auto* t = content.if_contains("topic"); t && t->is_string()) now = t->as_string();
  }
  if ((!topic && label.empty()) || labelled_topic(now, label, scheme) == now) return;
  content["topic"] = now;  // append labels it
  json::object proto{{"type", "m.room.topic"},
                     {"sender", sender},
                     {"state_key", ""},
                     {"content", std::move(content)}};
  // The classification stands either way; the label follows with the next topic change.
  if (auto r = append(room_id, std::move(proto)); !r.ok())
    DS_LOG(kWarn, "{} changed the classification of {} but may not re-label its topic: {}", sender,
           room_id, r.error().message);
}

std::string RoomWriter::received_classification(const RoomService::RoomState& room,
                                                const json::object& ev) const {
  ClassificationScheme scheme(svc_.config_);
  Marking marking;
  (void)scheme.check_event(room.state, ev, svc_.config_.server_name, marking);
  return marking.label();
}

}  // namespace despatch
