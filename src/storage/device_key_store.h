// Device keys: each device's signed identity keys (device_keys), the one-time keys it has
// published and nobody claimed yet (one_time_keys) and its fallback key per algorithm
// (fallback_keys). The server stores them as uploaded and never looks inside but for the
// curve25519 identity key, which finds a device from an Olm message.
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace despatch::storage {

struct DeviceKeys {
  std::string user_id, device_id;
  json::object keys;  // the signed device_keys object
};

// A one-time or fallback key of one algorithm ("signed_curve25519", ...): a signed key object
// or, for unsigned algorithms, a plain string.
struct OneTimeKey {
  std::string algorithm, key_id;
  json::value key;
};

struct FallbackKey {
  std::string algorithm, key_id;
  json::value key;
  bool used = false;  // claimed since it was uploaded (it stays claimable until replaced)
};

class DeviceKeyStore {
 public:
  virtual ~DeviceKeyStore() = default;

  // device_keys: (user_id, device_id) -> the signed device_keys object; the device's
  // curve25519 identity key ("curve25519:<device_id>" in its keys) beside it.
  virtual Result<std::optional<json::object>> device_keys(const std::string& user, const std::string& device) = 0;
  // Every device of these users that has uploaded keys, by user and device ID.
  virtual Result<std::vector<DeviceKeys>> device_keys_of(const std::vector<std::string>& users) = 0;
  // Devices of any user whose curve25519 identity key is curve25519.
  virtual Result<std::vector<DeviceKeys>> devices_with_identity_key(const std::string& curve25519) = 0;
  // Stores (or replaces) the device's keys.
  virtual Status put_device_keys(const std::string& user, const std::string& device, const json::object& keys) = 0;

  // one_time_keys: (user_id, device_id, algorithm, key_id) -> an unclaimed one-time key.
  virtual Result<std::optional<json::value>> one_time_key(const std::string& user, const std::string& device,
                                                          const std::string& algorithm, const std::string& key_id) = 0;
  // Adds the key; a key already stored under its ID is kept as it is.
  virtual Status add_one_time_key(const std::string& user, const std::string& device, const OneTimeKey& k) = 0;
  // Unclaimed one-time keys of the device: algorithm -> count (algorithms with none absent).
  virtual Result<std::map<std::string, int64_t>> one_time_key_counts(const std::string& user,
                                                                     const std::string& device) = 0;
  // Removes and returns the device's one-time key of algorithm with the lowest key ID.
  virtual Result<std::optional<OneTimeKey>> claim_one_time_key(const std::string& user, const std::string& device,
                                                               const std::string& algorithm) = 0;

  // fallback_keys: (user_id, device_id, algorithm) -> the device's fallback key.
  virtual Result<std::optional<FallbackKey>> fallback_key(const std::string& user, const std::string& device,
                                                          const std::string& algorithm) = 0;
  // Stores k as the device's fallback key of its algorithm, unused, replacing any before.
  virtual Status put_fallback_key(const std::string& user, const std::string& device, const FallbackKey& k) = 0;
  // Marks the device's fallback key of algorithm used and returns it (nullopt when none).
  virtual Result<std::optional<FallbackKey>> claim_fallback_key(const std::string& user, const std::string& device,
                                                                const std::string& algorithm) = 0;
  // Algorithms of the device's fallback keys not claimed since upload, in order.
  virtual Result<std::vector<std::string>> unused_fallback_algorithms(const std::string& user,
                                                                      const std::string& device) = 0;

  // Forgets every key of a removed device.
  virtual Status remove_device(const std::string& user, const std::string& device) = 0;
};

}  // namespace despatch::storage
