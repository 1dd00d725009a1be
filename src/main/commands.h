// Subcommands of the despatch binary and the small argument parser they share.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace despatch {

// Arguments after the subcommand: positionals and --flag / --flag=value / --flag value.
class Args {
 public:
  Args(int argc, char** argv);
  // Value of --name, consuming it (given more than once: the last one).
  std::optional<std::string> take(const std::string& name);
  // Every value of a repeatable --name, in order, consuming them.
  std::vector<std::string> take_all(const std::string& name);
  bool take_switch(const std::string& name);
  const std::vector<std::string>& positionals() const { return positional_; }
  bool help() const { return help_; }
  // Flags that no one took: typos the user should hear about.
  std::vector<std::string> leftovers() const;

 private:
  std::vector<std::string> raw_;
  std::vector<std::string> positional_;
  std::multimap<std::string, std::optional<std::string>> flags_;  // equal names in order
  bool help_ = false;
};

struct Config;
// Reads --config FILE into *cfg (defaults when absent). Prints the problem and returns false
// when the file is unreadable or wrong.
bool load_config_arg(Args& args, Config* cfg);

int cmd_serve(Args& args);
int cmd_user(Args& args);
int cmd_scim(Args& args);
int cmd_config(Args& args);
int cmd_records(Args& args);
// despatch records export | open-export | verify-export (cmd_records_export.cpp)
int records_export_cmd(Args& args);
int records_open_export_cmd(Args& args);
int records_verify_export_cmd(Args& args);
int cmd_audit(Args& args);
int cmd_federation(Args& args);
int cmd_announce(Args& args);

}  // namespace despatch
