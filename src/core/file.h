// Durable small-file writes: keys, records bundles, media.
#pragma once

#include "core/result.h"

#include <string>
#include <string_view>
#include <sys/types.h>

namespace despatch {

// Writes data to path through a temporary file in the same folder created with `mode`
// (never wider, whatever the umask), fsyncs it, renames it over path and fsyncs the folder:
// after a crash path holds either the old contents or the new, never a torn file.
Status write_file_durable(const std::string& path, std::string_view data, mode_t mode);

// fsync of an open-able path (a file, or a folder with O_DIRECTORY).
Status fsync_path(const std::string& path, int flags);

}  // namespace despatch
