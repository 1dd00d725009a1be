// Exports for freedom-of-information and subject access requests: the matching records,
// decrypted with the records office's key, as a bundle of JSON Lines, a readable HTML
// transcript per room, a manifest of SHA-256 hashes, and the server's signature over it.
#pragma once

#include "core/crypto.h"
#include "service/records/archive.h"
#include "storage/stores.h"

#include <optional>
#include <string>
#include <vector>

namespace despatch {

struct ExportFilter {
  std::string user;  // sender, or subject of a membership event
  std::string room;
  std::optional<int64_t> from_ts, to_ts;  // inclusive, ms since the epoch
  std::string text;  // case-insensitive substring of the message body
  json::object to_json() const;
  // Parses the admin API's filter object; M_BAD_JSON / M_INVALID_PARAM on bad fields.
  static Result<ExportFilter> from_json(const json::object& o);
};

struct ExportResult {
  int64_t records = 0;
  int64_t rooms = 0;
};

// A finished bundle in memory: (path inside the bundle, contents), manifest and signature last.
struct ExportBundle {
  ExportResult counts;
  std::vector<std::pair<std::string, std::string>> files;
};

// One matching record: its clear columns and the decrypted event.
struct FoundRecord {
  ArchiveRow row;
  json::object event;
  json::object to_json() const;
};

// The records matching filter in s (a read view), decrypted, oldest first, at most limit.
Result<std::vector<FoundRecord>> find_records(storage::Stores& s, const RecordsKeyPair& keys,
                                              const ExportFilter& filter, size_t limit);

// Builds the signed bundle of the records matching filter.
Result<ExportBundle> build_export(storage::Stores& s, const RecordsKeyPair& keys, const ExportFilter& filter,
                                  const SigningKey& server_key, const std::string& case_ref);

// build_export, written into out_dir (created; must be empty or absent).
Result<ExportResult> export_records(storage::Stores& s, const RecordsKeyPair& keys,
                                    const ExportFilter& filter, const std::string& out_dir,
                                    const SigningKey& server_key, const std::string& case_ref);

struct ExportCheck {
  int64_t records = 0;
  std::string signing_key_id, signing_public_key;  // the key the manifest names (base64)
};

// Checks a bundle: every file's hash against the manifest, no file missing or added, and the
// signature. A signature only proves who signed when the key is known, so pass the server's
// public key (raw bytes) as expected_key: a bundle re-signed with another key is refused.
Result<ExportCheck> verify_export(const std::string& dir, const std::optional<std::string>& expected_key);

}  // namespace despatch
