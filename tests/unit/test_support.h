// What several unit tests share: a fresh folder per test, and JSON fixtures by folder.
#pragma once

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#ifndef DESPATCH_FIXTURES_DIR
#define DESPATCH_FIXTURES_DIR "tests/unit/fixtures"
#endif

namespace despatch::test {

// A folder of its own for the running test (process and test name), empty at the start.
inline std::filesystem::path fresh_test_dir(const std::string& prefix) {
  auto dir = std::filesystem::temp_directory_path() /
             (prefix + "_" + std::to_string(::getpid()) + "_" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir);
  return dir;
}

inline std::filesystem::path fixture_dir(const std::string& subdir) {
  return std::filesystem::path(DESPATCH_FIXTURES_DIR) / subdir;
}

// The names (without .json) of the fixtures in tests/unit/fixtures/<subdir>, sorted.
inline std::vector<std::string> fixture_names(const std::string& subdir) {
  std::vector<std::string> names;
  if (!std::filesystem::is_directory(fixture_dir(subdir))) return names;
  for (const auto& entry : std::filesystem::directory_iterator(fixture_dir(subdir)))
    if (entry.path().extension() == ".json") names.push_back(entry.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

inline boost::json::object load_fixture(const std::string& subdir, const std::string& name) {
  std::ifstream in(fixture_dir(subdir) / (name + ".json"));
  std::stringstream text;
  text << in.rdbuf();
  return boost::json::parse(text.str()).as_object();
}

}  // namespace despatch::test
