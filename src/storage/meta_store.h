// The server's own settings that must outlive a restart, as key-value pairs (meta). The
// database itself keeps its stream position there too (database.cpp reads and writes that
// key directly: it is storage-internal, never a service's business).
#pragma once

#include "core/result.h"
#include "storage/stores.h"

#include <optional>
#include <string>

namespace despatch::storage {

class MetaStore {
 public:
  virtual ~MetaStore() = default;
  // meta: key -> value.
  virtual Result<std::optional<std::string>> get(const std::string& key) = 0;
  // Sets or replaces the value.
  virtual Status put(const std::string& key, const std::string& value) = 0;
};

}  // namespace despatch::storage
