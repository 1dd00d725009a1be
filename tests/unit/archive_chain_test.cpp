// The archive's chain hash: each record's hash covers its predecessor's, so that moving,
// removing or re-linking records changes every hash after them (and the signed head).
#include "service/records/archive.h"

#include <gtest/gtest.h>

#include <string>

namespace despatch {
namespace {

TEST(ArchiveChainTest, TheHashIsSha256OfThePreviousHashAndTheContentHash) {
  std::string prev(64, 'a'), content(64, 'c');
  for (size_t i = 1; i < 64; i += 2) prev[i] = 'b', content[i] = 'd';
  EXPECT_EQ(archive_chain_hash(prev, content), "dcd7d37b4a82f5161c1ad6968b78c29b905c3af1fd251401ab26d45b6a9c9977");
}

TEST(ArchiveChainTest, TheSameContentAfterAnotherRecordHashesDifferently) {
  std::string content(64, 'c');
  EXPECT_NE(archive_chain_hash(std::string(64, '0'), content), archive_chain_hash(std::string(64, '1'), content));
  EXPECT_NE(archive_chain_hash("", content), archive_chain_hash(std::string(64, '0'), content));
  EXPECT_NE(archive_chain_hash(std::string(64, '0'), std::string(64, 'c')),
            archive_chain_hash(std::string(64, '0'), std::string(64, 'd')));
}

}  // namespace
}  // namespace despatch
