"""The despatch command line: help texts, the example config, user creation while the server
runs, and clean shutdown on SIGTERM."""

import os
import re
import signal
import threading
import time
import tomllib
import unittest
import uuid

from harness import ServerError, ServerFixture, q, run_cli

V3 = "/_matrix/client/v3"
PASSWORD = "cli test password"


class HelpTests(unittest.TestCase):
    def check_help(self, args, must_mention):
        res = run_cli(*args)
        self.assertEqual(res.returncode, 0, "%s: %s" % (args, res.stderr))
        text = res.stdout + res.stderr
        self.assertTrue(text.strip(), "%s printed nothing" % (args,))
        for word in must_mention:
            self.assertIn(word, text, "`despatch %s` does not mention %r" % (" ".join(args), word))
        return text

    def test_top_level_help(self):
        text = self.check_help(["--help"], ["serve", "user add", "config example", "Usage"])
        self.assertEqual(text, self.check_help(["-h"], ["serve"]), "-h and --help differ")

    def test_serve_help(self):
        self.check_help(["serve", "--help"],
                        ["--config", "--listen", "--data", "--open-registration",
                         "--no-rate-limit", "--server-name", "--log-level"])

    def test_user_help(self):
        self.check_help(["user", "--help"], ["user add", "--password", "--admin", "--data"])
        self.check_help(["user", "add", "--help"], ["--password", "--admin"])

    def test_unknown_command_and_flag_fail(self):
        for args in (["no-such-command"], ["serve", "--no-such-flag"], ["user", "frobnicate"],
                     ["config", "nonsense"], ["serve", "--listen"]):
            res = run_cli(*args)
            self.assertNotEqual(res.returncode, 0, "%s succeeded" % (args,))
            self.assertTrue(res.stderr.strip(), "%s failed without a message" % (args,))

    def test_config_example_is_valid_toml(self):
        res = run_cli("config", "example")
        self.assertEqual(res.returncode, 0, res.stderr)
        cfg = tomllib.loads(res.stdout)
        self.assertIsInstance(cfg.get("server_name"), str)
        self.assertIsInstance(cfg["listen"]["port"], int)
        self.assertIsInstance(cfg["limits"]["max_request_bytes"], int)
        self.assertIsInstance(cfg["registration"]["open"], bool)
        for key in ("per_second", "burst", "login_per_second", "login_burst"):
            self.assertIn(key, cfg["rate_limit"])
        # Every option is commented.
        self.assertIn("#", res.stdout)


class ConfigExampleServerTests(unittest.TestCase):
    def test_server_accepts_config_example(self):
        res = run_cli("config", "example")
        self.assertEqual(res.returncode, 0, res.stderr)
        srv = ServerFixture(open_registration=False, rate_limit=True, config_toml=res.stdout)
        try:
            srv.start()  # --data and --listen override the example's values
            self.assertTrue(srv.versions_ok())
            # The example's default: registration closed.
            st, body = srv.http("POST", V3 + "/register",
                                {"username": "x" + uuid.uuid4().hex[:6], "password": PASSWORD,
                                 "auth": {"type": "m.login.dummy"}})
            self.assertEqual((st, body.get("errcode")), (403, "M_FORBIDDEN"), body)
            self.assertEqual(srv.stop(), 0)
        finally:
            srv.teardown()

    def test_config_values_take_effect(self):
        text = run_cli("config", "example").stdout
        # Turn registration on through the config file alone.
        text, n = re.subn(r"(?m)^open\s*=\s*false", "open = true", text)
        self.assertEqual(n, 1, "could not find registration.open in the example")
        self.assertIsInstance(tomllib.loads(text)["registration"]["open"], bool)
        srv = ServerFixture(open_registration=False, rate_limit=False, config_toml=text)
        try:
            srv.start()
            user, tok, _ = srv.register("cfg" + uuid.uuid4().hex[:6], PASSWORD)
            st, body = srv.http("GET", V3 + "/account/whoami", token=tok)
            self.assertEqual((st, body.get("user_id")), (200, user))
        finally:
            srv.teardown()

    def test_invalid_config_is_refused(self):
        for bad in ["this is = = not toml", "[limits]\nmax_request_bytes = \"lots\"\n"]:
            srv = ServerFixture(config_toml=bad, ready_timeout=5)
            try:
                with self.assertRaises(ServerError, msg="server started with config %r" % bad):
                    srv.start()
                self.assertFalse(srv.alive())
            finally:
                srv.teardown()


class RunningServerCliTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ServerFixture(open_registration=False, rate_limit=False)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.teardown()

    def test_user_add_while_running_then_login(self):
        name = "cli" + uuid.uuid4().hex[:8]
        res = self.server.user_add(name, PASSWORD)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("@%s:localhost" % name, res.stdout)
        st, body = self.server.login(name, PASSWORD)
        self.assertEqual(st, 200, body)
        self.assertEqual(body["user_id"], "@%s:localhost" % name)
        st, who = self.server.http("GET", V3 + "/account/whoami", token=body["access_token"])
        self.assertEqual((st, who.get("user_id")), (200, "@%s:localhost" % name))

    def test_user_add_admin(self):
        name = "adm" + uuid.uuid4().hex[:8]
        res = self.server.user_add(name, PASSWORD, admin=True)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("@%s:localhost" % name, res.stdout)
        self.assertEqual(self.server.login(name, PASSWORD)[0], 200)

    def test_user_add_generated_password(self):
        name = "gen" + uuid.uuid4().hex[:8]
        res = run_cli("user", "add", name, "--data", self.server.data_dir)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("@%s:localhost" % name, res.stdout)
        m = re.search(r"password:\s*(\S+)", res.stdout + res.stderr)
        self.assertIsNotNone(m, "no generated password printed: %r" % res.stdout)
        st, body = self.server.login(name, m.group(1))
        self.assertEqual(st, 200, body)

    def test_user_add_password_from_stdin(self):
        name = "pwf" + uuid.uuid4().hex[:8]
        res = run_cli("user", "add", name, "--password-file", "-", "--data", self.server.data_dir,
                      input_text=PASSWORD + "\n")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("@%s:localhost" % name, res.stdout)
        self.assertEqual(self.server.login(name, PASSWORD)[0], 200)


class ShutdownTests(unittest.TestCase):
    def test_sigterm_exits_zero_quickly(self):
        srv = ServerFixture()
        try:
            srv.start()
            user, tok, _ = srv.register("st" + uuid.uuid4().hex[:6], PASSWORD)
            t0 = time.monotonic()
            code = srv.stop(signal.SIGTERM, timeout=10)
            elapsed = time.monotonic() - t0
            self.assertEqual(code, 0, "exit code after SIGTERM; stderr:\n" + srv.stderr_text())
            self.assertLess(elapsed, 5, "SIGTERM took %.1fs" % elapsed)
            # Same data folder: the account survives a restart.
            srv.start()
            st, body = srv.login(user.split(":")[0][1:], PASSWORD)
            self.assertEqual(st, 200, body)
        finally:
            srv.teardown()

    def test_sigterm_with_a_parked_sync(self):
        srv = ServerFixture()
        try:
            srv.start()
            user, tok, _ = srv.register("sp" + uuid.uuid4().hex[:6], PASSWORD)
            st, body = srv.http("GET", V3 + "/sync?timeout=0", token=tok)
            self.assertEqual(st, 200, body)
            since = body["next_batch"]
            outcome = {}

            def long_poll():
                try:
                    outcome["r"] = srv.http("GET", V3 + "/sync?timeout=30000&since=" + q(since),
                                            token=tok, timeout=40)
                except OSError as e:
                    outcome["r"] = e
            th = threading.Thread(target=long_poll, daemon=True)
            th.start()
            time.sleep(0.5)  # let the request park
            t0 = time.monotonic()
            code = srv.stop(signal.SIGTERM, timeout=10)
            elapsed = time.monotonic() - t0
            self.assertEqual(code, 0, "exit code after SIGTERM; stderr:\n" + srv.stderr_text())
            self.assertLess(elapsed, 5, "SIGTERM with a parked /sync took %.1fs" % elapsed)
            th.join(10)
            self.assertFalse(th.is_alive(), "the parked /sync never returned")
        finally:
            srv.teardown()

    def test_restart_after_sigkill(self):
        srv = ServerFixture()
        try:
            srv.start()
            user, tok, _ = srv.register("sk" + uuid.uuid4().hex[:6], PASSWORD)
            st, body = srv.http("POST", V3 + "/createRoom", {"name": "durable"}, token=tok)
            self.assertEqual(st, 200, body)
            room = body["room_id"]
            srv.restart(kill=True)
            st, body = srv.http("GET", V3 + "/rooms/%s/state/m.room.name/" % q(room), token=tok)
            self.assertEqual((st, body), (200, {"name": "durable"}))
        finally:
            srv.teardown()


