// Writing and checking the BagIt bag (RFC 8493) an export is delivered in.
#include "service/records/bag.h"

#include "core/base64.h"
#include "service/common/time.h"
#include "service/records/parallel.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace despatch {

namespace fs = std::filesystem;

namespace {

const char* kBagitTxt = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";

Result<std::string> read_whole(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return Error::not_found("cannot read " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The folders are made beforehand; a new file only (O_EXCL: nothing written over).
Status write_whole(const fs::path& p, std::string_view data) {
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Error::internal("cannot create " + p.string() + ": " + std::strerror(errno));
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return Error::internal("cannot write " + p.string() + ": " + std::strerror(errno));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (::close(fd) != 0) return Error::internal("cannot write " + p.string() + ": " + std::strerror(errno));
  return ok_status();
}

// A bag-info value on one line: control characters become spaces.
std::string info_value(std::string_view s) {
  std::string out;
  for (unsigned char ch : s) out.push_back(ch < 0x20 || ch == 0x7f ? ' ' : static_cast<char>(ch));
  return out;
}

// Manifest paths: RFC 8493 percent-encodes CR, LF and % (section 2.1.3).
std::string encode_path(std::string_view p) {
  std::string out;
  for (char ch : p) {
    if (ch == '%') out += "%25";
    else if (ch == '\n') out += "%0A";
    else if (ch == '\r') out += "%0D";
    else out.push_back(ch);
  }
  return out;
}

std::string decode_path(std::string_view p) {
  std::string out;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '%' && i + 2 < p.size()) {
      std::string_view code = p.substr(i + 1, 2);
      if (code == "25") { out.push_back('%'); i += 2; continue; }
      if (code == "0A" || code == "0a") { out.push_back('\n'); i += 2; continue; }
      if (code == "0D" || code == "0d") { out.push_back('\r'); i += 2; continue; }
    }
    out.push_back(p[i]);
  }
  return out;
}

std::string manifest_lines(const std::vector<std::pair<std::string, std::string>>& files) {
  std::string out;
  for (auto& [path, data] : files) out += hex_encode(sha256(data)) + "  " + encode_path(path) + "\n";
  return out;
}

// "<hex>  <path>" lines -> path -> hex. Malformed lines are an error.
Result<std::map<std::string, std::string>> parse_manifest(const std::string& text, const std::string& name) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    auto sp = line.find_first_of(" \t");
    auto start = sp == std::string::npos ? sp : line.find_first_not_of(" \t", sp);
    if (sp != 64 || start == std::string::npos)
      return Error::forbidden(name + " line " + std::to_string(n) + " is not \"<sha256>  <path>\"");
    std::string path = decode_path(std::string_view(line).substr(start));
    if (path.find("..") != std::string::npos || path.starts_with("/") || path.find('\\') != std::string::npos)
      return Error::forbidden(name + " names a path outside the bag: " + path);
    if (!out.emplace(path, line.substr(0, 64)).second)
      return Error::forbidden(name + " lists " + path + " twice");
  }
  return out;
}

}  // namespace

Result<ExportResult> write_bag(const BagContent& c, const std::string& out_dir, BagFiles payload) {
  std::error_code ec;
  if (fs::exists(out_dir) && !fs::is_empty(out_dir, ec))
    return Error::invalid_param("output folder " + out_dir + " is not empty");
  if (payload.empty()) {
    payload.emplace_back("records.jsonl", render_jsonl(c));
    payload.emplace_back("index.csv", render_csv(c));
    for (auto* part : {render_transcripts, render_eml, render_media})
      for (auto& f : part(c)) payload.push_back(std::move(f));
  }
  ExportResult res;
  std::set<std::string> rooms;
  for (auto& r : c.records()) rooms.insert(r.row.room_id);
  res.records = static_cast<int64_t>(c.records().size());
  res.rooms = static_cast<int64_t>(rooms.size());

  int64_t octets = 0;
  std::set<fs::path> folders{fs::path(out_dir) / "data"};
  for (auto& [path, data] : payload) {
    octets += static_cast<int64_t>(data.size());
    folders.insert((fs::path(out_dir) / "data" / path).parent_path());
  }
  for (auto& folder : folders) {
    fs::create_directories(folder, ec);
    if (ec) return Error::internal("cannot create " + folder.string() + ": " + ec.message());
  }
  // Tens of thousands of files: hashed and written on every core.
  std::vector<std::string> digests(payload.size());
  DS_TRY(parallel_for(payload.size(), [&](size_t i) -> Status {
    digests[i] = hex_encode(sha256(payload[i].second));
    return write_whole(fs::path(out_dir) / "data" / payload[i].first, payload[i].second);
  }));
  std::string manifest;
  for (size_t i = 0; i < payload.size(); ++i) manifest += digests[i] + "  " + encode_path("data/" + payload[i].first) + "\n";

  const OpenedExport& o = c.opened;
  std::string info;
  info += "Source-Organization: " + info_value(o.server_name) + "\n";
  info += "Bagging-Date: " + utc_time(now_ms(), "%Y-%m-%d") + "\n";
  info += "External-Identifier: " + info_value(o.case_ref) + "\n";
  info += "Case-Reference: " + info_value(o.case_ref) + "\n";
  info += "External-Description: Despatch records export: records.jsonl, index.csv, transcripts/, messages/ "
          "(one EML file per message), media/\n";
  info += "Payload-Oxum: " + std::to_string(octets) + "." + std::to_string(payload.size()) + "\n";
  info += "Bag-Software-Agent: despatch records\n";
  info += "Despatch-Records: " + std::to_string(res.records) + " of " + std::to_string(o.sealed_records) + " sealed\n";
  if (auto* f = o.manifest.if_contains("filter")) info += "Despatch-Filter: " + info_value(json::serialize(*f)) + "\n";
  if (!c.text_filter.empty()) info += "Despatch-Text-Filter: " + info_value(c.text_filter) + "\n";
  info += "Despatch-Signing-Key: " + info_value(o.signing_key_id) + " " + info_value(o.signing_public_key) + "\n";
  info += "Despatch-Evidence: " + std::string(kEvidenceFile) + " (the server's signed sealed export)\n";

  std::vector<std::pair<std::string, std::string>> tags{{"bagit.txt", kBagitTxt},
                                                        {"bag-info.txt", info},
                                                        {"manifest-sha256.txt", manifest},
                                                        {kEvidenceFile, o.evidence}};
  std::string tagmanifest = manifest_lines(tags);
  for (auto& [path, data] : tags) DS_TRY(write_whole(fs::path(out_dir) / path, data));
  DS_TRY(write_whole(fs::path(out_dir) / "tagmanifest-sha256.txt", tagmanifest));
  return res;
}

