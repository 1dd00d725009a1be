// Server discovery's steps that need no lookup: which address, certificate name and Host
// header each form of server name (and of delegated name) leads to.
#include "http/discovery.h"

#include <gtest/gtest.h>

namespace despatch::http {
namespace {

void expect_target(const std::optional<ResolvedServer>& r, const std::string& host, uint16_t port,
                   const std::string& tls_name, const std::string& host_header) {
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->connect_host, host);
  EXPECT_EQ(r->port, port);
  EXPECT_EQ(r->tls_name, tls_name);
  EXPECT_EQ(r->host_header, host_header);
}

TEST(Discovery, IpLiteralsAndExplicitPortsNeedNoLookup) {
  // Step 1: the IP with its port or 8448; the certificate must be for the IP; Host is the name.
  expect_target(direct_target("127.0.0.1:8449"), "127.0.0.1", 8449, "127.0.0.1", "127.0.0.1:8449");
  expect_target(direct_target("10.1.2.3"), "10.1.2.3", 8448, "10.1.2.3", "10.1.2.3");
  expect_target(direct_target("[::1]:8449"), "::1", 8449, "::1", "[::1]:8449");
  expect_target(direct_target("[2001:db8::1]"), "2001:db8::1", 8448, "2001:db8::1", "[2001:db8::1]");
  // Step 2: a host name with a port.
  expect_target(direct_target("dept.example.gov:8449"), "dept.example.gov", 8449, "dept.example.gov",
                "dept.example.gov:8449");
  // Everything else goes on to .well-known (or is not a server name at all).
  EXPECT_FALSE(direct_target("dept.example.gov"));
  EXPECT_FALSE(direct_target("not a name"));
}

TEST(Discovery, DelegatedNames) {
  // 3.1: a delegated IP literal; Host is the delegated IP with the port if one was given.
  expect_target(delegated_target("192.0.2.7"), "192.0.2.7", 8448, "192.0.2.7", "192.0.2.7");
  expect_target(delegated_target("[2001:db8::7]:443"), "2001:db8::7", 443, "2001:db8::7", "[2001:db8::7]:443");
  // 3.2: a delegated host with a port: its certificate and Host are the delegated name.
  expect_target(delegated_target("fed.example.gov:443"), "fed.example.gov", 443, "fed.example.gov",
                "fed.example.gov:443");
  // 3.3 needs SRV; 3.5 falls back to 8448 with the delegated host name.
  EXPECT_FALSE(delegated_target("fed.example.gov"));
  expect_target(default_target("fed.example.gov"), "fed.example.gov", 8448, "fed.example.gov", "fed.example.gov");
}

}  // namespace
}  // namespace despatch::http
