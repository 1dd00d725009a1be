#!/usr/bin/python3
"""End-to-end encryption benchmark: /keys/query for a user who shares a room with N users,
and one /sendToDevice fanned out to N devices.

    bench/e2ee_bench.py [--users 1000] [--bin build/despatch]

Starts a fresh server on a free port, registers N users (each with real olm device keys),
joins them to one room, then prints the timings. Setup is dominated by password hashing.
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration", "py"))
from e2ee_helpers import FakeDevice  # noqa: E402


class Client:
    def __init__(self, port, token=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.token = token

    def call(self, method, path, body=None):
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        self.conn.request(method, "/_matrix/client/v3" + path, json.dumps(body) if body is not None else None, headers)
        resp = self.conn.getresponse()
        data = json.loads(resp.read() or b"{}")
        if resp.status != 200:
            raise RuntimeError(f"{method} {path}: {resp.status} {data}")
        return data


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "despatch"))
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()

    data = tempfile.mkdtemp(prefix="despatch-e2ee-bench-")
    port = free_port()
    server = subprocess.Popen([args.bin, "serve", "--data", data, "--listen", f"127.0.0.1:{port}",
                               "--open-registration", "--no-rate-limit", "--log-level", "warn"],
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)

        def make_user(i):
            c = Client(port)
            r = c.call("POST", "/register", {"username": f"u{i}", "password": "benchpassword",
                                             "auth": {"type": "m.login.dummy"}})
            c.token = r["access_token"]
            dev = FakeDevice(r["user_id"], r["device_id"])
            c.call("POST", "/keys/upload", {"device_keys": dev.device_keys()})
            return c, r["user_id"], r["device_id"]

        t0 = time.time()
        owner, owner_id, _ = make_user("owner")
        room = owner.call("POST", "/createRoom", {"preset": "public_chat"})["room_id"]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            users = list(pool.map(make_user, range(args.users)))

        def join(u):
            u[0].call("POST", f"/join/{room}", {})
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(join, users))
        print(f"setup: {args.users} users with device keys in one room in {time.time() - t0:.1f} s")

        query = {"device_keys": {uid: [] for _, uid, _ in users}}
        owner.call("POST", "/keys/query", query)  # warm
        times = []
        for _ in range(args.rounds):
            s = time.perf_counter()
            r = owner.call("POST", "/keys/query", query)
            times.append((time.perf_counter() - s) * 1000)
        assert len(r["device_keys"]) == args.users
        times.sort()
        print(f"keys/query for {args.users} users sharing a room: median {times[len(times) // 2]:.1f} ms, "
              f"max {times[-1]:.1f} ms ({args.rounds} rounds)")

        # One receiver parks a sync to time delivery of the fan-out.
        recv_client, recv_id, recv_dev = users[-1]
        since = recv_client.call("GET", "/sync?timeout=0")["next_batch"]
        messages = {uid: {dev: {"body": "fan-out"}} for _, uid, dev in users}
        sends = []
        for i in range(5):
            s = time.perf_counter()
            owner.call("PUT", f"/sendToDevice/m.bench/t{i}", {"messages": messages})
            sends.append((time.perf_counter() - s) * 1000)
        s = time.perf_counter()
        got = recv_client.call("GET", f"/sync?since={since}&timeout=10000")
        read_ms = (time.perf_counter() - s) * 1000
        assert len(got["to_device"]["events"]) == 5, got["to_device"]
        sends.sort()
        print(f"sendToDevice fan-out to {args.users} devices: median {sends[len(sends) // 2]:.1f} ms per send "
              f"(durable), a recipient's next /sync returned its 5 messages in {read_ms:.1f} ms")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
