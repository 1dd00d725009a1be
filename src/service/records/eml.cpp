// One RFC 5322 message per Matrix message, as e-mail discovery tools ingest them: From the
// sender, To the room, Date from origin_server_ts, Subject from the room and the body's first
// line, Message-ID from the event ID (In-Reply-To for replies), a text/plain UTF-8 body and
// the pictures and files as attachments when the export holds their bytes.
#include "core/base64.h"
#include "service/common/time.h"
#include "service/records/bag.h"

#include <cstdio>

namespace despatch {

namespace {

constexpr const char* kCrlf = "\r\n";

std::string str_of(const json::object& o, const char* k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

const json::object& content_of(const json::object& ev) {
  static const json::object empty;
  auto* c = ev.if_contains("content");
  return c && c->is_object() ? c->as_object() : empty;
}

bool is_ascii_printable(std::string_view s) {
  for (unsigned char ch : s)
    if (ch < 0x20 || ch > 0x7e) return false;
  return true;
}

// Control characters (a body's line breaks among them) never reach a header.
std::string one_line(std::string_view s) {
  std::string out;
  for (unsigned char ch : s) out.push_back(ch < 0x20 || ch == 0x7f ? ' ' : static_cast<char>(ch));
  return out;
}

// RFC 2047 encoded words (B encoding), split between UTF-8 characters so each stays under 76
// characters and each folded line under 78; the first line also holds `used` characters (the
// header's name and colon).
std::string encoded_words(std::string_view s, size_t used = 0) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    size_t room = (out.empty() ? 78 - std::min<size_t>(used, 50) : 77) - 12;  // 12: =?UTF-8?B? and ?=
    size_t max_bytes = std::min<size_t>(room / 4 * 3, 45);
    size_t n = std::min(max_bytes, s.size() - i);
    while (i + n < s.size() && n > 0 && (static_cast<unsigned char>(s[i + n]) & 0xC0) == 0x80) --n;
    if (n == 0) n = std::min(max_bytes, s.size() - i);
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + base64_encode(s.substr(i, n)) + "?=";
    i += n;
  }
  return out;
}

// Unstructured header text after "Name: " (name_len characters): plain when it is printable
// ASCII that fits the line, else encoded words.
std::string header_text(std::string_view s, size_t name_len) {
  std::string line = one_line(s);
  if (is_ascii_printable(line) && name_len + line.size() <= 78 && line.find("=?") == std::string::npos) return line;
  return encoded_words(line, name_len);
}

// A display name: a quoted string, or encoded words when it is not ASCII.
std::string phrase(std::string_view s) {
  std::string line = one_line(s);
  if (!is_ascii_printable(line)) return encoded_words(line);
  std::string out = "\"";
  for (char ch : line) {
    if (ch == '"' || ch == '\\') out.push_back('\\');
    out.push_back(ch);
  }
  return out + "\"";
}

bool is_atext(char ch) {
  return std::isalnum(static_cast<unsigned char>(ch)) || std::string_view("!#$%&'*+-/=?^_`{|}~").find(ch) != std::string_view::npos;
}

// A local part: a dot-atom when it is one, else a quoted string.
std::string local_part(std::string_view s) {
  bool atom = !s.empty() && s.front() != '.' && s.back() != '.' && s.find("..") == std::string_view::npos;
  for (char ch : s) atom = atom && (is_atext(ch) || ch == '.');
  if (atom) return std::string(s);
  std::string out = "\"";
  for (char ch : one_line(s)) {
    if (ch == '"' || ch == '\\') out.push_back('\\');
    out.push_back(static_cast<unsigned char>(ch) > 0x7e ? '_' : ch);
  }
  return out + "\"";
}

// A Matrix server name as a mail domain: its host, without the port.
std::string domain_of(std::string_view server) {
  if (server.starts_with("[")) {
    auto end = server.find(']');
    return "[IPv6:" + std::string(server.substr(1, end == std::string_view::npos ? server.size() - 1 : end - 1)) + "]";
  }
  auto colon = server.find(':');
  std::string host(server.substr(0, colon));
  for (char ch : host)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '.') return "invalid";
  return host.empty() ? "invalid" : host;
}

