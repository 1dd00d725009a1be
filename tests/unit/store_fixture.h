// A fresh SQLite database per test, for the tests of the stores: write() runs a job in a
// write transaction and expects it to succeed, read() is the committed view.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>

#include "storage/database.h"
#include "test_support.h"

namespace despatch::test {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_test_dir("despatch_store_test");
    auto db = storage::Database::open_sqlite(dir_.string());
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(db).value();
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  void write(const std::function<Status(storage::Txn&)>& fn) {
    auto r = db_->transact_blocking<Ok>([&](storage::Txn& t) -> Result<Ok> { return fn(t); });
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  storage::Stores& read() { return db_->read(); }

  std::filesystem::path dir_;
  std::unique_ptr<storage::Database> db_;
};

}  // namespace despatch::test
