// What the records office asks of the archive, through the admin API and the command line:
// verification, search and export. Each reads committed data through the calling thread's
// read view, so a long read runs on whichever thread the caller picks (the admin API's
// records pool, never an I/O thread).
#pragma once

#include "core/crypto.h"
#include "service/records/export.h"
#include "service/records/verify.h"
#include "service/records/witness.h"
#include "storage/database.h"

namespace despatch {

class RecordsOffice {
 public:
  // server_key: the key that signs checkpoints and export manifests.
  RecordsOffice(storage::Database& db, const SigningKey& server_key) : db_(db), key_(server_key) {}

  Result<VerifyReport> verify_archive();
  // One page for a witness: the newest signed heads and the chains' content hashes.
  Result<json::object> witness_page(const WitnessPageRequest& req, const std::string& server_name);
  // The records matching filter, decrypted, oldest first, at most limit.
  Result<std::vector<FoundRecord>> search(const RecordsKeyPair& keys, const ExportFilter& filter, size_t limit);
  // The signed bundle of the records matching filter.
  Result<ExportBundle> build_export(const RecordsKeyPair& keys, const ExportFilter& filter,
                                    const std::string& case_ref);
  // The same, written into out_dir (created; must be empty or absent).
  Result<ExportResult> export_to(const RecordsKeyPair& keys, const ExportFilter& filter, const std::string& out_dir,
                                 const std::string& case_ref);

 private:
  storage::Database& db_;
  const SigningKey& key_;
};

}  // namespace despatch
