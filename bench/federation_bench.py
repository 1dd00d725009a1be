#!/usr/bin/python3
"""Federation benchmark: messages sent on one server, timed until they arrive in /sync on
another.

    bench/federation_bench.py [--messages 2000] [--concurrency 8] [--rooms 100]
                              [--sequential 100] [--bin build/despatch] [--perf PREFIX]

Starts two federated Despatch servers A and B on loopback (TLS with certificates from a CA
made here with the openssl command, each allowing only the other), registers a sender on A
and a receiver on B, and has the receiver join rooms of A over federation. Then, for one room
and for --rooms rooms (messages spread round-robin over them), the sender keeps
--concurrency sends in flight on A while the receiver long-polls /sync on B. A message's
latency runs from the start of its send on A to the /sync answer on B that carries it
(matched by body). Printed: end-to-end messages/s (messages over the time from the first
send's start to the last arrival), latency p50/p99/max, the send rate A acknowledged, and
what A's outbox did (transactions and PDUs per transaction, from A's admin metrics). Last,
the round trip of one message at a time.

Both servers and this client share the machine: on a small one the figures include the
client's own CPU (it is Python), so note the load next to them.
"""

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration", "py"))
import harness  # noqa: E402
from harness import ServerFixture, free_port  # noqa: E402
from test_federation_keys import make_ca, make_cert  # noqa: E402

V3 = "/_matrix/client/v3"
ADMIN = "/_despatch/admin/v1"
PASSWORD = "federation bench password"
# A timeline limit above any batch the receiver can fall behind by, so that no /sync answer
# is limited (the server's cap is 1,000 events per room).
SYNC_FILTER = json.dumps({"room": {"timeline": {"limit": 1000}, "state": {"lazy_load_members": True}},
                          "presence": {"types": []}, "account_data": {"types": []}}, separators=(",", ":"))


def q(s):
    return urllib.parse.quote(s, safe="")


