#include "service/records/office.h"

namespace despatch {

Result<VerifyReport> RecordsOffice::verify_archive() {
  return despatch::verify_archive(db_.read(), key_.public_key());
}

Result<json::object> RecordsOffice::witness_page(const WitnessPageRequest& req, const std::string& server_name) {
  return despatch::witness_page(db_.read(), req, server_name, key_.key_id(), key_.public_key());
}

Result<std::vector<FoundRecord>> RecordsOffice::search(const RecordsKeyPair& keys, const ExportFilter& filter,
                                                       size_t limit) {
  return find_records(db_.read(), keys, filter, limit);
}

Result<ExportBundle> RecordsOffice::build_export(const RecordsKeyPair& keys, const ExportFilter& filter,
                                                 const std::string& case_ref) {
  return despatch::build_export(db_.read(), keys, filter, key_, case_ref);
}

Result<ExportResult> RecordsOffice::export_to(const RecordsKeyPair& keys, const ExportFilter& filter,
                                              const std::string& out_dir, const std::string& case_ref) {
  return export_records(db_.read(), keys, filter, out_dir, key_, case_ref);
}

}  // namespace despatch
