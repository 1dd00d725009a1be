// The public documents of announcement channels, as pure functions of the channel, its posts
// and the public URLs: ActivityPub actors, notes and activities, WebFinger, NodeInfo, the
// outbox and followers collections. Only what a channel publishes goes in: no member list,
// no room ID, and Matrix user IDs only when [announce] show_matrix_ids says so.
#pragma once

#include "core/result.h"
#include "storage/announce_store.h"

#include <string>
#include <string_view>
#include <vector>

namespace despatch::announce {

inline constexpr const char* kActivityJson = "application/activity+json";
inline constexpr const char* kPublic = "https://www.w3.org/ns/activitystreams#Public";

// Where every public thing lives, under the configured base URL.
struct Urls {
  std::string base;         // e.g. https://dept.gov.example, no trailing slash
  std::string server_name;  // the WebFinger domain
  std::string actor(std::string_view h) const { return base + "/ap/users/" + std::string(h); }
  std::string key_id(std::string_view h) const { return h.empty() ? instance_actor() + "#main-key" : actor(h) + "#main-key"; }
  std::string inbox(std::string_view h) const { return actor(h) + "/inbox"; }
  std::string outbox(std::string_view h) const { return actor(h) + "/outbox"; }
  std::string followers(std::string_view h) const { return actor(h) + "/followers"; }
  std::string note(std::string_view h, int64_t id) const { return actor(h) + "/posts/" + std::to_string(id); }
  std::string page(std::string_view h) const { return base + "/announce/" + std::string(h); }
  std::string feed(std::string_view h) const { return page(h) + "/feed.atom"; }
  std::string media(std::string_view h, int64_t id) const { return page(h) + "/media/" + std::to_string(id); }
  std::string shared_inbox() const { return base + "/ap/inbox"; }
  std::string instance_actor() const { return base + "/ap/actor"; }
};

// An RFC 3339 UTC time ("2026-03-01T12:00:00Z") for milliseconds since the epoch.
std::string iso_time(int64_t ms);
// Text made safe for HTML and XML element content and attribute values.
std::string escape_html(std::string_view s);
// A post's text as HTML: escaped, paragraphs at blank lines, <br> at single line breaks.
std::string post_html(std::string_view body);

json::object actor_document(const Urls& u, const storage::ChannelRow& c, const std::string& public_pem);
json::object instance_actor_document(const Urls& u, const std::string& public_pem);
json::object note(const Urls& u, const storage::PostRow& p, bool show_matrix_ids);
// The activities a post's life sends: Create{Note}, Update{Note}, Delete{Tombstone}.
json::object create_activity(const Urls& u, const storage::PostRow& p, bool show_matrix_ids);
json::object update_activity(const Urls& u, const storage::PostRow& p, bool show_matrix_ids);
json::object delete_activity(const Urls& u, const storage::PostRow& p);
// Accept{Follow}, answering the follow activity as received.
json::object accept_activity(const Urls& u, const std::string& handle, const json::value& follow);

json::object webfinger(const Urls& u, const storage::ChannelRow& c);
json::object nodeinfo_links(const Urls& u);
json::object nodeinfo(const std::string& version, int64_t channels, int64_t posts);
// The outbox: the collection (total, first page), or one page of Create activities from
// before (0: the newest), with next when more may follow.
json::object outbox_collection(const Urls& u, const std::string& handle, int64_t total);
json::object outbox_page(const Urls& u, const std::string& handle, const std::vector<storage::PostRow>& posts,
                         int64_t before, bool more, bool show_matrix_ids);
json::object followers_collection(const Urls& u, const std::string& handle, int64_t total);

// The Atom feed and the HTML page of a channel's newest posts.
std::string atom_feed(const Urls& u, const storage::ChannelRow& c, const std::vector<storage::PostRow>& posts,
                      bool show_matrix_ids);
std::string html_page(const Urls& u, const storage::ChannelRow& c, const std::vector<storage::PostRow>& posts,
                      bool show_matrix_ids, int64_t before, bool more);

}  // namespace despatch::announce