// @alice:dept.gov -> "@alice:dept.gov" <alice@dept.gov>
std::string user_address(const std::string& user_id) {
  auto colon = user_id.find(':');
  std::string local = colon == std::string::npos ? user_id.substr(1) : user_id.substr(1, colon - 1);
  std::string server = colon == std::string::npos ? "" : user_id.substr(colon + 1);
  return phrase(user_id) + " <" + local_part(local) + "@" + domain_of(server) + ">";
}

// !abc:dept.gov -> "!abc:dept.gov" <room-abc@dept.gov>
std::string room_address(const std::string& room_id) {
  auto colon = room_id.find(':');
  std::string opaque = colon == std::string::npos ? room_id.substr(1) : room_id.substr(1, colon - 1);
  std::string local = "room-";
  for (char ch : opaque) local.push_back(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' ? ch : '_');
  return phrase(room_id) + " <" + local + "@" + domain_of(colon == std::string::npos ? "" : room_id.substr(colon + 1)) + ">";
}

// $opaque (or $local:server) -> <opaque@server-of-the-room>; characters outside atext are
// written =XX so that distinct event IDs stay distinct.
std::string message_id(const std::string& event_id, const std::string& room_id) {
  std::string left;
  for (char ch : std::string_view(event_id).substr(event_id.starts_with("$") ? 1 : 0)) {
    if (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '+') {
      left.push_back(ch);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "=%02X", static_cast<unsigned char>(ch));
      left += buf;
    }
  }
  auto colon = room_id.find(':');
  return "<" + left + "@" + domain_of(colon == std::string::npos ? "" : room_id.substr(colon + 1)) + ">";
}

// base64 in 76-character lines.
std::string base64_lines(std::string_view data) {
  std::string b = base64_encode(data), out;
  out.reserve(b.size() + b.size() / 38 + 2);
  for (size_t i = 0; i < b.size(); i += 76) {
    out.append(b, i, 76);
    out += kCrlf;
  }
  return out;
}

// A text/plain body: 7bit when it is short-lined ASCII, else base64 of the UTF-8.
std::string text_part(const std::string& body) {
  std::string text;
  bool plain = true;
  size_t line = 0;
  for (char ch : body) {
    unsigned char u = static_cast<unsigned char>(ch);
    if (u > 0x7e || (u < 0x20 && ch != '\n' && ch != '\t') || ++line > 900) plain = false;
    if (ch == '\n') {
      text += kCrlf;
      line = 0;
    } else {
      text.push_back(ch);
    }
  }
  std::string out = "Content-Type: text/plain; charset=utf-8\r\n";
  if (plain) return out + "Content-Transfer-Encoding: 7bit\r\n\r\n" + text + kCrlf;
  return out + "Content-Transfer-Encoding: base64\r\n\r\n" + base64_lines(body);
}

// An attachment's file name parameter: plain when a simple token, else RFC 2231 UTF-8.
std::string filename_param(const std::string& name) {
  bool simple = !name.empty() && name.size() < 60;
  for (char ch : name)
    simple = simple && (std::isalnum(static_cast<unsigned char>(ch)) || std::string_view("._-").find(ch) != std::string_view::npos);
  if (simple) return "filename=\"" + name + "\"";
  std::string out = "filename*=UTF-8''";
  for (unsigned char ch : name) {
    if (std::isalnum(ch) || ch == '.' || ch == '-' || ch == '_') {
      out.push_back(static_cast<char>(ch));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", ch);
      out += buf;
    }
  }
  return out;
}

// The content type of an attachment header: type/subtype tokens only.
std::string safe_type(const std::string& t) {
  auto slash = t.find('/');
  bool ok = slash != std::string::npos && slash > 0 && slash + 1 < t.size();
  for (char ch : t) ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) || std::string_view("/.+-").find(ch) != std::string_view::npos);
  return ok ? t : "application/octet-stream";
}

}  // namespace

std::string eml_path(const FoundRecord& r) {
  if (r.row.type != "m.room.message" || (r.row.kind != "event" && r.row.kind != "plaintext")) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "messages/%010lld.eml", static_cast<long long>(r.row.seq));
  return buf;
}