class Client:
    """One keep-alive connection to a server's client API."""

    def __init__(self, port, token=None, timeout=120):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.token = token

    def call(self, method, path, body=None, prefix=V3):
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        self.conn.request(method, prefix + path, json.dumps(body) if body is not None else None, headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{method} {path}: {resp.status} {raw[:300]!r}")
        return json.loads(raw or b"{}")


class Peer:
    """One Despatch server with federation on, a user and an admin token."""

    def __init__(self, binary, folder, ca, cert, key):
        self.fed_port = free_port()
        self.name = "127.0.0.1:%d" % self.fed_port
        harness.DESPATCH_BIN = binary
        self.fx = ServerFixture(open_registration=True, server_name=self.name,
                                config_toml='[federation]\nca_file = "%s"\n' % ca,
                                extra_args=["--federation-listen", self.name, "--tls-cert", cert,
                                            "--tls-key", key])

    def start(self, other_name, user):
        self.fx.extra_args += ["--federation-allow", other_name]
        self.fx.start()
        res = self.fx.user_add("admin", password=PASSWORD, admin=True)
        if res.returncode != 0:
            raise RuntimeError("user add failed: %s %s" % (res.stdout, res.stderr))
        st, body = self.fx.login("admin", PASSWORD)
        if st != 200:
            raise RuntimeError("admin login failed: %s %r" % (st, body))
        self.admin_token = body["access_token"]
        self.user_id, self.token, _ = self.fx.register(user, PASSWORD)

    def client(self, timeout=120):
        return Client(self.fx.port, self.token, timeout)

    def metrics(self):
        return Client(self.fx.port, self.admin_token).call("GET", "/metrics", prefix=ADMIN)

    @property
    def pid(self):
        return self.fx.proc.pid


class Receiver:
    """Long-polls /sync as B's user on a thread of its own and notes when each message
    body first arrives."""

    def __init__(self, peer):
        self.client = peer.client(timeout=120)
        self.since = self.client.call("GET", "/sync?filter=" + q(SYNC_FILTER))["next_batch"]
        self.arrived = {}
        self.limited = 0
        self.errors = []
        self.lock = threading.Condition()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            try:
                sync = self.client.call("GET", "/sync?timeout=1000&filter=%s&since=%s" % (q(SYNC_FILTER), q(self.since)))
            except Exception as e:  # noqa: BLE001 - reported with the figures; the poll goes on
                self.errors.append(repr(e))
                self.client = Client(self.client.conn.port, self.client.token, 120)
                continue
            now = time.perf_counter()
            self.since = sync["next_batch"]
            bodies = []
            for room in sync.get("rooms", {}).get("join", {}).values():
                timeline = room.get("timeline", {})
                self.limited += bool(timeline.get("limited"))
                for ev in timeline.get("events", []):
                    if ev.get("type") == "m.room.message":
                        bodies.append(ev["content"].get("body"))
            if bodies:
                with self.lock:
                    for b in bodies:
                        self.arrived.setdefault(b, now)
                    self.lock.notify_all()

    def wait_for(self, bodies, timeout):
        """Waits until every body arrived or timeout seconds pass; returns how many are missing."""
        deadline = time.perf_counter() + timeout
        with self.lock:
            while True:
                missing = sum(1 for b in bodies if b not in self.arrived)
                left = deadline - time.perf_counter()
                if missing == 0 or left <= 0:
                    return missing
                self.lock.wait(min(left, 1.0))

    def stop(self):
        self.stopping = True
        self.thread.join(5)


def shared_rooms(a, b, count, label):
    """count public rooms created on A, each joined by B's user over federation."""
    ca, cb = a.client(), b.client()
    rooms = []
    for i in range(count):
        room = ca.call("POST", "/createRoom", {"preset": "public_chat", "name": f"{label} {i}"})["room_id"]
        cb.call("POST", "/join/%s?via=%s" % (q(room), q(a.name)), {})
        rooms.append(room)
    return rooms


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def outbox_figures(before, after):
    txns = after["federation_txn_sent"] - before["federation_txn_sent"]
    pdus = after["federation_pdus_sent"] - before["federation_pdus_sent"]
    fails = after["federation_txn_send_failures"] - before["federation_txn_send_failures"]
    per = pdus / txns if txns else 0.0
    return f"A sent {txns} transactions carrying {pdus} PDUs ({per:.1f} a transaction), {fails} failed"


class Perf:
    """perf record of both servers while a phase runs, when asked for (--perf PREFIX)."""

    def __init__(self, prefix, peers, phase):
        self.procs = []
        if not prefix:
            return
        for label, peer in peers:
            out = f"{prefix}-{phase}-{label}.data"
            self.procs.append(subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "999", "-g",
                                                "-p", str(peer.pid), "-o", out],
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(0.5)

    def stop(self):
        for p in self.procs:
            p.send_signal(2)
        for p in self.procs:
            p.wait(30)


def load_run(a, b, receiver, rooms, count, concurrency, tag, perf_prefix):
    """Sends count messages over rooms (round-robin) with concurrency sends in flight; prints
    the figures."""
    bodies = [f"{tag} {i}" for i in range(count)]
    started = [0.0] * count
    acked = [0.0] * count
    next_index = [0]
    index_lock = threading.Lock()
    errors = []

    def sender():
        c = a.client()
        while True:
            with index_lock:
                i = next_index[0]
                next_index[0] += 1
            if i >= count:
                return
            room = rooms[i % len(rooms)]
            started[i] = time.perf_counter()
            try:
                c.call("PUT", "/rooms/%s/send/m.room.message/%s-%d" % (q(room), tag, i),
                       {"msgtype": "m.text", "body": bodies[i]})
            except Exception as e:  # noqa: BLE001 - counted and reported below
                errors.append(str(e))
                c = a.client()
            acked[i] = time.perf_counter()

    before = a.metrics()
    perf = Perf(perf_prefix, [("A", a), ("B", b)], tag)
    threads = [threading.Thread(target=sender) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent_s = time.perf_counter() - t0
    missing = receiver.wait_for(bodies, timeout=120)
    perf.stop()
    # B may show a transaction's events in /sync before A has its answer; wait for the queue
    # to drain so that the outbox figures cover the whole run.
    for _ in range(50):
        after = a.metrics()
        if after.get("federation_queue_backlog", 0) == 0:
            break
        time.sleep(0.1)

    with receiver.lock:
        arrivals = [receiver.arrived.get(b) for b in bodies]
    lat = sorted((arr - started[i]) * 1000 for i, arr in enumerate(arrivals) if arr is not None)
    last = max((x for x in arrivals if x is not None), default=t0)
    total_s = last - t0
    send_lat = sorted((acked[i] - started[i]) * 1000 for i in range(count))
    print(f"{len(rooms)} room{'s' if len(rooms) > 1 else ''}, {count} messages, {concurrency} sends in flight: "
          f"{len(lat) / total_s:.0f} messages/s end to end ({total_s:.2f} s); "
          f"latency send on A -> /sync on B p50 {percentile(lat, 50):.1f} ms, "
          f"p99 {percentile(lat, 99):.1f} ms, max {lat[-1] if lat else float('nan'):.1f} ms")
    print(f"  sends acknowledged by A: {count / sent_s:.0f}/s, send latency p50 {percentile(send_lat, 50):.1f} ms, "
          f"p99 {percentile(send_lat, 99):.1f} ms; {outbox_figures(before, after)}")
    if missing or errors or receiver.limited or receiver.errors:
        print(f"  PROBLEMS: {missing} never arrived, {len(errors)} sends failed "
              f"({errors[:1]}), {receiver.limited} limited timelines, /sync errors {receiver.errors[:3]}")
    return missing == 0 and not errors


def sequential_run(a, b, receiver, room, count, tag):
    """One message at a time: each is sent, then awaited in B's /sync, before the next."""
    c = a.client()
    lat = []
    for i in range(count):
        body = f"{tag} {i}"
        t = time.perf_counter()
        c.call("PUT", "/rooms/%s/send/m.room.message/%s-%d" % (q(room), tag, i), {"msgtype": "m.text", "body": body})
        if receiver.wait_for([body], timeout=30):
            keys = ("federation_outgoing", "federation_outgoing_failed", "federation_txn_sent",
                    "federation_txn_send_failures", "federation_queue_backlog", "federation_txn_received",
                    "federation_pdus_received", "federation_pdus_accepted", "federation_pdus_refused")
            ma, mb = a.metrics(), b.metrics()
            print(f"  PROBLEM: {body!r} never arrived; /sync errors {receiver.errors[:3]}; "
                  + "; ".join(f"{k[11:]} A {ma.get(k)} B {mb.get(k)}" for k in keys))
            return False
        with receiver.lock:
            lat.append((receiver.arrived[body] - t) * 1000)
    lat.sort()
    print(f"one message at a time, {count} messages: round trip send on A -> /sync on B "
          f"p50 {percentile(lat, 50):.1f} ms, p99 {percentile(lat, 99):.1f} ms, max {lat[-1]:.1f} ms "
          f"({count / (sum(lat) / 1000):.0f} messages/s)")
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--rooms", type=int, default=100)
    ap.add_argument("--sequential", type=int, default=100)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "despatch"))
    ap.add_argument("--perf", metavar="PREFIX", help="perf record both servers per phase into PREFIX-*.data")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="despatch-fed-bench-")
    peers = []
    ok = True
    try:
        make_ca(tmp, "ca")
        make_cert(tmp, "ca", "server")
        ca, cert, key = (os.path.join(tmp, f) for f in ("ca.pem", "server.pem", "server.key"))
        a = Peer(args.bin, tmp, ca, cert, key)
        b = Peer(args.bin, tmp, ca, cert, key)
        peers = [a, b]
        a.start(b.name, "sender")
        b.start(a.name, "receiver")
        t = time.perf_counter()
        one = shared_rooms(a, b, 1, "one room")
        many = shared_rooms(a, b, args.rooms, "many rooms")
        print(f"setup: servers A {a.name} and B {b.name}; {1 + args.rooms} rooms of A joined by B's user "
              f"in {time.perf_counter() - t:.1f} s")
        receiver = Receiver(b)
        ok &= sequential_run(a, b, receiver, one[0], min(10, args.sequential), "warmup")
        ok &= load_run(a, b, receiver, one, args.messages, args.concurrency, "one", args.perf)
        ok &= load_run(a, b, receiver, many, args.messages, args.concurrency, "many", args.perf)
        ok &= sequential_run(a, b, receiver, one[0], args.sequential, "seq")
        receiver.stop()
        for label, p in (("A", a), ("B", b)):
            problems = [line for line in p.fx.stderr_text().splitlines() if " warn " in line or " error " in line]
            if problems:
                print(f"server {label} logged {len(problems)} warnings or errors; the first: {problems[0]}")
    finally:
        for p in peers:
            p.fx.teardown()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
