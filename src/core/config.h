// Server configuration: defaults that run a working server with no file, a TOML file that
// overrides them, and command-line flags that override both.
#pragma once

#include "core/result.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace despatch {

struct Config {
  std::string server_name = "localhost";
  std::string listen_address = "127.0.0.1";
  uint16_t listen_port = 8008;
  std::string data_dir = "./data";
  std::string log_level = "info";
  int io_threads = 2;
  std::string public_baseurl;  // advertised in .well-known; derived from listen if empty

  bool open_registration = false;
  size_t min_password_length = 8;

  size_t max_request_bytes = 1 << 20;  // whole request body
  int64_t max_sync_timeout_ms = 60'000;
  std::string default_room_version = "11";

  bool rate_limit_enabled = true;
  double rate_limit_per_second = 10;  // sustained requests per second per user or address
  double rate_limit_burst = 50;       // bucket size
  double login_rate_per_second = 1;   // login and register attempts per address
  double login_rate_burst = 10;

  // Records: the records office's public key (base64 file); empty means
  // <data_dir>/records_office.pub, generated with its secret half on first start.
  std::string records_public_key_file;
  int64_t records_checkpoint_every = 1000;    // records between signed checkpoints
  int64_t records_checkpoint_seconds = 300;   // and at least this often while records arrive
  // Retention of archived records, in days (0: keep for ever). Direct chats and group rooms
  // may have their own periods (-1: use the default); single rooms override both.
  int64_t retention_days = 0;
  int64_t retention_direct_days = -1;
  int64_t retention_group_days = -1;
  std::map<std::string, int64_t> retention_room_days;
  int64_t retention_check_seconds = 3600;  // how often expired records are looked for

  // The records keeper: a visible member of every covered room whose device receives room
  // keys like any member's, so that end-to-end encrypted messages reach the archive
  // decrypted. Covered: every room made on this server except the kinds excluded here
  // ("direct", "group").
  bool records_keeper = true;
  std::string records_keeper_localpart = "records";
  std::vector<std::string> records_keeper_exclude;

  // The keeper's user ID, or "" when the keeper is off.
  std::string keeper_user_id() const {
    return records_keeper ? "@" + records_keeper_localpart + ":" + server_name : "";
  }
};

// Loads `path` (TOML) over the defaults. Unknown keys are an error so typos do not pass silently.
Result<Config> load_config_file(const std::string& path);

// The fully commented example config printed by `despatch config example`.
const char* example_config();

}  // namespace despatch
