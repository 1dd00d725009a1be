// Parts of `despatch records` kept in files of their own.
#pragma once

#include "main/commands.h"
#include "storage/database.h"

#include <string>
#include <vector>

namespace despatch {

// despatch records witness pull ...            (cmd_records_witness.cpp)
int records_witness(Args& args);
// Checks the archive against each witness file; prints the outcome, returns the exit code.
int verify_witnesses(storage::Database& db, const std::vector<std::string>& files);

}  // namespace despatch
