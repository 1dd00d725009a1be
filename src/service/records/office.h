// What the records office asks of the archive, through the admin API and the command line:
// verification and exports. Each reads committed data through the calling thread's read view,
// so a long read runs on whichever thread the caller picks (the admin API's records pool,
// never an I/O thread).
#pragma once

#include "core/crypto.h"
#include "service/media/file_store.h"
#include "service/records/export.h"
#include "service/records/sealed_export.h"
#include "service/records/verify.h"
#include "service/records/witness.h"
#include "storage/database.h"

namespace despatch {

class RecordsOffice {
 public:
  // server_key: the key that signs checkpoints and sealed exports. media_root: the media
  // folder whose files travel with exports ("" for none).
  RecordsOffice(storage::Database& db, const SigningKey& server_key, std::string server_name = "",
                std::string media_root = "")
      : db_(db), key_(server_key), server_name_(std::move(server_name)), has_media_(!media_root.empty()),
        media_(std::move(media_root)) {}

  Result<VerifyReport> verify_archive();
  // One page for a witness: the newest signed heads and the chains' content hashes.
  Result<json::object> witness_page(const WitnessPageRequest& req, const std::string& server_name);
  // The records matching filter (clear columns only; filter.text is refused), still sealed,
  // with their data keys and media, signed: what the records office opens on its side.
  Result<SealedExport> sealed_export(const ExportFilter& filter, const std::string& case_ref);
  // Offline: the bag of the records matching filter, opened with keys, written into out_dir
  // (created; must be empty or absent).
  Result<ExportResult> export_to(const RecordsKeyPair& keys, const ExportFilter& filter, const std::string& out_dir,
                                 const std::string& case_ref);

 private:
  storage::Database& db_;
  const SigningKey& key_;
  std::string server_name_;
  bool has_media_;
  media::FileStore media_;
};

}  // namespace despatch
