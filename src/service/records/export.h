// Exports for freedom-of-information and subject access requests. The server hands out the
// matching records still sealed (sealed_export.h); the records office opens them on its own
// machine and writes a BagIt bag of JSON Lines, a CSV index, an HTML transcript per room and
// one EML file per message (bag.h). The offline export (`despatch records export`, reading the
// data folder with the office key at hand) takes the same two steps in one process.
#pragma once

#include "core/crypto.h"
#include "service/records/archive.h"
#include "storage/stores.h"

#include <optional>
#include <string>
#include <vector>

namespace despatch {

namespace media {
class FileStore;
}

struct ExportFilter {
  std::string user;  // sender, or subject of a membership event
  std::string room;
  std::optional<int64_t> from_ts, to_ts;  // inclusive, ms since the epoch
  std::string text;  // case-insensitive substring of the message body (opening side only)
  json::object to_json() const;
  // Parses the admin API's filter object; M_BAD_JSON / M_INVALID_PARAM on bad fields.
  static Result<ExportFilter> from_json(const json::object& o);
};

struct ExportResult {
  int64_t records = 0;
  int64_t rooms = 0;
};

// One matching record: its clear columns and the decrypted event.
struct FoundRecord {
  ArchiveRow row;
  json::object event;
  json::object to_json() const;
};

// The offline export: the sealed export of filter (filter.text applied on opening), opened
// with keys and written as a bag into out_dir (created; must be empty or absent).
Result<ExportResult> export_records(storage::Stores& s, const RecordsKeyPair& keys, const ExportFilter& filter,
                                    const std::string& out_dir, const SigningKey& server_key,
                                    const std::string& case_ref, const std::string& server_name,
                                    const media::FileStore* media_files);

struct ExportCheck {
  int64_t records = 0, payload_files = 0;
  bool content_checked = false;  // every record's event compared with the sealed one
  std::string signing_key_id, signing_public_key;  // the key the sealed export names (base64)
};

// Checks a bag: BagIt validity (check_bag), the server's signature over the sealed export it
// keeps, each records.jsonl line against the signed record of the same seq (clear columns and
// hash), the media against their signed hashes. A signature only proves who signed when the
// key is known, so pass the server's public key (raw bytes) as expected_key: a bag re-signed
// with another key is refused. With keys, each record's event is also compared with the sealed
// record opened afresh.
Result<ExportCheck> verify_export(const std::string& dir, const std::optional<std::string>& expected_key,
                                  const std::optional<RecordsKeyPair>& keys = std::nullopt);

}  // namespace despatch
