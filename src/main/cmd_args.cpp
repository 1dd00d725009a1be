#include "main/commands.h"

#include "core/config.h"

#include <cstdio>

namespace despatch {

Args::Args(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      help_ = true;
    } else if (a.rfind("--", 0) == 0) {
      auto eq = a.find('=');
      if (eq != std::string::npos) {
        flags_.emplace(a.substr(2, eq - 2), a.substr(eq + 1));
      } else if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
        // A following non-flag is this flag's value unless the flag is a switch; switches
        // are resolved in take_switch by handing the value back as a positional.
        flags_.emplace(a.substr(2), std::string(argv[++i]));
      } else {
        flags_.emplace(a.substr(2), std::nullopt);
      }
    } else {
      positional_.push_back(a);
    }
  }
}

std::optional<std::string> Args::take(const std::string& name) {
  auto [first, last] = flags_.equal_range(name);
  if (first == last) return std::nullopt;
  auto v = std::prev(last)->second;
  flags_.erase(first, last);
  return v ? v : std::optional<std::string>("");
}

std::vector<std::string> Args::take_all(const std::string& name) {
  std::vector<std::string> out;
  auto [first, last] = flags_.equal_range(name);
  for (auto it = first; it != last; ++it) out.push_back(it->second.value_or(""));
  flags_.erase(first, last);
  return out;
}

bool Args::take_switch(const std::string& name) {
  auto [first, last] = flags_.equal_range(name);
  if (first == last) return false;
  for (auto it = first; it != last; ++it)
    if (it->second) positional_.push_back(*it->second);
  flags_.erase(first, last);
  return true;
}

bool load_config_arg(Args& args, Config* cfg) {
  auto path = args.take("config");
  if (!path) return true;
  auto loaded = load_config_file(*path);
  if (!loaded.ok()) {
    std::fprintf(stderr, "despatch: %s\n", loaded.error().message.c_str());
    return false;
  }
  *cfg = *loaded;
  return true;
}

std::vector<std::string> Args::leftovers() const {
  std::vector<std::string> out;
  for (auto& [k, v] : flags_)
    if (out.empty() || out.back() != "--" + k) out.push_back("--" + k);
  return out;
}

}  // namespace despatch
