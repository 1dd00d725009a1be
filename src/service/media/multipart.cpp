#include "service/media/multipart.h"

#include "core/canonical_json.h"
#include "core/ids.h"

#include <cctype>

namespace despatch::media {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Error bad(const std::string& why) { return Error::make(502, errc::kUnknown, "The remote media answer " + why); }

// The value of parameter `name` in a header value such as `a/b; name="x"; other=y`.
std::optional<std::string> header_param(std::string_view value, std::string_view name) {
  size_t pos = value.find(';');
  while (pos != std::string_view::npos) {
    std::string_view rest = value.substr(pos + 1);
    size_t eq = rest.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    std::string key = lower(trim(rest.substr(0, eq)));
    std::string_view v = rest.substr(eq + 1);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    std::string parsed;
    size_t used = 0;
    if (!v.empty() && v.front() == '"') {
      size_t i = 1;
      for (; i < v.size() && v[i] != '"'; ++i) {
        if (v[i] == '\\' && i + 1 < v.size()) ++i;
        parsed.push_back(v[i]);
      }
      used = std::min(i + 1, v.size());
    } else {
      size_t end = v.find(';');
      parsed = std::string(trim(v.substr(0, end)));
      used = end == std::string_view::npos ? v.size() : end;
    }
    if (key == name) return parsed;
    size_t next = v.substr(used).find(';');
    if (next == std::string_view::npos) return std::nullopt;
    pos = static_cast<size_t>(v.data() + used + next - value.data());
  }
  return std::nullopt;
}

struct Part {
  std::string content_type, disposition, location;
  std::string_view content;
};

std::optional<Part> split_part(std::string_view raw) {
  if (raw.substr(0, 2) == "\r\n") return Part{"", "", "", raw.substr(2)};  // no headers at all
  size_t end = raw.find("\r\n\r\n");
  if (end == std::string_view::npos) return std::nullopt;
  Part p;
  p.content = raw.substr(end + 4);
  std::string_view headers = raw.substr(0, end);
  while (!headers.empty()) {
    size_t eol = headers.find("\r\n");
    std::string_view line = headers.substr(0, eol);
    headers = eol == std::string_view::npos ? std::string_view() : headers.substr(eol + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name = lower(trim(line.substr(0, colon)));
    std::string value(trim(line.substr(colon + 1)));
    if (name == "content-type") p.content_type = value;
    else if (name == "content-disposition") p.disposition = value;
    else if (name == "location") p.location = value;
  }
  return p;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

MultipartBody make_multipart(std::string_view content_type, std::string_view disposition, std::string_view bytes) {
  // 32 random letters and digits: that the file holds the delimiter by chance is negligible.
  std::string boundary = random_string(32);
  std::string body;
  body.reserve(bytes.size() + 256);
  body += "--" + boundary + "\r\nContent-Type: application/json\r\n\r\n{}\r\n";
  body += "--" + boundary + "\r\nContent-Type: ";
  body += content_type;
  body += "\r\nContent-Disposition: ";
  body += disposition;
  body += "\r\n\r\n";
  body += bytes;
  body += "\r\n--" + boundary + "--\r\n";
  return MultipartBody{"multipart/mixed; boundary=" + boundary, std::move(body)};
}

Result<MultipartMedia> parse_multipart(std::string_view content_type_header, std::string_view body) {
  std::string type = lower(trim(content_type_header.substr(0, content_type_header.find(';'))));
  if (type != "multipart/mixed") return bad("is not multipart/mixed");
  auto boundary = header_param(content_type_header, "boundary");
  if (!boundary || boundary->empty() || boundary->size() > 70) return bad("has no valid boundary");
  const std::string delimiter = "--" + *boundary;
  // The first delimiter may follow a preamble; later ones start a line.
  size_t first = body.find(delimiter);
  if (first == std::string_view::npos) return bad("has no parts");
  size_t json_start = first + delimiter.size();
  if (body.substr(json_start, 2) != "\r\n") return bad("is malformed");
  json_start += 2;
  const std::string inner = "\r\n" + delimiter;
  size_t json_end = body.find(inner, json_start);
  if (json_end == std::string_view::npos) return bad("has only one part");
  auto meta = split_part(body.substr(json_start, json_end - json_start));
  if (!meta) return bad("has a malformed metadata part");
  auto parsed = parse_strict_json(meta->content);
  if (!parsed.ok() || !parsed->is_object()) return bad("has no JSON object as its first part");
  size_t file_start = json_end + inner.size();
  if (body.substr(file_start, 2) != "\r\n") return bad("is malformed");
  file_start += 2;
  // The file part ends at the last delimiter: the bytes are searched no further than needed.
  size_t file_end = body.rfind(inner);
  if (file_end == std::string_view::npos || file_end < file_start) return bad("has no end delimiter");
  auto file = split_part(body.substr(file_start, file_end - file_start));
  if (!file) return bad("has a malformed file part");
  MultipartMedia out;
  out.content_type = std::move(file->content_type);
  out.disposition = std::move(file->disposition);
  out.location = std::move(file->location);
  out.bytes = std::string(file->content);
  return out;
}

std::optional<std::string> disposition_filename(std::string_view disposition) {
  if (auto ext = header_param(disposition, "filename*")) {
    // RFC 8187: charset'language'percent-encoded; only UTF-8 is understood.
    size_t q1 = ext->find('\'');
    size_t q2 = q1 == std::string::npos ? q1 : ext->find('\'', q1 + 1);
    if (q2 != std::string::npos && lower(ext->substr(0, q1)) == "utf-8") {
      std::string out;
      bool ok = true;
      for (size_t i = q2 + 1; i < ext->size(); ++i) {
        char c = (*ext)[i];
        if (c != '%') {
          out.push_back(c);
          continue;
        }
        int hi = i + 2 < ext->size() ? hex_value((*ext)[i + 1]) : -1;
        int lo = i + 2 < ext->size() ? hex_value((*ext)[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
          ok = false;
          break;
        }
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
      }
      if (ok) return out;
    }
  }
  return header_param(disposition, "filename");
}

}  // namespace despatch::media
