#pragma once

#include "storage/conn.h"
#include "storage/meta_store.h"

namespace despatch::storage {

class SqliteMetaStore final : public MetaStore {
 public:
  explicit SqliteMetaStore(Conn& c) : c_(c) {}
  Result<std::optional<std::string>> get(const std::string& key) override;
  Status put(const std::string& key, const std::string& value) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
