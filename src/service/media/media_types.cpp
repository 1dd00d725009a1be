#include "service/media/media_types.h"

#include <sodium.h>

#include <algorithm>
#include <array>

namespace despatch::media {
namespace {

bool is_token_char(char c) {
  // RFC 9110 tchar
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view family(std::string_view type) { return type.substr(0, type.find('/')); }

// Types that run script when a browser renders them: never served under a claimed name.
bool active_content(std::string_view type) {
  static constexpr std::array<std::string_view, 7> kActive = {
      "text/html", "application/xhtml+xml", "image/svg+xml", "text/javascript",
      "application/javascript", "text/xml", "application/xml"};
  return std::find(kActive.begin(), kActive.end(), type) != kActive.end();
}

// Length of the UTF-8 sequence starting at s[i], or 0 when it is not valid UTF-8.
size_t utf8_len(std::string_view s, size_t i) {
  auto b = static_cast<unsigned char>(s[i]);
  size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  uint32_t cp = n == 1 ? b : n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
  for (size_t k = 1; k < n; ++k) {
    auto c = static_cast<unsigned char>(s[i + k]);
    if ((c >> 6) != 0x2) return 0;
    cp = (cp << 6) | (c & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

}  // namespace

bool is_valid_media_id(std::string_view id) {
  if (id.empty() || id.size() > 255) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

std::string make_media_id() {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string id(24, 'A');
  for (auto& c : id) c = kAlphabet[randombytes_uniform(static_cast<uint32_t>(kAlphabet.size()))];
  return id;
}

std::optional<std::string> base_content_type(std::string_view header) {
  auto semi = header.find(';');
  std::string_view t = header.substr(0, semi);
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  auto slash = t.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == t.size() || t.size() > 127)
    return std::nullopt;
  for (size_t i = 0; i < t.size(); ++i)
    if (i != slash && !is_token_char(t[i])) return std::nullopt;
  return lower(t);
}

bool type_allowed(std::string_view type, const std::vector<std::string>& allowed) {
  for (const auto& p : allowed) {
    if (p == type) return true;
    if (p.size() > 2 && p.compare(p.size() - 2, 2, "/*") == 0 &&
        family(type) == std::string_view(p).substr(0, p.size() - 2))
      return true;
    // "prefix.*" patterns, e.g. application/vnd.oasis.opendocument.*
    if (p.size() > 1 && p.back() == '*' && type.size() >= p.size() - 1 &&
        type.substr(0, p.size() - 1) == std::string_view(p).substr(0, p.size() - 1))
      return true;
  }
  return false;
}

std::string served_content_type(const std::optional<std::string>& declared, const std::string& sniffed,
                                const std::vector<std::string>& allowed) {
  if (!declared || *declared == sniffed) return sniffed;
  const std::string& d = *declared;
  if (active_content(d) || !type_allowed(d, allowed)) return sniffed;
  // The bytes could not be recognised (encrypted attachments, unusual formats): a claim of
  // a specific type cannot be checked, so serve them as what they provably are.
  if (sniffed == "application/octet-stream") return sniffed;
  // Ogg and MP4 containers hold audio or video; libmagic names the container.
  auto container = [](std::string_view t) -> std::string_view {
    if (t == "application/ogg" || t == "audio/ogg" || t == "video/ogg" || t == "audio/opus") return "ogg";
    if (t == "video/mp4" || t == "audio/mp4" || t == "audio/x-m4a" || t == "audio/m4a") return "mp4";
    if (t == "audio/x-wav" || t == "audio/wav" || t == "audio/wave" || t == "audio/x-pn-wav") return "wav";
    if (t == "audio/mpeg" || t == "audio/mp3") return "mpeg";
    return "";
  };
  if (!container(d).empty() && container(d) == container(sniffed)) return d;
  // Plain text with a more precise claim (text/csv, text/markdown, ...).
  if (sniffed == "text/plain" && family(d) == "text") return d;
  return sniffed;
}

bool inline_safe(std::string_view type) {
  static constexpr std::array<std::string_view, 26> kInline = {
      "text/css",   "text/plain", "text/csv",    "application/json", "application/ld+json",
      "image/jpeg", "image/gif",  "image/png",   "image/apng",       "image/webp",
      "image/avif", "video/mp4",  "video/webm",  "video/ogg",        "video/quicktime",
      "audio/mp4",  "audio/webm", "audio/aac",   "audio/mpeg",       "audio/ogg",
      "audio/wave", "audio/wav",  "audio/x-wav", "audio/x-pn-wav",   "audio/flac",
      "audio/x-flac"};
  return std::find(kInline.begin(), kInline.end(), type) != kInline.end();
}

std::optional<std::string> clean_filename(std::string_view name) {
  auto slash = name.find_last_of("/\\");
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  std::string out;
  for (size_t i = 0; i < name.size();) {
    size_t n = utf8_len(name, i);
    if (n == 0) return std::nullopt;
    auto c = static_cast<unsigned char>(name[i]);
    bool control = n == 1 && (c < 0x20 || c == 0x7F);
    // U+0080..U+009F (C1 controls), U+2028/2029 line separators, U+202E bidi override.
    if (n == 2 && c == 0xC2 && static_cast<unsigned char>(name[i + 1]) < 0xA0) control = true;
    if (n == 3 && name.substr(i, 3) == "\xE2\x80\xA8") control = true;
    if (n == 3 && name.substr(i, 3) == "\xE2\x80\xA9") control = true;
    if (n == 3 && name.substr(i, 3) == "\xE2\x80\xAE") control = true;
    if (!control) {
      if (out.size() + n > 255) break;
      out.append(name.substr(i, n));
    }
    i += n;
  }
  if (out == "." || out == "..") out.clear();
  return out;
}

std::string content_disposition(std::string_view type, std::string_view filename) {
  std::string out = inline_safe(type) ? "inline" : "attachment";
  if (filename.empty()) return out;
  std::string ascii;
  bool plain = true;
  for (char ch : filename) {
    auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\' && c != '%' && c != ';') {
      ascii.push_back(ch);
    } else {
      plain = false;
      // one replacement per UTF-8 sequence, not per byte
      if (c < 0x80 || (c & 0xC0) == 0xC0) ascii.push_back('_');
    }
  }
  out += "; filename=\"" + ascii + "\"";
  if (!plain) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string enc;
    for (char ch : filename) {
      auto c = static_cast<unsigned char>(ch);
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          std::string_view("!#$&+-.^_`|~").find(ch) != std::string_view::npos) {
        enc.push_back(ch);
      } else {
        enc.push_back('%');
        enc.push_back(kHex[c >> 4]);
        enc.push_back(kHex[c & 15]);
      }
    }
    out += "; filename*=utf-8''" + enc;
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> security_headers() {
  return {{"Content-Security-Policy",
           "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; "
           "style-src 'unsafe-inline'; object-src 'self';"},
          {"Cross-Origin-Resource-Policy", "cross-origin"},
          {"X-Content-Type-Options", "nosniff"}};
}

}  // namespace despatch::media
