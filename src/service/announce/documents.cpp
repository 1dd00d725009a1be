#include "service/announce/documents.h"

#include "service/common/time.h"

#include <ctime>

namespace despatch::announce {

namespace {

json::array context(bool security) {
  json::array c{"https://www.w3.org/ns/activitystreams"};
  if (security) c.emplace_back("https://w3id.org/security/v1");
  return c;
}

json::object activity(const Urls& u, const std::string& handle, const char* type, std::string id, json::value object,
                      const storage::PostRow& p) {
  json::object a{{"@context", context(false)}, {"id", std::move(id)}, {"type", type},
                 {"actor", u.actor(handle)}, {"object", std::move(object)},
                 {"to", json::array{kPublic}}, {"cc", json::array{json::string(u.followers(handle))}}};
  a["published"] = iso_time(p.published_ts);
  return a;
}

}  // namespace

std::string iso_time(int64_t ms) { return utc_time(ms, "%Y-%m-%dT%H:%M:%SZ"); }

std::string escape_html(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        // Control characters other than tab and newline are not allowed in XML 1.0.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') continue;
        out += c;
    }
  }
  return out;
}

std::string post_html(std::string_view body) {
  std::string out = "<p>";
  size_t i = 0;
  while (i < body.size()) {
    size_t nl = body.find('\n', i);
    std::string_view line = body.substr(i, nl == std::string_view::npos ? std::string_view::npos : nl - i);
    out += escape_html(line);
    if (nl == std::string_view::npos) break;
    i = nl + 1;
    if (i < body.size() && body[i] == '\n') {
      while (i < body.size() && body[i] == '\n') ++i;
      if (i < body.size()) out += "</p><p>";
    } else if (i < body.size()) {
      out += "<br>";
    }
  }
  return out + "</p>";
}

json::object actor_document(const Urls& u, const storage::ChannelRow& c, const std::string& public_pem) {
  std::string id = u.actor(c.handle);
  json::object key{{"id", u.key_id(c.handle)}, {"owner", id}, {"publicKeyPem", public_pem}};
  json::object doc{{"@context", context(true)},
                   {"id", id},
                   {"type", "Service"},
                   {"preferredUsername", c.handle},
                   {"name", c.name},
                   {"summary", c.summary.empty() ? std::string() : post_html(c.summary)},
                   {"url", u.page(c.handle)},
                   {"inbox", u.inbox(c.handle)},
                   {"outbox", u.outbox(c.handle)},
                   {"followers", u.followers(c.handle)},
                   {"endpoints", json::object{{"sharedInbox", u.shared_inbox()}}},
                   {"manuallyApprovesFollowers", false},
                   {"discoverable", true},
                   {"published", iso_time(c.created_ts)},
                   {"publicKey", std::move(key)}};
  return doc;
}

json::object instance_actor_document(const Urls& u, const std::string& public_pem) {
  std::string id = u.instance_actor();
  json::object key{{"id", u.key_id("")}, {"owner", id}, {"publicKeyPem", public_pem}};
  json::object doc{{"@context", context(true)},
                   {"id", id},
                   {"type", "Application"},
                   {"preferredUsername", u.server_name},
                   {"name", u.server_name},
                   {"inbox", u.shared_inbox()},
                   {"outbox", id + "/outbox"},
                   {"manuallyApprovesFollowers", true},
                   {"publicKey", std::move(key)}};
  return doc;
}

json::object note(const Urls& u, const storage::PostRow& p, bool show_matrix_ids) {
  std::string content = post_html(p.body);
  if (show_matrix_ids) content += "<p>— " + escape_html(p.sender) + "</p>";
  json::object n{{"id", u.note(p.handle, p.id)},
                 {"type", "Note"},
                 {"attributedTo", u.actor(p.handle)},
                 {"content", content},
                 {"published", iso_time(p.published_ts)},
                 {"url", u.page(p.handle) + "#post-" + std::to_string(p.id)},
                 {"to", json::array{kPublic}},
                 {"cc", json::array{json::string(u.followers(p.handle))}},
                 {"sensitive", false}};
  if (p.updated_ts) n["updated"] = iso_time(p.updated_ts);
  if (!p.media.empty()) {
    json::object pic{{"type", "Image"}, {"mediaType", p.media_type}, {"url", u.media(p.handle, p.id)}, {"name", p.body}};
    n["attachment"] = json::array{std::move(pic)};
  }
  return n;
}

