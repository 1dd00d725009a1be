"""Helpers for the end-to-end encryption tests.

- canonical_json / signed(): Matrix signing of JSON objects (appendices: signing JSON).
- FakeDevice: a device with real olm keys (python3-olm) that can build signed device keys,
  one-time keys and fallback keys for raw /keys/upload requests.
- CrossSigningKeys: master, self-signing and user-signing keys (olm.PkSigning).
- JsPeer: a matrix-js-sdk client (tests/integration/js/e2ee_peer.mjs) driven through JSON lines.
- nio_step(): one manual matrix-nio sync plus the key housekeeping that sync_forever does.
"""

import base64
import copy
import json
import os
import queue
import subprocess
import threading
import time

import olm

HERE = os.path.dirname(os.path.abspath(__file__))
JS_DIR = os.path.join(os.path.dirname(HERE), "js")
PEER_SCRIPT = os.path.join(JS_DIR, "e2ee_peer.mjs")

ALGORITHMS = ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"]


def canonical_json(obj):
    """The Matrix canonical JSON encoding of obj, as bytes."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def signable(obj):
    """obj without its signatures and unsigned members (what a signature covers)."""
    o = copy.deepcopy(obj)
    o.pop("signatures", None)
    o.pop("unsigned", None)
    return o


def signed(obj, sign_fn, user_id, key_id):
    """A copy of obj with a signature by sign_fn (bytes/str -> base64 str) added."""
    o = copy.deepcopy(obj)
    sig = sign_fn(canonical_json(signable(o)).decode("utf-8"))
    o.setdefault("signatures", {}).setdefault(user_id, {})[key_id] = sig
    return o


def flip_signature(sig):
    """A same-length signature that does not verify (one byte changed)."""
    raw = bytearray(base64.b64decode(sig + "=" * (-len(sig) % 4)))
    raw[0] ^= 0x01
    return base64.b64encode(bytes(raw)).decode("ascii").rstrip("=")


class FakeDevice:
    """Olm identity keys for one device of one user."""

    def __init__(self, user_id, device_id):
        self.user_id = user_id
        self.device_id = device_id
        self.account = olm.Account()
        keys = self.account.identity_keys
        self.ed25519 = keys["ed25519"]
        self.curve25519 = keys["curve25519"]

    def sign(self, text):
        return self.account.sign(text)

    def device_keys(self, user_id=None, device_id=None, sign=True):
        """Signed device_keys for /keys/upload. user_id/device_id override what the keys claim."""
        uid = user_id or self.user_id
        did = device_id or self.device_id
        dk = {
            "user_id": uid,
            "device_id": did,
            "algorithms": list(ALGORITHMS),
            "keys": {
                "curve25519:" + did: self.curve25519,
                "ed25519:" + did: self.ed25519,
            },
        }
        if sign:
            dk = signed(dk, self.sign, uid, "ed25519:" + did)
        return dk

    def one_time_keys(self, n, fallback=False):
        """n signed_curve25519 keys {key_id: {key, signatures}} (or one fallback key)."""
        out = {}
        if fallback:
            self.account.generate_fallback_key()
            keys = self.account.fallback_key["curve25519"] if hasattr(self.account, "fallback_key") else {}
        else:
            self.account.generate_one_time_keys(n)
            keys = self.account.one_time_keys["curve25519"]
        for key_id, key in keys.items():
            obj = {"key": key}
            if fallback:
                obj["fallback"] = True
            out["signed_curve25519:" + key_id] = signed(obj, self.sign, self.user_id,
                                                        "ed25519:" + self.device_id)
        if not fallback:
            self.account.mark_keys_as_published()
        return out


class CrossSigningKeys:
    """Master, self-signing and user-signing ed25519 keys of one user."""

    def __init__(self, user_id):
        self.user_id = user_id
        self.master = olm.PkSigning(olm.PkSigning.generate_seed())
        self.self_signing = olm.PkSigning(olm.PkSigning.generate_seed())
        self.user_signing = olm.PkSigning(olm.PkSigning.generate_seed())

    @staticmethod
    def _key(signing, user_id, usage):
        pub = signing.public_key
        return {"user_id": user_id, "usage": [usage], "keys": {"ed25519:" + pub: pub}}

    def master_key(self):
        return self._key(self.master, self.user_id, "master")

    def self_signing_key(self):
        return signed(self._key(self.self_signing, self.user_id, "self_signing"),
                      self.master.sign, self.user_id, "ed25519:" + self.master.public_key)

    def user_signing_key(self):
        return signed(self._key(self.user_signing, self.user_id, "user_signing"),
                      self.master.sign, self.user_id, "ed25519:" + self.master.public_key)

    def upload_body(self):
        return {"master_key": self.master_key(), "self_signing_key": self.self_signing_key(),
                "user_signing_key": self.user_signing_key()}

    def sign_device(self, device_keys):
        """device_keys with a self-signing key signature added."""
        return signed(device_keys, self.self_signing.sign, self.user_id,
                      "ed25519:" + self.self_signing.public_key)

    def sign_other_master(self, other_master_key):
        """Another user's master key with this user's user-signing signature added."""
        return signed(other_master_key, self.user_signing.sign, self.user_id,
                      "ed25519:" + self.user_signing.public_key)


# ---- matrix-js-sdk peer ------------------------------------------------------------------

class PeerError(RuntimeError):
    pass


class JsPeer:
    """Runs e2ee_peer.mjs for one logged-in device and sends it commands."""

    def __init__(self, base_url, user_id, access_token, device_id, ready_timeout=60.0):
        self.proc = subprocess.Popen(
            ["node", PEER_SCRIPT, "--base-url", base_url, "--user-id", user_id,
             "--access-token", access_token, "--device-id", device_id],
            cwd=JS_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, bufsize=1)
        self._lines = queue.Queue()
        self._stderr = []
        self._next_id = 0
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        first = self._next_line(ready_timeout)
        if not first.get("ready"):
            raise PeerError("peer did not start: %r\n%s" % (first, self.stderr_tail()))
        self.info = first

    def _read_stdout(self):
        for line in self.proc.stdout:
            line = line.strip()
            if line:
                self._lines.put(line)
        self._lines.put(None)

    def _read_stderr(self):
        for line in self.proc.stderr:
            self._stderr.append(line)
            if len(self._stderr) > 4000:
                del self._stderr[:1000]

    def stderr_tail(self, n=60):
        return "".join(self._stderr[-n:])

    def _next_line(self, timeout):
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise PeerError("no answer from the js peer in %.0fs; stderr:\n%s" % (timeout, self.stderr_tail()))
        if line is None:
            raise PeerError("js peer exited (%s); stderr:\n%s" % (self.proc.poll(), self.stderr_tail()))
        try:
            return json.loads(line)
        except ValueError:
            raise PeerError("js peer wrote a non-JSON line: %r" % line)

    def request_sync(self, cmd, timeout=60.0, **kw):
        """Sends one command and blocks for its answer; raises PeerError when it failed."""
        self._next_id += 1
        rid = self._next_id
        msg = dict(kw, id=rid, cmd=cmd)
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise PeerError("js peer: no answer to %s in %.0fs" % (cmd, timeout))
            ans = self._next_line(left)
            if ans.get("id") == rid:
                if not ans.get("ok"):
                    raise PeerError("js peer: %s failed: %s" % (cmd, ans.get("error")))
                return ans

    async def request(self, cmd, timeout=60.0, **kw):
        """request_sync in a worker thread, so an asyncio test can keep syncing meanwhile."""
        import asyncio
        return await asyncio.to_thread(self.request_sync, cmd, timeout, **kw)

    def close(self):
        if self.proc.poll() is None:
            try:
                self.request_sync("stop", timeout=10)
            except (PeerError, OSError, ValueError):
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass


# ---- matrix-nio ---------------------------------------------------------------------------

async def nio_step(client, timeout_ms=500):
    """One sync, then the to-device sends and key upload/query/claim nio's sync_forever does."""
    from nio import SyncResponse
    resp = await client.sync(timeout=timeout_ms, full_state=False)
    if not isinstance(resp, SyncResponse):
        raise AssertionError("nio sync failed: %r" % (resp,))
    await client.send_to_device_messages()
    if client.should_upload_keys:
        await client.keys_upload()
    if client.should_query_keys:
        await client.keys_query()
    if client.should_claim_keys:
        await client.keys_claim(client.get_users_for_key_claiming())
    return resp
