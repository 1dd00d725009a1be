// Server discovery's pure parts (server name pieces, /.well-known bodies and their cache
// lifetime), the allow-list, and the [federation] configuration.
#include "core/config.h"
#include "core/server_name.h"

#include <gtest/gtest.h>

#include "test_support.h"

#include <fstream>

namespace despatch {
namespace {

TEST(ServerName, Parts) {
  auto p = parse_server_name("matrix.example.gov");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->host, "matrix.example.gov");
  EXPECT_FALSE(p->port);
  EXPECT_FALSE(p->ip_literal);

  p = parse_server_name("example.gov:8449");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->host, "example.gov");
  EXPECT_EQ(p->port, 8449);

  p = parse_server_name("127.0.0.1:12345");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->host, "127.0.0.1");
  EXPECT_TRUE(p->ip_literal);
  EXPECT_EQ(p->port, 12345);

  p = parse_server_name("[2001:db8::1]");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->host, "2001:db8::1");
  EXPECT_TRUE(p->ip_literal);
  EXPECT_FALSE(p->port);

  p = parse_server_name("[::1]:8448");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->host, "::1");
  EXPECT_EQ(p->port, 8448);

  for (const char* bad : {"", ":80", "example.gov:", "example.gov:0", "example.gov:65536", "exa mple.gov",
                          "[::1", "[::1]x", "300.1.1.1", "example.gov:80:80", "example.gov:-1"})
    EXPECT_FALSE(parse_server_name(bad)) << bad;
}

TEST(ServerName, WellKnownBody) {
  EXPECT_EQ(parse_well_known_server(R"({"m.server": "delegated.example.com:1234"})"), "delegated.example.com:1234");
  EXPECT_EQ(parse_well_known_server(R"({"m.server": "fed.example.com", "other": 1})"), "fed.example.com");
  EXPECT_EQ(parse_well_known_server(R"({"m.server": "[::1]:8448"})"), "[::1]:8448");
  for (const char* bad : {"", "not json", "[]", "{}", R"({"m.server": 5})", R"({"m.server": ""})",
                          R"({"m.server": "bad name"})", R"({"m.server": "https://x.org"})",
                          R"({"m.server": "x.org:99999"})"})
    EXPECT_FALSE(parse_well_known_server(bad)) << bad;
}

TEST(ServerName, WellKnownCacheLifetime) {
  EXPECT_EQ(well_known_cache_seconds(""), 24 * 3600);
  EXPECT_EQ(well_known_cache_seconds("public, max-age=3600"), 3600);
  EXPECT_EQ(well_known_cache_seconds("Max-Age=60"), 60);
  EXPECT_EQ(well_known_cache_seconds("max-age=99999999999999999999"), 48 * 3600);
  EXPECT_EQ(well_known_cache_seconds("max-age=999999"), 48 * 3600);
  EXPECT_EQ(well_known_cache_seconds("no-store"), 0);
  EXPECT_EQ(well_known_cache_seconds("no-cache, max-age=60"), 0);
  EXPECT_EQ(well_known_cache_seconds("max-age=abc"), 24 * 3600);
}

TEST(ServerAllowList, EmptyAllowsNobodyStarAllowsAll) {
  ServerAllowList none;
  EXPECT_FALSE(none.allows("example.org"));
  ServerAllowList any({"*"});
  EXPECT_TRUE(any.allows("anything.example"));
  EXPECT_TRUE(any.allows_any());
  ServerAllowList some({"Dept-A.example.gov", "127.0.0.1:8448"});
  EXPECT_TRUE(some.allows("dept-a.example.gov"));
  EXPECT_TRUE(some.allows("DEPT-A.EXAMPLE.GOV"));
  EXPECT_TRUE(some.allows("127.0.0.1:8448"));
  EXPECT_FALSE(some.allows("127.0.0.1:8449"));  // a port is part of the name
  EXPECT_FALSE(some.allows("127.0.0.1"));
  EXPECT_FALSE(some.allows("dept-a.example.gov:8448"));
  EXPECT_FALSE(some.allows("evil.example.gov"));
}

class FederationConfig : public ::testing::Test {
 protected:
  Result<Config> load(const std::string& toml) {
    auto dir = test::fresh_test_dir("despatch_fedcfg");
    std::filesystem::create_directories(dir);
    auto path = (dir / "c.toml").string();
    std::ofstream(path) << toml;
    auto r = load_config_file(path);
    std::filesystem::remove_all(dir);
    return r;
  }
};

TEST_F(FederationConfig, DefaultsFederateWithNobody) {
  Config c;
  EXPECT_FALSE(c.federation.enabled);
  EXPECT_TRUE(c.federation.verify_tls);
  EXPECT_TRUE(c.federation.allow.empty());
  EXPECT_EQ(c.federation.listen_port(), 8448);
  // The example configuration parses and shows the defaults.
  auto dir = test::fresh_test_dir("despatch_fedcfg_example");
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "e.toml") << example_config();
  auto e = load_config_file((dir / "e.toml").string());
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_FALSE(e->federation.enabled);
  EXPECT_TRUE(e->federation.verify_tls);
}

TEST_F(FederationConfig, ReadsTheTable) {
  auto c = load(R"([federation]
enabled = true
listen = "127.0.0.1:8449"
tls_cert_file = "/c.pem"
tls_key_file = "/k.pem"
ca_file = "/ca.pem"
verify_tls = false
allow = ["a.example.gov", "127.0.0.1:9000"]
)");
  ASSERT_TRUE(c.ok()) << c.error().message;
  const Federation& f = c->federation;
  EXPECT_TRUE(f.enabled);
  EXPECT_EQ(f.listen_host(), "127.0.0.1");
  EXPECT_EQ(f.listen_port(), 8449);
  EXPECT_EQ(f.tls_cert_file, "/c.pem");
  EXPECT_EQ(f.tls_key_file, "/k.pem");
  EXPECT_EQ(f.ca_file, "/ca.pem");
  EXPECT_FALSE(f.verify_tls);
  EXPECT_EQ(f.allow, (std::vector<std::string>{"a.example.gov", "127.0.0.1:9000"}));
}

TEST_F(FederationConfig, RefusesWhatCannotWork) {
  EXPECT_FALSE(load("[federation]\nenabled = true\n").ok());  // TLS only: needs cert and key
  EXPECT_FALSE(load("[federation]\nlisten = \"nowhere\"\n").ok());
  EXPECT_FALSE(load("[federation]\nallow = [\"not a name\"]\n").ok());
  EXPECT_FALSE(load("[federation]\nallow = \"*\"\n").ok());
  EXPECT_FALSE(load("[federation]\nverify_tls = \"no\"\n").ok());
  EXPECT_FALSE(load("[federation]\nallowed = []\n").ok());  // typo
  EXPECT_TRUE(load("[federation]\nallow = [\"*\"]\nlisten = \"[::]:8448\"\n").ok());
}

}  // namespace
}  // namespace despatch
