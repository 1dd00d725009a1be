#pragma once

#include "storage/conn.h"
#include "storage/device_key_store.h"

namespace despatch::storage {

class SqliteDeviceKeyStore final : public DeviceKeyStore {
 public:
  explicit SqliteDeviceKeyStore(Conn& c) : c_(c) {}
  Result<std::optional<json::object>> device_keys(const std::string& user, const std::string& device) override;
  Result<std::vector<DeviceKeys>> device_keys_of(const std::vector<std::string>& users) override;
  Result<std::vector<DeviceKeys>> devices_with_identity_key(const std::string& curve25519) override;
  Status put_device_keys(const std::string& user, const std::string& device, const json::object& keys) override;
  Result<std::optional<json::value>> one_time_key(const std::string& user, const std::string& device,
                                                  const std::string& algorithm, const std::string& key_id) override;
  Status add_one_time_key(const std::string& user, const std::string& device, const OneTimeKey& k) override;
  Result<std::map<std::string, int64_t>> one_time_key_counts(const std::string& user,
                                                             const std::string& device) override;
  Result<std::optional<OneTimeKey>> claim_one_time_key(const std::string& user, const std::string& device,
                                                       const std::string& algorithm) override;
  Result<std::optional<FallbackKey>> fallback_key(const std::string& user, const std::string& device,
                                                  const std::string& algorithm) override;
  Status put_fallback_key(const std::string& user, const std::string& device, const FallbackKey& k) override;
  Result<std::optional<FallbackKey>> claim_fallback_key(const std::string& user, const std::string& device,
                                                        const std::string& algorithm) override;
  Result<std::vector<std::string>> unused_fallback_algorithms(const std::string& user,
                                                              const std::string& device) override;
  Status remove_device(const std::string& user, const std::string& device) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
