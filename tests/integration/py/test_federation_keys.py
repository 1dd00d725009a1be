"""The first layer of federation, end to end between real servers on loopback: server keys,
X-Matrix request authentication, TLS certificate checks and the allow-list.

Three Despatch servers run, each named 127.0.0.1:<its federation port>, with certificates
from a test CA made here with the openssl command: A and B allow each other, C allows A but
A does not allow C. A also allows a fourth name, served by a small TLS listener in this file
whose certificate comes from a CA nobody trusts. Servers start once for the module (a
fraction of a second each); the tests read each server's admin metrics before and after
what they do, so their order does not matter.
"""

import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

from harness import ServerFixture, free_port, q, run_cli

ADMIN = "/_despatch/admin/v1"
V3 = "/_matrix/client/v3"
ADMIN_PASSWORD = "federation admin password"
USER_PASSWORD = "federation user password"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(folder, name):
    """A CA key and self-signed certificate: <name>.key, <name>.pem."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", name + ".key", "-out", name + ".pem", "-days", "2", "-subj", "/CN=Despatch test " + name,
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            cwd=folder)


def make_cert(folder, ca, name, ip="127.0.0.1"):
    """A server certificate for an IP address signed by ca: <name>.key, <name>.pem."""
    with open(os.path.join(folder, name + ".ext"), "w") as f:
        f.write("subjectAltName=IP:%s\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n" % ip)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + ip, cwd=folder)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key", "-CAcreateserial",
            "-out", name + ".pem", "-days", "2", "-extfile", name + ".ext", cwd=folder)


def federation_request(ca, peer, method, target, authorization=None, body=None, timeout=15, full=False):
    """A request to peer's federation listener over TLS, checked against the test CA: (status,
    parsed JSON, or the raw bytes when the answer is not JSON); with full, (status, parsed JSON
    or None, raw bytes, headers with lower-case names)."""
    ctx = ssl.create_default_context(cafile=ca)
    conn = http.client.HTTPSConnection("127.0.0.1", peer.fed_port, context=ctx, timeout=timeout)
    try:
        headers = {"Authorization": authorization} if authorization else {}
        data = json.dumps(body).encode() if body is not None else None
        if data is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, target, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None if full else raw
        if full:
            return resp.status, parsed, raw, {k.lower(): v for k, v in resp.getheaders()}
        return resp.status, parsed
    finally:
        conn.close()


def wait_for_message(peer, room, body, timeout=20):
    """Syncs as peer's user until a message with body arrives in room; returns its event."""
    deadline = time.time() + timeout
    since = None
    while time.time() < deadline:
        path = "/sync?timeout=2000" + ("&since=" + q(since) if since else "")
        st, sync = peer.client("GET", path)
        assert st == 200, (st, sync)
        since = sync["next_batch"]
        for ev in sync.get("rooms", {}).get("join", {}).get(room, {}).get("timeline", {}).get("events", []):
            if ev["type"] == "m.room.message" and ev["content"].get("body") == body:
                return ev
    raise AssertionError("%s never saw %r in %s" % (peer.label, body, room))


class RogueTlsServer:
    """A TLS listener presenting a certificate from an untrusted CA. Records whether a TLS
    session was ever established and whether any HTTP request arrived over one."""

    def __init__(self, port, cert, key):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(8)
        self.connections = 0
        self.handshakes = 0
        self.requests = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.settimeout(5)
            try:
                with self.ctx.wrap_socket(conn, server_side=True) as tls:
                    self.handshakes += 1
                    if tls.recv(4096):
                        self.requests += 1
            except (ssl.SSLError, OSError):
                pass

    def close(self):
        self.stopping = True
        self.sock.close()