class RecordsKeyTests(unittest.TestCase):
    """The server never stores a records office secret key."""

    def test_first_start_without_a_key_keeps_only_the_public_half(self):
        srv = ServerFixture(records_key=False)
        try:
            srv.start()
            user, tok, _ = srv.register("rk" + uuid.uuid4().hex[:6], PASSWORD)
            st, body = srv.http("POST", V3 + "/createRoom", {"name": "sealed"}, token=tok)
            self.assertEqual(st, 200, body)
            srv.stop()
            m = re.search(r"^\*\*\* ([A-Za-z0-9+/]{43}=?)$", srv.stderr_text(), re.M)
            self.assertTrue(m, "the secret half was not shown: " + srv.stderr_text()[-2000:])
            secret = m.group(1)
            self.assertTrue(os.path.exists(os.path.join(srv.data_dir, "records_office.pub")))
            for root, _, files in os.walk(srv.data_dir):
                for name in files:
                    with open(os.path.join(root, name), "rb") as f:
                        self.assertNotIn(secret.rstrip("=").encode(), f.read(),
                                         "the secret key is stored in %s" % name)
            # A second start uses the stored public half and shows no secret again.
            srv.start()
            srv.stop()
            self.assertNotIn("shown here ONCE", srv.stderr_text())
            # The shown key is the one that opens the archive.
            key_file = os.path.join(srv.tmp, "office.key")
            with open(key_file, "w") as f:
                f.write(secret + "\n")
            out = os.path.join(srv.tmp, "bundle")
            res = run_cli("records", "export", "--data", srv.data_dir, "--key", key_file,
                          "--out", out, "--case", "FIRST-START")
            self.assertEqual(res.returncode, 0, res.stderr)
            self.assertIn("sealed", open(os.path.join(out, "data", "records.jsonl")).read())
        finally:
            srv.teardown()

    def test_keygen_installs_the_public_half_and_refuses_to_overwrite(self):
        srv = ServerFixture(records_key=False)
        try:
            office = os.path.join(srv.tmp, "office")
            res = run_cli("records", "keygen", "--out", office, "--data", srv.data_dir)
            self.assertEqual(res.returncode, 0, res.stderr)
            with open(os.path.join(office, "records_office.pub")) as a, \
                    open(os.path.join(srv.data_dir, "records_office.pub")) as b:
                self.assertEqual(a.read(), b.read())
            self.assertEqual(os.stat(os.path.join(office, "records_office.key")).st_mode & 0o777, 0o600)
            again = run_cli("records", "keygen", "--out", os.path.join(srv.tmp, "other"), "--data", srv.data_dir)
            self.assertNotEqual(again.returncode, 0, "keygen replaced the server's key")
            self.assertIn("refusing to overwrite", again.stderr)
            srv.start()
            self.assertNotIn("shown here ONCE", srv.stderr_text())
        finally:
            srv.teardown()

    def test_export_with_a_key_that_is_not_the_servers(self):
        srv = ServerFixture()
        try:
            srv.start()
            srv.stop()
            other = os.path.join(srv.tmp, "other-office")
            self.assertEqual(run_cli("records", "keygen", "--out", other).returncode, 0)
            out = os.path.join(srv.tmp, "bundle")
            res = run_cli("records", "export", "--data", srv.data_dir, "--out", out, "--case", "WRONG",
                          "--key", os.path.join(other, "records_office.key"))
            self.assertNotEqual(res.returncode, 0)
            self.assertIn("not the records office key", res.stderr)
            self.assertFalse(os.path.exists(out), "a bundle was written with the wrong key")
        finally:
            srv.teardown()


if __name__ == "__main__":
    unittest.main()
