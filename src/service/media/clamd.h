// A client for the ClamAV daemon (clamd) over its Unix socket, using the INSTREAM command:
// the bytes are streamed in chunks, so clamd needs no access to our files.
#pragma once

#include "core/result.h"

#include <string>
#include <string_view>

namespace despatch::media {

struct ScanResult {
  bool clean = true;
  std::string signature;  // the signature clamd matched, when not clean
};

// Scans data with the clamd listening on socket_path. Blocking: call it from a worker
// thread. Errors (clamd unreachable, timeout, stream too large for clamd's
// StreamMaxLength) are errors, never "clean".
Result<ScanResult> clamd_scan(const std::string& socket_path, std::string_view data, int timeout_seconds);

}  // namespace despatch::media
