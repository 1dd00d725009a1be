// The Atom feed (RFC 4287) and the plain HTML page of a channel: for feed readers and for
// people who use neither Matrix nor the fediverse. The page is plain semantic HTML with no
// script, readable by screen readers and without styles.
#include "service/announce/documents.h"

namespace despatch::announce {

namespace {

std::string post_id_text(const storage::PostRow& p) { return "post-" + std::to_string(p.id); }

}  // namespace

std::string atom_feed(const Urls& u, const storage::ChannelRow& c, const std::vector<storage::PostRow>& posts,
                      bool show_matrix_ids) {
  int64_t updated = c.created_ts;
  for (auto& p : posts) updated = std::max({updated, p.published_ts, p.updated_ts});
  std::string x = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n";
  x += "  <id>" + escape_html(u.feed(c.handle)) + "</id>\n";
  x += "  <title>" + escape_html(c.name) + "</title>\n";
  if (!c.summary.empty()) x += "  <subtitle>" + escape_html(c.summary) + "</subtitle>\n";
  x += "  <updated>" + iso_time(updated) + "</updated>\n";
  x += "  <author><name>" + escape_html(c.name) + "</name><uri>" + escape_html(u.page(c.handle)) + "</uri></author>\n";
  x += "  <link rel=\"self\" type=\"application/atom+xml\" href=\"" + escape_html(u.feed(c.handle)) + "\"/>\n";
  x += "  <link rel=\"alternate\" type=\"text/html\" href=\"" + escape_html(u.page(c.handle)) + "\"/>\n";
  x += "  <generator>Despatch</generator>\n";
  for (auto& p : posts) {
    std::string first_line = p.body.substr(0, p.body.find('\n'));
    if (first_line.size() > 120) first_line = first_line.substr(0, 117) + "...";
    std::string content = post_html(p.body);
    if (!p.media.empty())
      content += "<p><img src=\"" + escape_html(u.media(p.handle, p.id)) + "\" alt=\"" + escape_html(p.body) + "\"></p>";
    x += "  <entry>\n";
    x += "    <id>" + escape_html(u.note(p.handle, p.id)) + "</id>\n";
    x += "    <title>" + escape_html(first_line.empty() ? "Notice" : first_line) + "</title>\n";
    x += "    <published>" + iso_time(p.published_ts) + "</published>\n";
    x += "    <updated>" + iso_time(p.updated_ts ? p.updated_ts : p.published_ts) + "</updated>\n";
    if (show_matrix_ids) x += "    <author><name>" + escape_html(p.sender) + "</name></author>\n";
    x += "    <link rel=\"alternate\" type=\"text/html\" href=\"" + escape_html(u.page(p.handle) + "#" + post_id_text(p)) +
         "\"/>\n";
    x += "    <content type=\"html\">" + escape_html(content) + "</content>\n";
    x += "  </entry>\n";
  }
  return x + "</feed>\n";
}

std::string html_page(const Urls& u, const storage::ChannelRow& c, const std::vector<storage::PostRow>& posts,
                      bool show_matrix_ids, int64_t before, bool more) {
  std::string name = escape_html(c.name);
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  h += "<title>" + name + "</title>\n";
  h += "<link rel=\"alternate\" type=\"application/atom+xml\" title=\"" + name + "\" href=\"" +
       escape_html(u.feed(c.handle)) + "\">\n";
  h += "<link rel=\"alternate\" type=\"application/activity+json\" href=\"" + escape_html(u.actor(c.handle)) + "\">\n";
  h += "<style>body{font-family:sans-serif;max-width:40em;margin:1em auto;padding:0 1em;line-height:1.5}"
       "article{border-top:1px solid #767676;padding:0.5em 0}img{max-width:100%;height:auto}</style>\n";
  h += "</head>\n<body>\n<header>\n<h1>" + name + "</h1>\n";
  if (!c.summary.empty()) h += post_html(c.summary) + "\n";
  h += "<p>Follow <strong>@" + escape_html(c.handle) + "@" + escape_html(u.server_name) +
       "</strong> from Mastodon or any ActivityPub service, or subscribe to the <a href=\"" +
       escape_html(u.feed(c.handle)) + "\">Atom feed</a>.</p>\n</header>\n<main>\n";
  if (posts.empty()) h += "<p>No notices have been published.</p>\n";
  for (auto& p : posts) {
    h += "<article id=\"" + post_id_text(p) + "\">\n";
    h += "<p><time datetime=\"" + iso_time(p.published_ts) + "\">" + iso_time(p.published_ts).substr(0, 10) + " " +
         iso_time(p.published_ts).substr(11, 5) + " UTC</time>";
    if (p.updated_ts) h += " (edited <time datetime=\"" + iso_time(p.updated_ts) + "\">" + iso_time(p.updated_ts).substr(0, 10) + "</time>)";
    h += "</p>\n" + post_html(p.body) + "\n";
    if (!p.media.empty())
      h += "<p><img src=\"" + escape_html(u.media(p.handle, p.id)) + "\" alt=\"" + escape_html(p.body) + "\"></p>\n";
    if (show_matrix_ids) h += "<p>Posted by " + escape_html(p.sender) + "</p>\n";
    h += "</article>\n";
  }
  h += "</main>\n";
  if (more && !posts.empty())
    h += "<nav aria-label=\"Older notices\"><a href=\"" + escape_html(u.page(c.handle)) +
         "?before=" + std::to_string(posts.back().id) + "\">Older notices</a></nav>\n";
  if (before > 0) h += "<nav aria-label=\"Newest notices\"><a href=\"" + escape_html(u.page(c.handle)) + "\">Newest notices</a></nav>\n";
  return h + "</body>\n</html>\n";
}

}  // namespace despatch::announce
