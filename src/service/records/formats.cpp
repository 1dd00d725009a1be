// The bag's payload formats but EML (eml.cpp): JSON Lines, the CSV index, the HTML
// transcripts and the media files.
#include "service/records/bag.h"

#include "service/common/time.h"

#include <cstdio>
#include <map>

namespace despatch {

namespace {

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(ch);
    }
  }
  return out;
}

// Only letters, digits, '-' and '_' survive in a file name.
std::string safe_name(std::string_view s) {
  std::string out;
  for (char ch : s) out.push_back(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' ? ch : '_');
  return out;
}

const json::object& content_of(const json::object& ev) {
  static const json::object empty;
  auto* c = ev.if_contains("content");
  return c && c->is_object() ? c->as_object() : empty;
}

std::string str_of(const json::object& o, const char* k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// One line of a transcript: what a reader needs to follow the conversation.
std::string describe(const json::object& ev, const BagContent& c) {
  std::string type = str_of(ev, "type");
  const json::object& content = content_of(ev);
  auto str = [&content](const char* k) { return str_of(content, k); };
  if (type == "m.room.message" || type == "m.sticker") {
    std::string line = html_escape(str("body"));
    if (auto* rel = content.if_contains("m.relates_to"); rel && rel->is_object())
      if (auto* rt = rel->as_object().if_contains("rel_type"); rt && is_str(*rt, "m.replace"))
        return "<em>(edit)</em> " + line;
    std::string url = str("url");
    auto media = c.media_paths.find(url);
    std::string msgtype = str("msgtype");
    if (media != c.media_paths.end()) {
      std::string href = "../" + html_escape(media->second);
      if (msgtype == "m.image" || type == "m.sticker")
        return "<a href=\"" + href + "\"><img src=\"" + href + "\" alt=\"" + line + "\"></a><br>" + line;
      return "<a href=\"" + href + "\">" + line + "</a>";
    }
    if (!url.empty()) return line + " <em>(file " + html_escape(url) + " not in this export)</em>";
    return line;
  }
  if (type == "m.room.redaction") {
    std::string target = str("redacts");
    if (target.empty()) target = str_of(ev, "redacts");
    return "<em>redacted " + html_escape(target) + "</em>";
  }
  if (type == "m.room.member")
    return "<em>" + html_escape(str_of(ev, "state_key")) + ": " + html_escape(str("membership")) + "</em>";
  if (type == "m.room.name") return "<em>room name: " + html_escape(str("name")) + "</em>";
  if (type == "m.room.topic") return "<em>topic: " + html_escape(str("topic")) + "</em>";
  return "<em>" + html_escape(type) + "</em>";
}

// The same for a record of any kind: decrypted copies are marked as such, and encrypted
// events say whether the records keeper could read them.
std::string describe_record(const FoundRecord& r, const BagContent& c) {
  const ArchiveRow& row = r.row;
  if (row.kind == "plaintext") return "<em>(decrypted)</em> " + describe(r.event, c);
  if (row.kind == "undecryptable")
    return "<em>encrypted message not decrypted: " + html_escape(str_of(r.event, "reason")) + "</em>";
  if (row.type == "m.room.encrypted") return "<em>encrypted message</em>";
  if (row.kind == "announcement")  // a post of an announcement channel: published, updated, withdrawn
    return "<em>announcement " + html_escape(str_of(r.event, "action")) + " as " +
           html_escape(str_of(r.event, "url")) + "</em>";
  return describe(r.event, c);
}

// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
void csv_field(std::string& out, std::string_view v) {
  if (v.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += v;
    return;
  }
  out.push_back('"');
  for (char ch : v) {
    if (ch == '"') out.push_back('"');
    out.push_back(ch);
  }
  out.push_back('"');
}

}  // namespace

BagContent::BagContent(OpenedExport o, std::string text) : opened(std::move(o)), text_filter(std::move(text)) {
  for (auto& [mxc, m] : opened.media) media_paths[mxc] = "media/" + media_file_name(mxc, m.content_type);
}

std::string media_file_name(const std::string& mxc, const std::string& content_type) {
  static const std::map<std::string, std::string> kExt{
      {"image/png", ".png"},  {"image/jpeg", ".jpg"},       {"image/gif", ".gif"},  {"image/webp", ".webp"},
      {"image/svg+xml", ".svg"}, {"application/pdf", ".pdf"}, {"text/plain", ".txt"}, {"video/mp4", ".mp4"},
      {"audio/ogg", ".ogg"},  {"audio/mpeg", ".mp3"}};
  std::string_view rest = mxc;
  if (rest.starts_with("mxc://")) rest.remove_prefix(6);
  auto it = kExt.find(content_type);
  return safe_name(rest) + (it == kExt.end() ? ".bin" : it->second);
}

std::string transcript_path(const std::string& room_id) { return "transcripts/" + safe_name(room_id) + ".html"; }

std::string render_jsonl(const BagContent& c) {
  std::string out;
  for (auto& r : c.records()) {
    out += json::serialize(r.to_json());
    out += '\n';
  }
  return out;
}

BagFiles render_transcripts(const BagContent& c) {
  std::map<std::string, std::string> rows;  // room -> html rows
  for (auto& r : c.records()) {
    const ArchiveRow& a = r.row;
    std::string& html = rows[a.room_id];
    html += "<tr><td>";
    html += utc_time(a.ts, "%Y-%m-%d %H:%M:%S UTC");
    html += "</td><td>" + html_escape(a.sender) + "</td><td>" + describe_record(r, c) + "</td><td class=id>" +
            html_escape(a.event_id) + "</td></tr>\n";
  }
  BagFiles out;
  for (auto& [room, html] : rows) {
    std::string page = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Transcript of " +
                       html_escape(room) +
                       "</title><style>body{font-family:sans-serif}td{padding:2px 8px;vertical-align:top}"
                       ".id{color:#888;font-size:small}img{max-width:320px;max-height:320px}</style></head><body>\n"
                       "<h1>Transcript of " +
                       html_escape(room) + "</h1>\n<p>Case reference: " + html_escape(c.opened.case_ref) +
                       "</p>\n<table>\n<tr><th>Time</th><th>Sender</th><th>Message</th><th>Event</th></tr>\n" +
                       html + "</table></body></html>\n";
    out.emplace_back(transcript_path(room), std::move(page));
  }
  return out;
}

std::string render_csv(const BagContent& c) {
  std::string out =
      "seq,event_id,room_id,sender,type,kind,classification,ts,time_utc,body,eml,transcript,media,record_hash\r\n";
  for (auto& r : c.records()) {
    const ArchiveRow& a = r.row;
    std::string media;
    for (auto& mxc : media_refs(r.event)) {
      auto it = c.media_paths.find(mxc);
      if (it == c.media_paths.end()) continue;
      if (!media.empty()) media += ' ';
      media += "data/" + it->second;
    }
    std::string eml = eml_path(r);
    std::string fields[] = {std::to_string(a.seq), a.event_id, a.room_id, a.sender, a.type, a.kind, a.classification,
                            std::to_string(a.ts), utc_time(a.ts, "%Y-%m-%dT%H:%M:%SZ"),
                            str_of(content_of(r.event), "body"), eml.empty() ? "" : "data/" + eml,
                            "data/" + transcript_path(a.room_id), media, a.hash};
    bool first = true;
    for (auto& f : fields) {
      if (!first) out.push_back(',');
      first = false;
      csv_field(out, f);
    }
    out += "\r\n";
  }
  return out;
}

BagFiles render_media(const BagContent& c) {
  BagFiles out;
  for (auto& [mxc, path] : c.media_paths) out.emplace_back(path, c.opened.media.at(mxc).bytes);
  return out;
}

}  // namespace despatch
