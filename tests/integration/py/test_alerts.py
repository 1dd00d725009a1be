"""Suspicious-activity alerts and the Prometheus metrics listener over raw HTTP: signals from
real requests (wrong passwords, a leaver's old token, refused classifications, own
redactions, joins) raise alerts that the admin API lists and acknowledges and the audit log
keeps; /metrics on its own listener parses as Prometheus text and counts them.

Run: cd tests/integration/py && /usr/bin/python3 -m unittest test_alerts -v
"""

import re
import time
import unittest

from harness import free_port, http_request, q
from records_helpers import PASSWORD, RecordsServer, audit_cli

METRICS_PORT = free_port()

# The shipped rules, but redactions and joins with thresholds a test can reach quickly.
CONFIG = """
[metrics]
listen = "127.0.0.1:%d"

[[alerts.rules]]
name = "failed_logins"
signal = "login.failed"
threshold = 5
window_seconds = 300
severity = "medium"

[[alerts.rules]]
name = "leaver_token"
signal = "token.deactivated"
threshold = 1
window_seconds = 60
severity = "high"

[[alerts.rules]]
name = "refused_classification"
signal = "classification.refused"
threshold = 1
window_seconds = 60
severity = "high"

[[alerts.rules]]
name = "mass_redaction"
signal = "redaction.own"
threshold = 3
window_seconds = 60
severity = "medium"

[[alerts.rules]]
name = "room_join_burst"
signal = "room.join"
threshold = 3
window_seconds = 60
severity = "low"
""" % METRICS_PORT

# One sample line of the text exposition format: name, optional labels, a number.
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})?'
                    r' (-?[0-9.eE+-]+|NaN|[+-]Inf)$')
COMMENT = re.compile(r'^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* '
                     r'(counter|gauge|summary|histogram|untyped))$')


def parse_prometheus(text):
    """{(name, labels text): value}; fails on any line the format does not allow, a sample
    before its TYPE line, or a type declared twice."""
    samples, typed = {}, {}
    assert text.endswith("\n"), "the exposition ends with a newline"
    for line in text.splitlines():
        if line.startswith("#"):
            assert COMMENT.match(line), "not a HELP or TYPE line: %r" % line
            if line.startswith("# TYPE "):
                name = line.split()[2]
                assert name not in typed, "TYPE twice for " + name
                typed[name] = line.split()[3]
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        name = m.group(1)
        base = re.sub(r"_(sum|count)$", "", name)
        assert name in typed or base in typed, "sample before its TYPE: " + name
        samples[(name, m.group(2) or "")] = float(m.group(3))
    return samples, typed


class AlertsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = RecordsServer(config_toml=CONFIG).start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.teardown()

    def alerts(self, query=""):
        st, body = self.srv.admin("GET", "/alerts" + query)
        self.assertEqual(st, 200, body)
        return body["alerts"]

    def wait_for_alert(self, rule, user_id, count=1, timeout=10):
        """The alerts of rule for user_id, once there are count (written after the request),
        or what there is after timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            got = [a for a in self.alerts("?include_acknowledged=true")
                   if a["rule"] == rule and a["user_id"] == user_id]
            if len(got) >= count or time.monotonic() > deadline:
                return got
            time.sleep(0.05)

    def metrics(self):
        st, _, raw, headers = http_request("127.0.0.1", METRICS_PORT, "GET", "/metrics", raw_response=True)
        self.assertEqual(st, 200)
        self.assertTrue(headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"), headers)
        return parse_prometheus(raw.decode("utf-8"))

    def fail_logins(self, client, n):
        localpart = client.user_id[1:].split(":")[0]
        for _ in range(n):
            st, body = self.srv.fx.login(localpart, "not the password")
            self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"), body)

    def test_failed_logins_raise_one_alert_in_the_admin_api_and_the_audit_log(self):
        victim, near_miss = self.srv.register("victim"), self.srv.register("nearmiss")
        self.fail_logins(near_miss, 4)
        self.fail_logins(victim, 5)
        got = self.wait_for_alert("failed_logins", victim.user_id)
        self.assertEqual(len(got), 1, got)
        alert = got[0]
        self.assertEqual((alert["signal"], alert["severity"], alert["count"], alert["acknowledged"]),
                         ("login.failed", "medium", 5, False))
        # Four failures are a near miss; a right password afterwards is no failure.
        st, _ = self.srv.fx.login(near_miss.user_id[1:].split(":")[0], PASSWORD)
        self.assertEqual(st, 200)
        self.assertEqual(self.wait_for_alert("failed_logins", near_miss.user_id, timeout=1), [])
        # The audit log has it, chained like every entry, with the alert's ID.
        st, audit = self.srv.admin("GET", "/audit?limit=1000")
        entries = [e for e in audit["entries"] if e["action"] == "alert.failed_logins"
                   and e["actor"] == victim.user_id]
        self.assertEqual([e["details"]["alert_id"] for e in entries], [alert["alert_id"]])
        res = audit_cli(self.srv.data_dir, "verify")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)

    def test_acknowledging_an_alert(self):
        user = self.srv.register("ack")
        self.fail_logins(user, 5)
        (alert,) = self.wait_for_alert("failed_logins", user.user_id)
        path = "/alerts/%d/acknowledge" % alert["alert_id"]
        st, body = self.srv.admin("POST", path, {"note": "called the user: typo in a new password"})
        self.assertEqual((st, body), (200, {}))
        self.assertNotIn(alert["alert_id"], [a["alert_id"] for a in self.alerts()])
        (done,) = [a for a in self.alerts("?include_acknowledged=true") if a["alert_id"] == alert["alert_id"]]
        self.assertEqual((done["acknowledged"], done["acknowledged_by"], done["note"]),
                         (True, self.srv.admin_id, "called the user: typo in a new password"))
        st, audit = self.srv.admin("GET", "/audit?limit=50")
        acks = [e for e in audit["entries"] if e["action"] == "alert.acknowledged"
                and e["details"]["alert_id"] == alert["alert_id"]]
        self.assertEqual([e["actor"] for e in acks], [self.srv.admin_id])
        # Twice, unknown, no note, a bad ID: clear errors.
        st, body = self.srv.admin("POST", path, {"note": "again"})
        self.assertEqual((st, body.get("errcode")), (400, "M_INVALID_PARAM"), body)
        st, body = self.srv.admin("POST", "/alerts/99999999/acknowledge", {"note": "x"})
        self.assertEqual((st, body.get("errcode")), (404, "M_NOT_FOUND"), body)
        st, body = self.srv.admin("POST", "/alerts/abc/acknowledge", {"note": "x"})
        self.assertEqual((st, body.get("errcode")), (404, "M_NOT_FOUND"), body)
        st, body = self.srv.admin("POST", path, {"note": ""})
        self.assertEqual((st, body.get("errcode")), (400, "M_MISSING_PARAM"), body)
        st, body = self.srv.admin("GET", "/alerts?include_acknowledged=perhaps")
        self.assertEqual((st, body.get("errcode")), (400, "M_INVALID_PARAM"), body)
        # Only administrators.
        st, body = self.srv.admin("GET", "/alerts", token=user.token)
        self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"), body)
        st, body = self.srv.admin("POST", path, {"note": "x"}, token=user.token)
        self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"), body)

    def test_a_leavers_old_token(self):
        leaver = self.srv.register("leaver")
        st, body = self.srv.admin("POST", "/users/%s/deactivate" % q(leaver.user_id), {"case_ref": "HR-1"})
        self.assertEqual(st, 200, body)
        st, body = leaver.call("GET", "/account/whoami")
        self.assertEqual((st, body.get("errcode")), (401, "M_UNKNOWN_TOKEN"), body)
        (alert,) = self.wait_for_alert("leaver_token", leaver.user_id)
        self.assertEqual(alert["severity"], "high")
        # A token nobody ever had is no leaver's.
        st, body = self.srv.http("GET", "/_matrix/client/v3/account/whoami", token="dsp_" + "x" * 40)
        self.assertEqual(st, 401)

    def test_refused_classification(self):
        user = self.srv.register("secret")
        room = user.create_room()
        st, body = user.call("PUT", "/rooms/%s/send/m.room.message/t1" % q(room),
                             {"msgtype": "m.text", "body": "TOP SECRET\nthe plan"})
        self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"), body)
        (alert,) = self.wait_for_alert("refused_classification", user.user_id)
        self.assertEqual(alert["signal"], "classification.refused")

    def test_mass_redaction_and_join_burst(self):
        user, host = self.srv.register("redactor"), self.srv.register("host")
        room = user.create_room()
        events = [user.say(room, "message %d" % i) for i in range(3)]
        for e in events[:2]:
            user.redact(room, e)
        self.assertEqual(self.wait_for_alert("mass_redaction", user.user_id, timeout=1), [],
                         "two redactions: a near miss")
        user.redact(room, events[2])
        (alert,) = self.wait_for_alert("mass_redaction", user.user_id)
        self.assertEqual(alert["count"], 3)
        rooms = [host.create_room(preset="public_chat") for _ in range(3)]
        for r in rooms:
            user.join(r)
        (alert,) = self.wait_for_alert("room_join_burst", user.user_id)
        self.assertEqual(alert["details"]["room_id"], rooms[-1])

    def test_metrics_parse_and_count_alerts(self):
        samples, typed = self.metrics()
        key = ("despatch_alerts_total", '{rule="failed_logins",severity="medium"}')
        before = samples[key]
        self.assertEqual(typed["despatch_alerts_total"], "counter")
        self.assertEqual(typed["despatch_db_commits_total"], "counter")
        self.assertEqual(typed["despatch_federation_queue_backlog"], "gauge")
        self.assertIn(("despatch_federation_txn_sent_total", ""), samples)
        user = self.srv.register("metrics")
        self.fail_logins(user, 5)
        self.wait_for_alert("failed_logins", user.user_id)
        samples, _ = self.metrics()
        self.assertEqual(samples[key], before + 1)
        self.assertGreater(samples[("despatch_db_commits_total", "")], 0)
        self.assertGreaterEqual(samples[("despatch_http_requests_total", '{class="login",code="4xx"}')], 5)
        self.assertGreater(samples[("despatch_http_request_duration_seconds_count", '{class="admin"}')], 0)
        # Only /metrics is served there.
        st, _ = http_request("127.0.0.1", METRICS_PORT, "GET", "/_matrix/client/versions")
        self.assertEqual(st, 404)


if __name__ == "__main__":
    unittest.main()
