// The public reads of announcement channels: everything here is what anyone on the
// internet may fetch, so it is built only from channels and their published posts.
#include "service/announce/announcements.h"

namespace despatch {

namespace {

PublicDocument activity_json(const json::object& o) {
  return PublicDocument{announce::kActivityJson, json::serialize(o)};
}

Error no_channel() { return Error::not_found("no such channel"); }

}  // namespace

Result<PublicDocument> Announcements::webfinger(const std::string& resource) {
  std::string handle;
  const std::string domain = "@" + config_.server_name;
  if (resource.rfind("acct:", 0) == 0) {
    std::string acct = resource.substr(5);
    if (!acct.empty() && acct[0] == '@') acct.erase(0, 1);
    if (acct.size() <= domain.size() || acct.compare(acct.size() - domain.size(), domain.size(), domain) != 0)
      return Error::not_found("no such account on this server");
    handle = acct.substr(0, acct.size() - domain.size());
  } else if (resource.rfind(urls_.actor(""), 0) == 0) {
    handle = resource.substr(urls_.actor("").size());
  } else {
    return Error::invalid_param("resource must be acct:HANDLE@" + config_.server_name + " or an actor URL");
  }
  DS_ASSIGN(auto c, db_.read().announce().channel(handle));
  if (!c) return Error::not_found("no such account on this server");
  return PublicDocument{"application/jrd+json", json::serialize(announce::webfinger(urls_, *c))};
}

Result<PublicDocument> Announcements::actor(const std::string& handle) {
  DS_ASSIGN(auto c, db_.read().announce().channel(handle));
  if (!c) return no_channel();
  return activity_json(announce::actor_document(urls_, *c, key_.public_pem));
}

PublicDocument Announcements::instance_actor() {
  return activity_json(announce::instance_actor_document(urls_, key_.public_pem));
}

Result<PublicDocument> Announcements::outbox(const std::string& handle, bool page, int64_t before) {
  auto& store = db_.read().announce();
  DS_ASSIGN(auto c, store.channel(handle));
  if (!c) return no_channel();
  if (!page) {
    DS_ASSIGN(int64_t total, store.post_count(handle));
    return activity_json(announce::outbox_collection(urls_, handle, total));
  }
  int limit = static_cast<int>(config_.announce.page_size);
  DS_ASSIGN(auto posts, store.posts(handle, before, limit + 1));
  bool more = static_cast<int>(posts.size()) > limit;
  if (more) posts.pop_back();
  return activity_json(announce::outbox_page(urls_, handle, posts, before, more, config_.announce.show_matrix_ids));
}

Result<PublicDocument> Announcements::followers(const std::string& handle) {
  auto& store = db_.read().announce();
  DS_ASSIGN(auto c, store.channel(handle));
  if (!c) return no_channel();
  DS_ASSIGN(int64_t total, store.follower_count(handle));
  return activity_json(announce::followers_collection(urls_, handle, total));
}

Result<PublicDocument> Announcements::note(const std::string& handle, int64_t id) {
  DS_ASSIGN(auto p, db_.read().announce().post(handle, id));
  if (!p) return Error::not_found("no such post");
  if (p->withdrawn_ts) return Error::make(410, errc::kNotFound, "this post was withdrawn");
  json::object n = announce::note(urls_, *p, config_.announce.show_matrix_ids);
  n["@context"] = "https://www.w3.org/ns/activitystreams";
  return activity_json(n);
}

PublicDocument Announcements::nodeinfo_links() {
  return PublicDocument{"application/json", json::serialize(announce::nodeinfo_links(urls_))};
}

Result<PublicDocument> Announcements::nodeinfo(const std::string& version) {
  if (version != "2.0" && version != "2.1") return Error::not_found("NodeInfo 2.0 and 2.1 are served");
  auto& store = db_.read().announce();
  DS_ASSIGN(auto channels, store.channels());
  int64_t posts = 0;
  for (auto& c : channels) {
    DS_ASSIGN(int64_t n, store.post_count(c.handle));
    posts += n;
  }
  std::string type = "application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/" + version + "#\"";
  return PublicDocument{type, json::serialize(announce::nodeinfo(version, static_cast<int64_t>(channels.size()), posts))};
}

Result<PublicDocument> Announcements::atom(const std::string& handle) {
  auto& store = db_.read().announce();
  DS_ASSIGN(auto c, store.channel(handle));
  if (!c) return no_channel();
  DS_ASSIGN(auto posts, store.posts(handle, 0, static_cast<int>(config_.announce.page_size)));
  return PublicDocument{"application/atom+xml; charset=utf-8",
                        announce::atom_feed(urls_, *c, posts, config_.announce.show_matrix_ids)};
}

Result<PublicDocument> Announcements::html(const std::string& handle, int64_t before) {
  auto& store = db_.read().announce();
  DS_ASSIGN(auto c, store.channel(handle));
  if (!c) return no_channel();
  int limit = static_cast<int>(config_.announce.page_size);
  DS_ASSIGN(auto posts, store.posts(handle, before, limit + 1));
  bool more = static_cast<int>(posts.size()) > limit;
  if (more) posts.pop_back();
  return PublicDocument{"text/html; charset=utf-8",
                        announce::html_page(urls_, *c, posts, config_.announce.show_matrix_ids, before, more)};
}

boost::asio::awaitable<Result<MediaService::Served>> Announcements::picture(const std::string& handle, int64_t id) {
  auto p = db_.read().announce().post(handle, id);
  if (!p.ok()) co_return p.error();
  if (!*p || (*p)->withdrawn_ts || (*p)->media.empty()) co_return Error::not_found("no such picture");
  std::string mxc = (*p)->media.substr(6);
  auto slash = mxc.find('/');
  if (slash == std::string::npos) co_return Error::not_found("no such picture");
  std::string server = mxc.substr(0, slash), media_id = mxc.substr(slash + 1);
  std::string no_name;
  auto served = co_await media_.download(server, media_id, no_name, 0, false);
  co_return served;
}

}  // namespace despatch
