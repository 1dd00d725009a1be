// The opened export as a BagIt bag (RFC 8493), the shape records and e-discovery tools
// ingest: payload under data/ (records.jsonl, index.csv, an HTML transcript per room, one EML
// file per message, the media the records show), bagit.txt, bag-info.txt, SHA-256 payload and
// tag manifests, and the server's signed sealed export as a tag file (sealed-export.json).
// Each format renders on its own so the benchmark can time it.
#pragma once

#include "service/records/sealed_export.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace despatch {

inline constexpr const char* kEvidenceFile = "sealed-export.json";

// (path under data/, contents)
using BagFiles = std::vector<std::pair<std::string, std::string>>;

// What an opened export holds, and the names its media get in the bag.
struct BagContent {
  explicit BagContent(OpenedExport opened, std::string text_filter = "");
  OpenedExport opened;
  std::string text_filter;
  std::map<std::string, std::string> media_paths;  // mxc -> "media/<file>"
  const std::vector<FoundRecord>& records() const { return opened.records; }
};

// The bag's name for a media file: media/<server>_<id>.<extension from its type>.
std::string media_file_name(const std::string& mxc, const std::string& content_type);

std::string render_jsonl(const BagContent& c);               // records.jsonl
BagFiles render_transcripts(const BagContent& c);           // transcripts/<room>.html
BagFiles render_eml(const BagContent& c);                   // messages/<seq>.eml
std::string render_csv(const BagContent& c);                // index.csv
BagFiles render_media(const BagContent& c);                 // media/<file>
// The EML and transcript paths of a record ("" when it has none), as the CSV index names them.
std::string eml_path(const FoundRecord& r);
std::string transcript_path(const std::string& room_id);

// Every format, then the bag's tag files, written into out_dir (created; must be empty or
// absent). payload: already rendered files, or empty to render them here.
Result<ExportResult> write_bag(const BagContent& c, const std::string& out_dir, BagFiles payload = {});

struct BagCheck {
  int64_t payload_files = 0, payload_bytes = 0;
};
// RFC 8493 validity: bagit.txt, every payload and tag manifest line, Payload-Oxum, and no
// file added to or missing from the payload or the tag files.
Result<BagCheck> check_bag(const std::string& dir);

}  // namespace despatch