Result<BagCheck> check_bag(const std::string& dir) {
  auto bagit = read_whole(fs::path(dir) / "bagit.txt");
  if (!bagit.ok()) return Error::forbidden("not a bag: bagit.txt is missing");
  if (bagit->find("BagIt-Version: 1.0") == std::string::npos ||
      bagit->find("Tag-File-Character-Encoding: UTF-8") == std::string::npos)
    return Error::forbidden("bagit.txt does not declare BagIt-Version 1.0 and UTF-8");
  auto manifest_text = read_whole(fs::path(dir) / "manifest-sha256.txt");
  if (!manifest_text.ok()) return Error::forbidden("file missing from the bag: manifest-sha256.txt");
  auto tag_text = read_whole(fs::path(dir) / "tagmanifest-sha256.txt");
  if (!tag_text.ok()) return Error::forbidden("file missing from the bag: tagmanifest-sha256.txt");
  DS_ASSIGN(auto payload, parse_manifest(*manifest_text, "manifest-sha256.txt"));
  DS_ASSIGN(auto tags, parse_manifest(*tag_text, "tagmanifest-sha256.txt"));

  BagCheck check;
  auto check_listed = [&dir](const std::map<std::string, std::string>& m, bool in_payload) -> Status {
    for (auto& [path, hex] : m) {
      if (in_payload != path.starts_with("data/"))
        return Error::forbidden(std::string(in_payload ? "the payload manifest" : "the tag manifest") +
                                " lists a file in the wrong place: " + path);
      auto data = read_whole(fs::path(dir) / path);
      if (!data.ok()) return Error::forbidden("file missing from the bag: " + path);
      if (hex_encode(sha256(*data)) != hex) return Error::forbidden("file changed since export: " + path);
    }
    return ok_status();
  };
  DS_TRY(check_listed(tags, false));
  std::vector<const std::pair<const std::string, std::string>*> entries;
  for (auto& e : payload) entries.push_back(&e);
  DS_TRY(parallel_for(entries.size(), [&](size_t i) -> Status {
    std::map<std::string, std::string> one{*entries[i]};
    return check_listed(one, true);
  }));
  for (const char* required : {"bag-info.txt", "manifest-sha256.txt", "bagit.txt"})
    if (!tags.count(required)) return Error::forbidden(std::string("the tag manifest does not cover ") + required);

  // Every file on disk is in one of the manifests (the tag manifest itself aside).
  for (auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_directory()) continue;
    std::string rel = fs::relative(entry.path(), dir).generic_string();
    if (rel == "tagmanifest-sha256.txt") continue;
    if (!entry.is_regular_file()) return Error::forbidden("the bag holds something other than a file: " + rel);
    if (!payload.count(rel) && !tags.count(rel)) return Error::forbidden("file added to the bag: " + rel);
    if (rel.starts_with("data/")) {
      ++check.payload_files;
      check.payload_bytes += static_cast<int64_t>(entry.file_size());
    }
  }
  if (check.payload_files != static_cast<int64_t>(payload.size()))
    return Error::forbidden("the payload manifest lists files the bag lacks");

  DS_ASSIGN(std::string info, read_whole(fs::path(dir) / "bag-info.txt"));
  auto at = info.find("Payload-Oxum:");
  if (at == std::string::npos) return Error::forbidden("bag-info.txt has no Payload-Oxum");
  std::string oxum = info.substr(at + 13, info.find('\n', at) - at - 13);
  oxum.erase(0, oxum.find_first_not_of(" \t"));
  while (!oxum.empty() && (oxum.back() == '\r' || oxum.back() == ' ')) oxum.pop_back();
  std::string want = std::to_string(check.payload_bytes) + "." + std::to_string(check.payload_files);
  if (oxum != want) return Error::forbidden("Payload-Oxum is " + oxum + " but the payload is " + want);
  return check;
}

}  // namespace despatch