BagFiles render_eml(const BagContent& c) {
  BagFiles out;
  // Room names as the export shows them, for subjects.
  std::map<std::string, std::string> names;
  for (auto& r : c.records())
    if (r.row.type == "m.room.name") names[r.row.room_id] = str_of(content_of(r.event), "name");
  for (auto& r : c.records()) {
    std::string path = eml_path(r);
    if (path.empty()) continue;
    const ArchiveRow& a = r.row;
    const json::object& content = content_of(r.event);
    std::string body = str_of(content, "body");
    std::string first = body.substr(0, body.find('\n'));
    if (first.size() > 60) {
      size_t n = 60;
      while (n > 0 && (static_cast<unsigned char>(first[n]) & 0xC0) == 0x80) --n;
      first = first.substr(0, n) + "...";
    }
    auto nit = names.find(a.room_id);
    std::string room_label = nit != names.end() && !nit->second.empty() ? nit->second : a.room_id;
    std::string eml;
    eml.reserve(body.size() + 1024);
    eml += "From: " + user_address(a.sender) + kCrlf;
    eml += "To: " + room_address(a.room_id) + kCrlf;
    eml += "Date: " + utc_time(a.ts, "%a, %d %b %Y %H:%M:%S +0000") + kCrlf;
    eml += "Subject: " + header_text("[" + room_label + "] " + first, 9) + kCrlf;
    eml += "Message-ID: " + message_id(a.event_id, a.room_id) + kCrlf;
    if (auto* rel = content.if_contains("m.relates_to"); rel && rel->is_object()) {
      std::string target;
      if (auto* irt = rel->as_object().if_contains("m.in_reply_to"); irt && irt->is_object())
        target = str_of(irt->as_object(), "event_id");
      if (target.empty()) target = str_of(rel->as_object(), "event_id");
      if (!target.empty() && target.starts_with("$")) {
        std::string id = message_id(target, a.room_id);
        eml += "In-Reply-To: " + id + kCrlf;
        eml += "References: " + id + kCrlf;
      }
    }
    eml += "X-Matrix-Event-ID: " + one_line(a.event_id) + kCrlf;
    eml += "X-Matrix-Room-ID: " + one_line(a.room_id) + kCrlf;
    eml += "X-Matrix-Sender: " + one_line(a.sender) + kCrlf;
    eml += "X-Despatch-Record: " + std::to_string(a.seq) + "\r\n " + a.hash + kCrlf;  // folded: 64 hex
    eml += "X-Despatch-Classification: " + header_text(a.classification, 27) + kCrlf;
    eml += "X-Despatch-Case-Reference: " + header_text(c.opened.case_ref, 27) + kCrlf;
    if (a.kind == "plaintext") eml += "X-Despatch-Decrypted: end-to-end encrypted; decrypted by the records keeper\r\n";
    eml += "MIME-Version: 1.0\r\n";
    std::vector<const ExportMedia*> attached;
    for (auto& mxc : media_refs(r.event))
      if (auto it = c.opened.media.find(mxc); it != c.opened.media.end()) attached.push_back(&it->second);
    if (attached.empty()) {
      eml += text_part(body);
    } else {
      std::string boundary = "despatch-" + std::to_string(a.seq) + "-" + a.hash.substr(0, 16);
      eml += "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n\r\n";
      eml += "--" + boundary + kCrlf + text_part(body);
      for (const ExportMedia* m : attached) {
        std::string name = !m->upload_name.empty() ? m->upload_name : media_file_name(m->mxc, m->content_type);
        if (m->mxc == str_of(content, "url") && !body.empty() && body.find('\n') == std::string::npos &&
            m->upload_name.empty())
          name = body;  // a picture's body is its file name
        eml += "--" + boundary + kCrlf;
        eml += "Content-Type: " + safe_type(m->content_type) + kCrlf;
        eml += "Content-Disposition: attachment; " + filename_param(name) + kCrlf;
        eml += "Content-Transfer-Encoding: base64\r\n\r\n" + base64_lines(m->bytes);
      }
      eml += "--" + boundary + "--\r\n";
    }
    out.emplace_back(std::move(path), std::move(eml));
  }
  return out;
}

}  // namespace despatch
