#!/usr/bin/python3
"""Leavers benchmark: how fast a deactivation cuts a leaver off, against a live server.

    bench/leavers_bench.py [--leavers 100] [--syncs 10] [--trigger api|cli] [--bin build/despatch]

Starts a fresh server on a free port. For each leaver: an account in a shared room, with
`--syncs` long-polling /syncs parked (timeout 30 s) on its token and a prober that keeps
asking /account/whoami with the same token. Then the leaver is deactivated (the admin API,
or `despatch user deactivate` beside the server with --trigger cli) and the bench records,
from the moment the call starts: when the last parked /sync was answered (401
M_UNKNOWN_TOKEN) and when the prober was first refused. Prints p50, p99 and max of both
over all leavers (milliseconds).
"""

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PASSWORD = "leavers bench password"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Client:
    def __init__(self, port):
        self.port = port

    def call(self, method, path, body=None, token=None, timeout=60):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            headers = {"Content-Type": "application/json"}
            if token:
                headers["Authorization"] = "Bearer " + token
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
        finally:
            conn.close()


def q(s):
    return urllib.parse.quote(s, safe="")


def percentile(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, int(round(p / 100.0 * (len(values) - 1)))))
    return values[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--leavers", type=int, default=100)
    ap.add_argument("--syncs", type=int, default=10)
    ap.add_argument("--trigger", choices=("api", "cli"), default="api")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "despatch"))
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="despatch-leavers-bench-")
    data = os.path.join(tmp, "data")
    port = free_port()
    subprocess.run([args.bin, "records", "keygen", "--out", os.path.join(tmp, "office"), "--data", data],
                   check=True, capture_output=True)
    subprocess.run([args.bin, "user", "add", "benchadmin", "--admin", "--password", PASSWORD, "--data", data],
                   check=True, capture_output=True)
    proc = subprocess.Popen([args.bin, "serve", "--data", data, "--listen", "127.0.0.1:%d" % port,
                             "--open-registration", "--no-rate-limit"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:
            if "despatch ready" in line:
                break
        threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
        c = Client(port)
        st, login = c.call("POST", "/_matrix/client/v3/login", {
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "benchadmin"},
            "password": PASSWORD})
        assert st == 200, login
        admin = login["access_token"]
        st, room = c.call("POST", "/_matrix/client/v3/createRoom", {"preset": "public_chat"}, token=admin)
        room = room["room_id"]

        last_sync_ms, first_refusal_ms = [], []
        for i in range(args.leavers):
            name = "leaver%d%s" % (i, uuid.uuid4().hex[:4])
            st, reg = c.call("POST", "/_matrix/client/v3/register", {
                "username": name, "password": PASSWORD, "auth": {"type": "m.login.dummy"}})
            assert st == 200, reg
            token, user_id = reg["access_token"], reg["user_id"]
            c.call("POST", "/_matrix/client/v3/join/" + q(room), {}, token=token)
            st, s = c.call("GET", "/_matrix/client/v3/sync?timeout=0", token=token)
            since = s["next_batch"]
            answers = []
            lock = threading.Lock()
            t0 = [None]
            started = threading.Barrier(args.syncs + 1)

            def park():
                started.wait()
                st, body = c.call("GET", "/_matrix/client/v3/sync?timeout=30000&since=" + q(since), token=token)
                with lock:
                    answers.append((time.perf_counter(), st, (body or {}).get("errcode")))

            threads = [threading.Thread(target=park) for _ in range(args.syncs)]
            for t in threads:
                t.start()
            started.wait()
            time.sleep(0.3)  # every /sync is parked on the server now
            refused = [None]
            go = threading.Event()

            def probe():
                go.wait()
                while refused[0] is None:
                    st, body = c.call("GET", "/_matrix/client/v3/account/whoami", token=token)
                    if st == 401:
                        refused[0] = time.perf_counter()

            prober = threading.Thread(target=probe)
            prober.start()
            t0[0] = time.perf_counter()
            go.set()
            if args.trigger == "api":
                st, body = c.call("POST", "/_despatch/admin/v1/users/%s/deactivate" % q(user_id), {}, token=admin)
                assert st == 200, body
            else:
                subprocess.run([args.bin, "user", "deactivate", user_id, "--data", data], check=True,
                               capture_output=True)
            for t in threads:
                t.join(40)
            prober.join(40)
            assert len(answers) == args.syncs and all(a[1] == 401 and a[2] == "M_UNKNOWN_TOKEN" for a in answers), answers
            last_sync_ms.append((max(a[0] for a in answers) - t0[0]) * 1000)
            first_refusal_ms.append((refused[0] - t0[0]) * 1000)

        print("leavers bench (%s trigger): %d leavers, %d parked /syncs each" % (args.trigger, args.leavers, args.syncs))
        for label, vals in (("last parked /sync answered", last_sync_ms), ("first refused request", first_refusal_ms)):
            print("  %-28s p50 %7.1f ms   p90 %7.1f ms   p99 %7.1f ms   max %7.1f ms   over 100 ms: %d" % (
                label, percentile(vals, 50), percentile(vals, 90), percentile(vals, 99), max(vals),
                sum(1 for v in vals if v > 100)))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