json::object create_activity(const Urls& u, const storage::PostRow& p, bool show_matrix_ids) {
  return activity(u, p.handle, "Create", u.note(p.handle, p.id) + "/activity", note(u, p, show_matrix_ids), p);
}

json::object update_activity(const Urls& u, const storage::PostRow& p, bool show_matrix_ids) {
  return activity(u, p.handle, "Update", u.note(p.handle, p.id) + "#update-" + std::to_string(p.updated_ts),
                  note(u, p, show_matrix_ids), p);
}

json::object delete_activity(const Urls& u, const storage::PostRow& p) {
  json::object tomb{{"id", u.note(p.handle, p.id)}, {"type", "Tombstone"}};
  return activity(u, p.handle, "Delete", u.note(p.handle, p.id) + "#delete", std::move(tomb), p);
}

json::object accept_activity(const Urls& u, const std::string& handle, const json::value& follow) {
  std::string follow_id;
  if (follow.is_object())
    if (auto* id = json_string_at(follow.as_object(), "id")) follow_id = *id;
  return json::object{{"@context", context(false)},
                      {"id", u.actor(handle) + "#accepts/" + std::to_string(std::hash<std::string>{}(follow_id))},
                      {"type", "Accept"},
                      {"actor", u.actor(handle)},
                      {"object", follow}};
}

json::object webfinger(const Urls& u, const storage::ChannelRow& c) {
  json::object self{{"rel", "self"}, {"type", kActivityJson}, {"href", u.actor(c.handle)}};
  json::object profile{{"rel", "http://webfinger.net/rel/profile-page"}, {"type", "text/html"}, {"href", u.page(c.handle)}};
  return json::object{{"subject", "acct:" + c.handle + "@" + u.server_name},
                      {"aliases", json::array{json::string(u.actor(c.handle)), json::string(u.page(c.handle))}},
                      {"links", json::array{std::move(self), std::move(profile)}}};
}

json::object nodeinfo_links(const Urls& u) {
  json::array links;
  for (const char* v : {"2.0", "2.1"})
    links.push_back(json::object{{"rel", std::string("http://nodeinfo.diaspora.software/ns/schema/") + v},
                                 {"href", u.base + "/nodeinfo/" + v}});
  return json::object{{"links", std::move(links)}};
}

json::object nodeinfo(const std::string& version, int64_t channels, int64_t posts) {
  json::object software{{"name", "despatch"}, {"version", "0.1.0"}};
  if (version == "2.1") software["homepage"] = "https://github.com/despatch";
  json::object users{{"total", channels}, {"activeMonth", channels}, {"activeHalfyear", channels}};
  return json::object{{"version", version},
                      {"software", std::move(software)},
                      {"protocols", json::array{"activitypub"}},
                      {"services", json::object{{"inbound", json::array{}}, {"outbound", json::array{"atom1.0"}}}},
                      {"openRegistrations", false},
                      {"usage", json::object{{"users", std::move(users)}, {"localPosts", posts}}},
                      {"metadata", json::object{}}};
}

json::object outbox_collection(const Urls& u, const std::string& handle, int64_t total) {
  return json::object{{"@context", context(false)},
                      {"id", u.outbox(handle)},
                      {"type", "OrderedCollection"},
                      {"totalItems", total},
                      {"first", u.outbox(handle) + "?page=true"}};
}

json::object outbox_page(const Urls& u, const std::string& handle, const std::vector<storage::PostRow>& posts,
                         int64_t before, bool more, bool show_matrix_ids) {
  json::array items;
  for (auto& p : posts) items.push_back(create_activity(u, p, show_matrix_ids));
  std::string id = u.outbox(handle) + "?page=true" + (before > 0 ? "&before=" + std::to_string(before) : "");
  json::object page{{"@context", context(false)}, {"id", id}, {"type", "OrderedCollectionPage"},
                    {"partOf", u.outbox(handle)}, {"orderedItems", std::move(items)}};
  if (more && !posts.empty()) page["next"] = u.outbox(handle) + "?page=true&before=" + std::to_string(posts.back().id);
  return page;
}

json::object followers_collection(const Urls& u, const std::string& handle, int64_t total) {
  // The count only: who follows a department is not published.
  return json::object{{"@context", context(false)}, {"id", u.followers(handle)}, {"type", "OrderedCollection"},
                      {"totalItems", total}};
}

}  // namespace despatch::announce
