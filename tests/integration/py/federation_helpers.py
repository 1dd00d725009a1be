"""Shared setup for the federation tests that need two real servers and a few users each:
a pair of Peers (A and B allowing each other) with a test CA, users made on demand, /sync
polling and raw federation requests signed with a server's own key."""

import json
import os
import shutil
import tempfile
import time
import unittest
import uuid

from harness import q, run_cli
from test_federation_keys import Peer, federation_request, make_ca, make_cert

V3 = "/_matrix/client/v3"


class User:
    """A user of a peer, with its own token."""

    def __init__(self, peer):
        self.peer = peer
        self.user_id, self.token, _ = peer.fx.register("u" + uuid.uuid4().hex[:10], "membership test password")

    def client(self, method, path, body=None):
        return self.peer.fx.http(method, V3 + path, body=body, token=self.token)

    def sync(self, since=None, timeout_ms=0, filter_json=None):
        path = "/sync?timeout=%d" % timeout_ms
        if since:
            path += "&since=" + q(since)
        if filter_json:
            path += "&filter=" + q(json.dumps(filter_json))
        st, body = self.client("GET", path)
        assert st == 200, (st, body)
        return body

    def wait_sync(self, predicate, what, timeout=25, since=None):
        """Syncs until predicate(sync body) is true; returns (the body, its value)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            body = self.sync(since=since, timeout_ms=1000)
            since = body["next_batch"]
            found = predicate(body)
            if found:
                return body, found
        raise AssertionError("%s never saw %s" % (self.user_id, what))


class PeerPair:
    """Servers on loopback (A and B unless labels say otherwise), each allowing the others
    only, with certificates from one test CA."""

    def __init__(self, prefix, labels="AB"):
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        make_ca(self.tmp, "ca")
        make_cert(self.tmp, "ca", "server")
        self.ca = os.path.join(self.tmp, "ca.pem")
        cert, key = os.path.join(self.tmp, "server.pem"), os.path.join(self.tmp, "server.key")
        self.peers = [Peer(self.tmp, label, [], self.ca, cert, key) for label in labels]
        for p in self.peers:
            for other in self.peers:
                if other is not p:
                    p.fx.extra_args += ["--federation-allow", other.name]
        self.a, self.b = self.peers[0], self.peers[1]

    def start(self):
        try:
            for p in self.peers:
                p.start()
        except Exception:
            self.stop()
            raise

    def stop(self):
        for p in self.peers:
            p.fx.teardown()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def federation(self, origin, peer, method, target, body=None, sign_as=None):
        """A request from origin's server (its key; named sign_as when given) to peer's
        federation listener, signed over body as sent."""
        args = ["federation", "sign-request", "--data", origin.fx.data_dir, "--server-name", sign_as or origin.name,
                "--destination", peer.name, "--method", method, "--uri", target]
        if body is not None:
            args += ["--content", json.dumps(body)]
        res = run_cli(*args)
        assert res.returncode == 0, res.stderr
        return federation_request(self.ca, peer, method, target, res.stdout.strip(), body)


class PairTestCase(unittest.TestCase):
    """Tests over one PeerPair started for the class: cls.a, cls.b, cls.peers, cls.ca,
    cls.tmp. Subclasses name PREFIX and may override configure (before the servers start)
    and prepare (after them)."""

    PREFIX = "despatch-fed-"

    @classmethod
    def configure(cls):
        pass

    @classmethod
    def prepare(cls):
        pass

    @classmethod
    def setUpClass(cls):
        cls.pair = PeerPair(cls.PREFIX)
        cls.tmp, cls.ca, cls.a, cls.b, cls.peers = cls.pair.tmp, cls.pair.ca, cls.pair.a, cls.pair.b, cls.pair.peers
        cls.configure()
        cls.pair.start()
        try:
            cls.prepare()
        except Exception:
            cls.pair.stop()
            raise

    def tearDown(self):
        if os.environ.get("DESPATCH_TEST_LOGS"):
            for p in self.peers:
                print("---- %s\n%s" % (p.label, p.fx.stderr_text()[-4000:]))

    @classmethod
    def tearDownClass(cls):
        cls.pair.stop()

def stored_pdu(peer, event_id):
    """The PDU peer stored for event_id (its own database, read-only)."""
    import sqlite3
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(peer.fx.data_dir, "despatch.db"), uri=True)
    try:
        row = db.execute("SELECT json FROM events WHERE event_id=?", (event_id,)).fetchone()
    finally:
        db.close()
    return json.loads(row[0]) if row else None
