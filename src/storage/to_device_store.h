// To-device messages: messages waiting for a device, in stream order (to_device), and the
// transaction IDs of /sendToDevice requests already carried out (to_device_txns).
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <string>
#include <vector>

namespace despatch::storage {

struct NewToDeviceMessage {
  int64_t stream_pos = 0;
  std::string user_id, device_id;  // the recipient
  std::string sender, type;
  std::string content;  // the content object, serialised; its size is the message's bytes
};

struct ToDeviceMessage {
  int64_t stream_pos = 0;
  std::string sender, type;
  json::object content;
};

// A waiting message's position and size, read without its content.
struct ToDeviceSize {
  int64_t stream_pos = 0, bytes = 0;
};

struct ToDeviceBacklog {
  int64_t messages = 0, bytes = 0;
};

class ToDeviceStore {
 public:
  virtual ~ToDeviceStore() = default;

  // to_device: (user_id, device_id, stream_pos) -> a message waiting for the device, with
  // its content's size in bytes.
  virtual Status add(const NewToDeviceMessage& m) = 0;
  // What sender has waiting for the device.
  virtual Result<ToDeviceBacklog> backlog(const std::string& user, const std::string& device,
                                          const std::string& sender) = 0;
  // Positions and sizes of the device's first `limit` messages in (after, upto], in order.
  virtual Result<std::vector<ToDeviceSize>> sizes(const std::string& user, const std::string& device, int64_t after,
                                                  int64_t upto, int64_t limit) = 0;
  // The device's messages in (after, upto], in order.
  virtual Result<std::vector<ToDeviceMessage>> messages(const std::string& user, const std::string& device,
                                                        int64_t after, int64_t upto) = 0;
  // Whether the device has a message at or before upto.
  virtual Result<bool> any_upto(const std::string& user, const std::string& device, int64_t upto) = 0;
  // Deletes the device's messages at or before upto (delivered and acknowledged).
  virtual Status remove_upto(const std::string& user, const std::string& device, int64_t upto) = 0;
  // Deletes every message waiting for a removed device.
  virtual Status remove_device(const std::string& user, const std::string& device) = 0;

  // to_device_txns: (user_id, device_id, txn_id) of the sender, for idempotency.
  virtual Result<bool> has_txn(const std::string& user, const std::string& device, const std::string& txn_id) = 0;
  virtual Status put_txn(const std::string& user, const std::string& device, const std::string& txn_id) = 0;
};

}  // namespace despatch::storage
