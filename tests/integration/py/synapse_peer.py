"""The reference homeserver as a federation peer: Synapse from ../shared/peers/synapse, built
once per machine by its setup.sh into DESPATCH_SYNAPSE_BUILD (default /tmp/despatch-synapse),
started on loopback with a TLS federation listener whose certificate comes from the tests' CA,
so that Despatch verifies it like any other peer.

SynapsePeer.start() returns once Synapse answers; register() makes a user with the dummy flow.
"""

import os
import shutil
import signal
import subprocess
import time

from harness import free_port, http_request
from test_federation_keys import make_cert

PEERS = os.environ.get("DESPATCH_PEERS", os.path.join(os.path.dirname(__file__), "..", "..", "..", "..",
                                                      "shared", "peers", "synapse"))
SYNAPSE_BUILD = os.environ.get("DESPATCH_SYNAPSE_BUILD", "/tmp/despatch-synapse")


def synapse_dir():
    path = os.path.abspath(PEERS)
    return path if os.path.isfile(os.path.join(path, "start.sh")) else None


def ensure_built(version="1.98.0", build=None):
    """Builds Synapse VERSION once (setup.sh is idempotent and takes under a second after)."""
    build = build or (SYNAPSE_BUILD if version == "1.98.0" else SYNAPSE_BUILD + "-" + version)
    res = subprocess.run([os.path.join(synapse_dir(), "setup.sh"), build, version], capture_output=True,
                         text=True, timeout=1800)
    if res.returncode != 0:
        raise RuntimeError("synapse setup failed:\n%s\n%s" % (res.stdout[-3000:], res.stderr[-3000:]))
    return build


class SynapsePeer:
    def __init__(self, tmp, label, ca_dir, ca, build):
        self.label = label
        self.build = build
        self.port = free_port()
        self.fed_port = free_port()
        self.name = "127.0.0.1:%d" % self.fed_port
        self.data = os.path.join(tmp, "synapse-" + label)
        os.makedirs(self.data, exist_ok=True)
        # start.sh keeps a certificate it finds: give it one from the tests' CA.
        cert_name = "synapse-" + label
        make_cert(ca_dir, ca, cert_name)
        shutil.copy(os.path.join(ca_dir, cert_name + ".pem"), os.path.join(self.data, "tls.crt"))
        shutil.copy(os.path.join(ca_dir, cert_name + ".key"), os.path.join(self.data, "tls.key"))
        self.pid = None

    def start(self):
        res = subprocess.run([os.path.join(synapse_dir(), "start.sh"), self.build, str(self.port), self.data,
                              self.name], capture_output=True, text=True, timeout=240)
        if res.returncode != 0:
            raise RuntimeError("synapse start failed: %s %s" % (res.stdout, res.stderr[-3000:]))
        self.pid = int(res.stdout.strip().splitlines()[-1])

    def stop(self):
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGTERM)
                for _ in range(100):
                    os.kill(self.pid, 0)
                    time.sleep(0.1)
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.pid = None

    def log_tail(self, n=4000):
        try:
            with open(os.path.join(self.data, "homeserver.log"), errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return ""

    def http(self, method, path, body=None, token=None, timeout=60, headers=None):
        return http_request("127.0.0.1", self.port, method, path, body=body, token=token, timeout=timeout,
                            headers=headers)

    def http_raw(self, method, path, body=None, token=None, headers=None):
        """(status, JSON or None, raw bytes, headers)."""
        return http_request("127.0.0.1", self.port, method, path, body=body, token=token, headers=headers,
                            timeout=60, raw_response=True)

    def register(self, username, password="correct horse battery"):
        body = {"username": username, "password": password, "auth": {"type": "m.login.dummy"}}
        st, ans = self.http("POST", "/_matrix/client/v3/register", body)
        if st != 200:
            raise RuntimeError("synapse register: %s %r" % (st, ans))
        return ans["user_id"], ans["access_token"]