class Peer:
    """One Despatch server with federation on, an admin account and a user."""

    def __init__(self, tmp, label, allow, ca_file, cert, key):
        self.label = label
        self.fed_port = free_port()
        self.name = "127.0.0.1:%d" % self.fed_port
        config = '[federation]\nca_file = "%s"\n' % ca_file
        args = ["--federation-listen", "127.0.0.1:%d" % self.fed_port, "--tls-cert", cert, "--tls-key", key]
        for other in allow:
            args += ["--federation-allow", other]
        self.fx = ServerFixture(open_registration=True, config_toml=config, extra_args=args, server_name=self.name)
        self.admin_token = None

    def start(self):
        self.fx.start()
        res = self.fx.user_add("admin", password=ADMIN_PASSWORD, admin=True)
        if res.returncode != 0:
            raise RuntimeError("user add failed: %s %s" % (res.stdout, res.stderr))
        st, body = self.fx.login("admin", ADMIN_PASSWORD)
        if st != 200:
            raise RuntimeError("admin login failed: %s %r" % (st, body))
        self.admin_token = body["access_token"]
        self.user_id, self.user_token, _ = self.fx.register("u" + uuid.uuid4().hex[:8], USER_PASSWORD)

    def metrics(self):
        st, body = self.fx.http("GET", ADMIN + "/metrics", token=self.admin_token)
        assert st == 200, (st, body)
        return body

    def audit(self):
        st, body = self.fx.http("GET", ADMIN + "/audit?limit=100", token=self.admin_token)
        assert st == 200, (st, body)
        return body

    def client(self, method, path, body=None):
        return self.fx.http(method, V3 + path, body=body, token=self.user_token)

    def sign(self, destination, uri, method="GET", origin=None):
        res = run_cli("federation", "sign-request", "--data", self.fx.data_dir, "--server-name", origin or self.name,
                      "--destination", destination, "--method", method, "--uri", uri)
        assert res.returncode == 0, res.stderr
        return res.stdout.strip()


class FederationKeysTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="despatch-fed-")
        make_ca(cls.tmp, "ca")
        make_cert(cls.tmp, "ca", "server")
        make_ca(cls.tmp, "rogue-ca")
        make_cert(cls.tmp, "rogue-ca", "rogue")
        cls.ca = os.path.join(cls.tmp, "ca.pem")
        cert, key = os.path.join(cls.tmp, "server.pem"), os.path.join(cls.tmp, "server.key")

        rogue_port = free_port()
        cls.rogue_name = "127.0.0.1:%d" % rogue_port
        cls.rogue = RogueTlsServer(rogue_port, os.path.join(cls.tmp, "rogue.pem"), os.path.join(cls.tmp, "rogue.key"))

        cls.a = Peer(cls.tmp, "A", [], cls.ca, cert, key)
        cls.b = Peer(cls.tmp, "B", [], cls.ca, cert, key)
        cls.c = Peer(cls.tmp, "C", [], cls.ca, cert, key)
        cls.a.fx.extra_args += ["--federation-allow", cls.b.name, "--federation-allow", cls.rogue_name]
        cls.b.fx.extra_args += ["--federation-allow", cls.a.name]
        cls.c.fx.extra_args += ["--federation-allow", cls.a.name]
        cls.peers = [cls.a, cls.b, cls.c]
        try:
            for p in cls.peers:
                p.start()
        except Exception:
            cls.tearDownClass()
            raise
        st, _ = cls.a.client("PUT", "/profile/%s/displayname" % q(cls.a.user_id), {"displayname": "Alice of A"})
        assert st == 200

    @classmethod
    def tearDownClass(cls):
        for p in cls.peers if hasattr(cls, "peers") else []:
            p.fx.teardown()
        if hasattr(cls, "rogue"):
            cls.rogue.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def federation(self, peer, method, target, authorization=None, body=None):
        return federation_request(self.ca, peer, method, target, authorization, body)

    def profile_uri(self, peer):
        return "/_matrix/federation/v1/query/profile?user_id=" + q(peer.user_id)

    def delta(self, peer, before, key):
        return peer.metrics()[key] - before[key]

    # ---- keys --------------------------------------------------------------------------

    def test_key_server_is_valid_and_self_signed(self):
        st, keys = self.federation(self.a, "GET", "/_matrix/key/v2/server")
        self.assertEqual(st, 200, keys)
        self.assertEqual(keys["server_name"], self.a.name)
        self.assertGreater(keys["valid_until_ts"], int(time.time() * 1000) + 3600_000)
        (key_id, entry), = keys["verify_keys"].items()
        self.assertTrue(key_id.startswith("ed25519:"))
        self.assertEqual(len(entry["key"]), 43)  # 32 bytes, unpadded base64
        self.assertIn(key_id, keys["signatures"][self.a.name])
        self.assertEqual(keys["old_verify_keys"], {})

        # B as a notary: it fetches A's keys over TLS, accepts them only if A's
        # self-signature verifies, and countersigns them.
        st, notary = self.federation(self.b, "GET", "/_matrix/key/v2/query/" + q(self.a.name))
        self.assertEqual(st, 200, notary)
        (answer,) = notary["server_keys"]
        self.assertEqual(answer["verify_keys"], keys["verify_keys"])
        self.assertIn(key_id, answer["signatures"][self.a.name])
        self.assertIn(self.b.name, answer["signatures"])
        st, batch = self.federation(self.b, "POST", "/_matrix/key/v2/query",
                                    body={"server_keys": {self.a.name: {}, self.b.name: {}}})
        self.assertEqual(st, 200, batch)
        self.assertEqual(sorted(k["server_name"] for k in batch["server_keys"]), sorted([self.a.name, self.b.name]))
        # C is not on B's list: B does not fetch its keys and has none cached.
        st, none = self.federation(self.b, "GET", "/_matrix/key/v2/query/" + q(self.c.name))
        self.assertEqual((st, none), (200, {"server_keys": []}))

        st, version = self.federation(self.a, "GET", "/_matrix/federation/v1/version")
        self.assertEqual(st, 200)
        self.assertEqual(version["server"]["name"], "Despatch")

    # ---- X-Matrix end to end -----------------------------------------------------------

    def test_profile_query_from_b_to_a(self):
        before_a, before_b = self.a.metrics(), self.b.metrics()
        st, body = self.b.client("GET", "/profile/" + q(self.a.user_id))
        self.assertEqual(st, 200, body)
        self.assertEqual(body.get("displayname"), "Alice of A")
        st, body = self.b.client("GET", "/profile/%s/displayname" % q(self.a.user_id))
        self.assertEqual((st, body), (200, {"displayname": "Alice of A"}))
        self.assertGreaterEqual(self.delta(self.a, before_a, "federation_authenticated"), 2)
        self.assertGreaterEqual(self.delta(self.b, before_b, "federation_outgoing"), 2)
        # A user A does not have.
        st, body = self.b.client("GET", "/profile/" + q("@nobody:" + self.a.name))
        self.assertEqual(st, 404, body)

        # A signed request straight to A, as B would send it, works too.
        st, body = self.federation(self.a, "GET", self.profile_uri(self.a),
                                   self.b.sign(self.a.name, self.profile_uri(self.a)))
        self.assertEqual(st, 200, body)
        self.assertEqual(body.get("displayname"), "Alice of A")

    def test_forged_signature_is_refused_and_counted(self):
        uri = self.profile_uri(self.a)
        header = self.b.sign(self.a.name, uri)
        sig_at = header.index('sig="') + 5
        c = header[sig_at]
        forged = header[:sig_at] + ("A" if c != "A" else "B") + header[sig_at + 1:]
        before = self.a.metrics()
        st, body = self.federation(self.a, "GET", uri, forged)
        self.assertEqual(st, 401, body)
        self.assertEqual(body["errcode"], "M_UNAUTHORIZED")
        self.assertIn("does not verify", body["error"])
        # The same header on another request (a replay onto another user) fails as well.
        st, body = self.federation(self.a, "GET", uri + "&field=displayname", header)
        self.assertEqual(st, 401, body)
        self.assertEqual(self.delta(self.a, before, "federation_refused_bad_signature"), 2)
        self.assertEqual(self.delta(self.a, before, "federation_refused_unauthorized"), 2)
        # No header, and a broken one.
        st, body = self.federation(self.a, "GET", uri)
        self.assertEqual((st, body["errcode"]), (401, "M_UNAUTHORIZED"))
        st, body = self.federation(self.a, "GET", uri, 'X-Matrix origin="%s",key="ed25519:x"' % self.b.name)
        self.assertEqual((st, body["errcode"]), (401, "M_UNAUTHORIZED"))
        self.assertIn("no sig", body["error"])

    def test_wrong_destination_is_refused_and_counted(self):
        uri = self.profile_uri(self.a)
        before = self.a.metrics()
        st, body = self.federation(self.a, "GET", uri, self.b.sign("127.0.0.1:1", uri))
        self.assertEqual(st, 401, body)
        self.assertEqual(body["errcode"], "M_UNAUTHORIZED")
        self.assertIn("is not this server", body["error"])
        self.assertEqual(self.delta(self.a, before, "federation_refused_wrong_destination"), 1)

    def test_server_not_on_the_allow_list_is_refused_counted_and_audited(self):
        uri = self.profile_uri(self.a)
        header = self.c.sign(self.a.name, uri)
        before = self.a.metrics()
        for _ in range(4):
            st, body = self.federation(self.a, "GET", uri, header)
            self.assertEqual(st, 403, body)
            self.assertEqual(body["errcode"], "M_FORBIDDEN")
            self.assertIn("allow-list", body["error"])
        self.assertEqual(self.delta(self.a, before, "federation_refused_not_allowed"), 4)
        # Refused before any key fetch.
        self.assertEqual(self.delta(self.a, before, "federation_key_fetches"), 0)
        # Audited once for the minute; the rest counted.
        rows = [e for e in self.a.audit()["entries"]
                if e["action"] == "federation.refused" and e["details"]["origin"] == self.c.name]
        self.assertGreaterEqual(len(rows), 1)
        self.assertLessEqual(len(rows), 2)  # the other test of C may have written the first
        self.assertEqual(rows[0]["details"]["reason"], "not_allowed")
        self.assertGreaterEqual(self.delta(self.a, before, "federation_audit_suppressed"), 3)

    def test_third_server_is_refused_both_ways(self):
        before_a, before_c = self.a.metrics(), self.c.metrics()
        # C -> A: C allows A and asks; A refuses C.
        st, body = self.c.client("GET", "/profile/" + q(self.a.user_id))
        self.assertEqual(st, 403, body)
        self.assertEqual(self.delta(self.a, before_a, "federation_refused_not_allowed"), 1)
        self.assertEqual(self.delta(self.c, before_c, "federation_outgoing"), 1)
        # A -> C: A refuses before connecting; C sees nothing.
        st, body = self.a.client("GET", "/profile/" + q(self.c.user_id))
        self.assertEqual(st, 403, body)
        self.assertIn("allow-list", body["error"])
        self.assertEqual(self.delta(self.a, before_a, "federation_outgoing_refused_not_allowed"), 1)
        self.assertEqual(self.delta(self.a, before_a, "federation_outgoing"), 0)
        after_c = self.c.metrics()
        for k in ("federation_authenticated", "federation_refused_not_allowed", "federation_refused_unauthorized"):
            self.assertEqual(after_c[k], before_c[k], k)

    def test_certificate_from_an_unknown_ca_is_refused(self):
        before = self.a.metrics()
        st, body = self.a.client("GET", "/profile/" + q("@someone:" + self.rogue_name))
        self.assertEqual(st, 502, body)
        self.assertIn("certificate", body["error"])
        self.assertEqual(self.delta(self.a, before, "federation_outgoing_failed"), 1)
        deadline = time.monotonic() + 5
        while self.rogue.connections == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertGreaterEqual(self.rogue.connections, 1)  # A did try, over TLS
        self.assertEqual(self.rogue.requests, 0)  # and sent nothing once the certificate failed

    def test_verification_off_is_explicit_and_logged(self):
        # The same untrusted listener, from a server told not to check certificates: the
        # request goes through (the stub answers nothing, hence 502), and the server said
        # at start that it does not check.
        d = Peer(self.tmp, "D", [self.rogue_name], self.ca, os.path.join(self.tmp, "server.pem"),
                 os.path.join(self.tmp, "server.key"))
        d.fx.config_toml = '[federation]\nverify_tls = false\n'
        with open(d.fx.config_path, "w") as f:
            f.write(d.fx.config_toml)
        try:
            d.start()
            self.assertIn("verify_tls = false", d.fx.stderr_text())
            self.assertIn("warn", d.fx.stderr_text())
            requests = self.rogue.requests
            st, body = d.client("GET", "/profile/" + q("@someone:" + self.rogue_name))
            self.assertEqual(st, 502, body)
            deadline = time.monotonic() + 5
            while self.rogue.requests == requests and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(self.rogue.requests, requests + 1)
        finally:
            d.fx.teardown()


if __name__ == "__main__":
    unittest.main()
