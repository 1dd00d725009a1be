#pragma once

#include "storage/conn.h"
#include "storage/to_device_store.h"

namespace despatch::storage {

class SqliteToDeviceStore final : public ToDeviceStore {
 public:
  explicit SqliteToDeviceStore(Conn& c) : c_(c) {}
  Status add(const NewToDeviceMessage& m) override;
  Result<ToDeviceBacklog> backlog(const std::string& user, const std::string& device,
                                  const std::string& sender) override;
  Result<std::vector<ToDeviceSize>> sizes(const std::string& user, const std::string& device, int64_t after,
                                          int64_t upto, int64_t limit) override;
  Result<std::vector<ToDeviceMessage>> messages(const std::string& user, const std::string& device, int64_t after,
                                                int64_t upto) override;
  Result<bool> any_upto(const std::string& user, const std::string& device, int64_t upto) override;
  Status remove_upto(const std::string& user, const std::string& device, int64_t upto) override;
  Status remove_device(const std::string& user, const std::string& device) override;
  Result<bool> has_txn(const std::string& user, const std::string& device, const std::string& txn_id) override;
  Status put_txn(const std::string& user, const std::string& device, const std::string& txn_id) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
