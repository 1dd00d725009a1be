// despatch: the command-line entry point. Subcommands live in cmd_*.cpp.
#include "main/commands.h"

#include <cstdio>
#include <cstring>
#include <string>

namespace {

const char* kUsage = R"(despatch: a Matrix homeserver for government departments

Usage: despatch <command> [options]

Commands:
  serve            run the server
  user add NAME    create an account (also: user list, show, deactivate, lock, unlock,
                   reset-password)
  scim token ...   SCIM provisioning tokens: create, list, revoke
  config example   print a fully commented example configuration
  records ...      records office tools: keygen, verify, export, verify-export
  audit verify     check the audit log's hash chain
  federation sign-request   print a signed X-Matrix header (checking peers by hand)
  announce ...     public announcement channels: create, list, remove

Run `despatch <command> --help` for a command's options.
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace despatch;
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string cmd = argv[1];
  Args args(argc - 2, argv + 2);
  if (cmd == "serve") return cmd_serve(args);
  if (cmd == "user") return cmd_user(args);
  if (cmd == "scim") return cmd_scim(args);
  if (cmd == "config") return cmd_config(args);
  if (cmd == "records") return cmd_records(args);
  if (cmd == "audit") return cmd_audit(args);
  if (cmd == "federation") return cmd_federation(args);
  if (cmd == "announce") return cmd_announce(args);
  if (cmd == "--version" || cmd == "version") {
    std::puts("despatch 0.1.0");
    return 0;
  }
  std::fprintf(stderr, "despatch: unknown command '%s'\n\n%s", cmd.c_str(), kUsage);
  return 2;
}
