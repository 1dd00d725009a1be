#include "service/records/office.h"

namespace despatch {

Result<VerifyReport> RecordsOffice::verify_archive() {
  return despatch::verify_archive(db_.read(), key_.public_key());
}

Result<json::object> RecordsOffice::witness_page(const WitnessPageRequest& req, const std::string& server_name) {
  return despatch::witness_page(db_.read(), req, server_name, key_.key_id(), key_.public_key());
}

Result<SealedExport> RecordsOffice::sealed_export(const ExportFilter& filter, const std::string& case_ref) {
  SealedExportOptions opt{case_ref, server_name_, has_media_ ? &media_ : nullptr};
  return build_sealed_export(db_.read(), filter, key_, opt);
}

Result<ExportResult> RecordsOffice::export_to(const RecordsKeyPair& keys, const ExportFilter& filter,
                                              const std::string& out_dir, const std::string& case_ref) {
  return export_records(db_.read(), keys, filter, out_dir, key_, case_ref, server_name_, has_media_ ? &media_ : nullptr);
}

}  // namespace despatch
