#pragma once

#include "storage/alert_store.h"
#include "storage/conn.h"

namespace despatch::storage {

class SqliteAlertStore final : public AlertStore {
 public:
  explicit SqliteAlertStore(Conn& c) : c_(c) {}
  Result<int64_t> add(const Alert& alert) override;
  Result<std::optional<Alert>> get(int64_t id) override;
  Result<bool> acknowledge(int64_t id, const std::string& by, int64_t ts,
                           const std::string& note) override;
  Result<std::vector<Alert>> list(bool include_acknowledged, int64_t before,
                                  int64_t limit) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
