#pragma once

#include "storage/conn.h"
#include "storage/report_store.h"

namespace despatch::storage {

class SqliteReportStore final : public ReportStore {
 public:
  explicit SqliteReportStore(Conn& c) : c_(c) {}
  Result<int64_t> add(const Report& report) override;
  Result<std::optional<Report>> get(int64_t id) override;
  Result<bool> acknowledge(int64_t id, const std::string& by, int64_t ts,
                           const std::string& note) override;
  Result<std::vector<Report>> list(bool include_acknowledged, int64_t before,
                                   int64_t limit) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
