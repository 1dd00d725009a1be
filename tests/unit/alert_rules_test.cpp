// The alert engine's shipped rules against the fixtures in fixtures/alerts: each rule fires
// on its fixture and stays silent on a near miss.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "service/policy/alert_rules.h"
#include "test_support.h"

namespace despatch {
namespace {

namespace json = boost::json;

json::object load_fixture() {
  std::ifstream in(std::string(DESPATCH_FIXTURES_DIR) + "/alerts/default_rules.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str()).as_object();
}

std::vector<AlertSignal> signals_of(const json::array& spec) {
  std::vector<AlertSignal> out;
  for (const auto& v : spec) {
    const auto& o = v.as_object();
    int64_t repeat = o.contains("repeat") ? o.at("repeat").as_int64() : 1;
    int64_t every = o.contains("every") ? o.at("every").as_int64() : 0;
    for (int64_t i = 0; i < repeat; ++i) {
      AlertSignal s;
      s.signal = std::string(o.at("signal").as_string());
      s.user_id = std::string(o.at("user").as_string());
      s.ts = (o.at("t").as_int64() + i * every) * 1000;
      s.details = {{"n", i}};
      out.push_back(std::move(s));
    }
  }
  return out;
}

TEST(AlertRules, EachDefaultRuleFiresOnItsFixtureAndStaysSilentOnANearMiss) {
  json::object fixture = load_fixture();
  std::set<std::string> fired, silent;
  for (const auto& c : fixture.at("cases").as_array()) {
    const auto& cs = c.as_object();
    std::string name(cs.at("name").as_string());
    std::string rule(cs.at("rule").as_string());
    auto alerts = evaluate(default_alert_rules(), signals_of(cs.at("signals").as_array()));
    const auto& expect = cs.at("expect").as_array();
    ASSERT_EQ(alerts.size(), expect.size()) << name;
    for (size_t i = 0; i < alerts.size(); ++i) {
      const auto& e = expect[i].as_object();
      EXPECT_EQ(alerts[i].rule, e.at("rule").as_string()) << name;
      EXPECT_EQ(alerts[i].user_id, e.at("user").as_string()) << name;
      EXPECT_EQ(alerts[i].count, e.at("count").as_int64()) << name;
    }
    (cs.at("fires").as_bool() ? fired : silent).insert(rule);
    if (cs.at("fires").as_bool()) {
      EXPECT_FALSE(alerts.empty()) << name;
    }
  }
  for (const auto& r : default_alert_rules()) {
    EXPECT_TRUE(fired.count(r.name)) << r.name << " has no fixture it fires on";
    EXPECT_TRUE(silent.count(r.name)) << r.name << " has no near-miss fixture";
  }
}

TEST(AlertRules, AnAlertCarriesTheRuleAndTheLastSignalsDetails) {
  std::vector<AlertRule> rules = {{"two_joins", "room.join", 2, 10, "high"}};
  std::vector<AlertSignal> s = {{"room.join", "@a:x", 1000, {{"room_id", "!1:x"}}},
                                {"room.join", "@a:x", 2000, {{"room_id", "!2:x"}}}};
  auto alerts = evaluate(rules, s);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].severity, "high");
  EXPECT_EQ(alerts[0].signal, "room.join");
  EXPECT_EQ(alerts[0].ts, 2000);
  EXPECT_EQ(alerts[0].details.at("room_id").as_string(), "!2:x");
}

TEST(AlertRules, StaleUsersAreSweptWithoutLosingLiveCounts) {
  std::vector<AlertRule> rules = {{"pair", "room.join", 2, 10, "low"}};
  AlertEngine engine(rules);
  EXPECT_TRUE(engine.observe({"room.join", "@live:x", 100'000'000, {}}).empty());
  for (size_t i = 0; i <= AlertEngine::kSweepAbove; ++i)
    engine.observe({"room.join", "@u" + std::to_string(i) + ":x", 0, {}});
  // The sweep drops the old users; @live's join is inside its window and still counts.
  auto fired = engine.observe({"room.join", "@live:x", 100'005'000, {}});
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].count, 2);
}

TEST(AlertRules, ConfigChecksRejectBadRules) {
  Alerts a;
  EXPECT_TRUE(check_alerts(a).ok());
  a.rules = {{"x", "login.failed", 0, 60, "low"}};
  EXPECT_FALSE(check_alerts(a).ok()) << "threshold 0";
  a.rules = {{"x", "login.fail", 1, 60, "low"}};
  EXPECT_FALSE(check_alerts(a).ok()) << "unknown signal";
  a.rules = {{"x", "login.failed", 1, 60, "urgent"}};
  EXPECT_FALSE(check_alerts(a).ok()) << "unknown severity";
  a.rules = {{"x", "login.failed", 1, 60, "low"}, {"x", "room.join", 1, 60, "low"}};
  EXPECT_FALSE(check_alerts(a).ok()) << "a name twice";
  a.rules = {{"x", "login.failed", 1, 0, "low"}};
  EXPECT_FALSE(check_alerts(a).ok()) << "window 0";
}

Result<Config> load(const std::string& toml) {
  auto dir = test::fresh_test_dir("despatch_alertcfg");
  std::filesystem::create_directories(dir);
  auto path = (dir / "c.toml").string();
  std::ofstream(path) << toml;
  auto r = load_config_file(path);
  std::filesystem::remove_all(dir);
  return r;
}

TEST(AlertConfig, RulesInTheConfigReplaceTheShippedOnes) {
  auto c = load(R"([alerts]
enabled = true
[[alerts.rules]]
name = "joins"
signal = "room.join"
threshold = 3
window_seconds = 60
severity = "low"
[metrics]
listen = "127.0.0.1:9090"
)");
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_EQ(c->alerts.rules.size(), 1u);
  EXPECT_EQ(c->alerts.rules[0].name, "joins");
  EXPECT_EQ(c->alerts.rules[0].threshold, 3);
  EXPECT_EQ(c->metrics.port(), 9090);
  EXPECT_EQ(c->metrics.host(), "127.0.0.1");
  auto none = load("server_name = \"x\"\n");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->alerts.rules.size(), default_alert_rules().size());
  EXPECT_TRUE(none->metrics.listen.empty()) << "metrics are off by default";
}

TEST(AlertConfig, BadRulesAndListenersAreRefused) {
  EXPECT_FALSE(load("[[alerts.rules]]\nname = \"x\"\nsignal = \"room.join\"\ncolour = 1\n").ok())
      << "unknown key in a rule";
  EXPECT_FALSE(load("[[alerts.rules]]\nname = \"x\"\nsignal = \"nope\"\n").ok()) << "unknown signal";
  EXPECT_FALSE(load("[[alerts.rules]]\nname = \"x\"\nsignal = \"room.join\"\nthreshold = -2\n").ok());
  EXPECT_FALSE(load("[alerts]\nrules = 5\n").ok()) << "rules is a list of tables";
  EXPECT_FALSE(load("[metrics]\nlisten = \"nowhere\"\n").ok());
}

}  // namespace
}  // namespace despatch
