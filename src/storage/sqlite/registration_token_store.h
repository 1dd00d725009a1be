#pragma once

#include "storage/conn.h"
#include "storage/registration_token_store.h"

namespace despatch::storage {

class SqliteRegistrationTokenStore final : public RegistrationTokenStore {
 public:
  explicit SqliteRegistrationTokenStore(Conn& c) : c_(c) {}
  Result<bool> add(const RegistrationToken& t) override;
  Result<std::optional<RegistrationToken>> get(const std::string& token) override;
  Result<std::vector<RegistrationToken>> list() override;
  Result<bool> update(const RegistrationToken& t) override;
  Result<bool> remove(const std::string& token) override;
  Result<bool> use(const std::string& token, int64_t now) override;

 private:
  Conn& c_;
};

}  // namespace despatch::storage
