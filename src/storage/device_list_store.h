// Device lists: the stream positions at which a user's devices or keys changed
// (device_list_changes), which /sync and /keys/changes report to users sharing a room and
// m.device_list_update EDUs carry to other servers; and this server's copy of the device
// lists of users of other servers (remote_device_lists, remote_devices).
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <optional>
#include <string>
#include <vector>

namespace despatch::storage {

// One row of device_list_changes. device_id is empty for a change of the user's
// cross-signing keys (or a row older than schema step 12).
struct DeviceListChange {
  int64_t stream_pos = 0;
  std::string user_id;
  std::string device_id;
};

struct RemoteDevice {
  std::string device_id;
  json::object keys;  // the signed device keys, as the user's server published them
  std::optional<std::string> display_name;
};

// A cached device list of a user of another server. stream_id is the position in that
// server's sequence of m.device_list_update EDUs the copy is at; stale when an update was
// missed (the copy must be fetched again before it is trusted).
struct RemoteDeviceList {
  std::string user_id;
  int64_t stream_id = 0;
  bool stale = false;
  std::optional<json::object> master_key, self_signing_key;
  std::vector<RemoteDevice> devices;
};

class DeviceListStore {
 public:
  virtual ~DeviceListStore() = default;
  // device_list_changes: (stream_pos, user_id, device_id), one row per change.
  virtual Status mark_changed(const std::string& user, int64_t stream_pos, const std::string& device_id) = 0;
  // Users whose device list changed in (from, to], each once.
  virtual Result<std::vector<std::string>> changed(int64_t from, int64_t to) = 0;
  // The changes in (from, to], in stream order, at most limit.
  virtual Result<std::vector<DeviceListChange>> changes(int64_t from, int64_t to, int64_t limit) = 0;
  // The position of user's last change naming a device before `before`; 0 when none.
  virtual Result<int64_t> last_device_change(const std::string& user, int64_t before) = 0;

  // remote_device_lists, remote_devices: the cached lists of the users named (those cached).
  virtual Result<std::vector<RemoteDeviceList>> remote_lists(const std::vector<std::string>& users) = 0;
  // Replaces user's whole cached list (not stale).
  virtual Status put_remote_list(const RemoteDeviceList& list, int64_t fetched_ts) = 0;
  virtual Status put_remote_device(const std::string& user, const RemoteDevice& device) = 0;
  virtual Status remove_remote_device(const std::string& user, const std::string& device_id) = 0;
  virtual Status set_remote_stream(const std::string& user, int64_t stream_id, bool stale) = 0;
  // usage "master" or "self_signing".
  virtual Status put_remote_cross_signing(const std::string& user, const std::string& usage,
                                          const json::object& key) = 0;
};

}  // namespace despatch::storage
