// Sealed exports: the server hands out the records of a case still sealed, with the sealed
// data keys they need, signed; the records office opens them on its own machine, so the
// office's secret key never reaches the server. The format (JSON, base64) is described in
// design-notes.md, "Sealed exports and export formats", for openers other than ours (the
// console's, with libsodium in the browser).
#pragma once

#include "core/crypto.h"
#include "service/media/file_store.h"
#include "service/records/export.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace despatch {

inline constexpr const char* kSealedExportFormat = "despatch-sealed-export-1";

// A media file a record refers to, as it travels with a sealed export.
struct ExportMedia {
  std::string mxc, content_type, upload_name, sha256;  // sha256: hex of bytes
  std::string bytes;
};

struct SealedExportOptions {
  std::string case_ref;
  std::string server_name;
  const media::FileStore* media_files = nullptr;  // null: no media travels along
  int64_t media_limit_bytes = 64 << 20;            // media past this total is listed as omitted
  // More matching records than this is M_TOO_LARGE (the reply is built in memory): a few
  // users' years fit; a whole department's archive is asked for room by room or by period.
  int64_t max_records = 1'000'000;
};

struct SealedExport {
  json::object document;  // what the admin API returns and open-export reads
  int64_t records = 0, media = 0, media_omitted = 0;
};

// Server side, in a read view: the records matching filter by their clear columns (user, room,
// time; filter.text must be empty, it needs the content), sealed, with their data keys and the
// media their live events refer to, and the server's signature over the manifest.
Result<SealedExport> build_sealed_export(storage::Stores& s, const ExportFilter& filter, const SigningKey& server_key,
                                         const SealedExportOptions& opt);

// A sealed export opened on the records office's side.
struct OpenedExport {
  json::object manifest;              // the signed manifest, parsed
  std::string case_ref, server_name;  // from the manifest
  std::string signing_key_id, signing_public_key;  // base64, as the manifest names it
  std::vector<FoundRecord> records;   // oldest first; only those matching text when given
  int64_t sealed_records = 0;         // how many the server sent
  std::map<std::string, ExportMedia> media;  // by mxc URI, each checked against the manifest
  std::string evidence;  // the sealed export without media bytes: the bag keeps it as proof
};

// Checks the document (the signature over its manifest, by expected_server_key when given; the
// records' hashes and chain links; every part against the manifest) and opens the records with
// keys. text: a case-insensitive substring the message body must contain ("": every record).
// media_bytes_expected: false for the evidence copy a bag keeps, which lists the media without
// their bytes.
Result<OpenedExport> open_sealed_export(std::string_view document_text, const RecordsKeyPair& keys,
                                        const std::string& text,
                                        const std::optional<std::string>& expected_server_key,
                                        bool media_bytes_expected = true);

// The checks of open_sealed_export without the key: the signature, the records' hashes, the
// parts' digests. Returns the sealed records (clear columns and sealed blob) in seq order.
struct CheckedSealedExport {
  json::object manifest;
  std::string signing_key_id, signing_public_key;
  std::vector<ArchiveRow> rows;
  std::map<int64_t, std::string> data_keys;  // id -> sealed box (base64)
};
Result<CheckedSealedExport> check_sealed_export(std::string_view document_text,
                                                const std::optional<std::string>& expected_server_key,
                                                bool media_bytes_expected);

// The mxc:// URIs an event's content refers to (url, info.thumbnail_url), in order, once each.
std::vector<std::string> media_refs(const json::object& event);

}  // namespace despatch
