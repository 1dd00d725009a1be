// despatch config example: print the commented example configuration.
#include "core/config.h"
#include "main/commands.h"

#include <cstdio>

namespace despatch {

int cmd_config(Args& args) {
  if (args.help() || args.positionals().empty() || args.positionals()[0] != "example") {
    std::fputs("Usage: despatch config example\n\nPrints a fully commented example configuration.\n",
               args.help() ? stdout : stderr);
    return args.help() ? 0 : 2;
  }
  std::fputs(example_config(), stdout);
  return 0;
}

}  // namespace despatch
