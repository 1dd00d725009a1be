"""Helpers for the records tests (test_records.py): a server with an admin account, Matrix
client calls over raw HTTP, the records command line, export bundles and hand tampering with
the archive database.

Only the Python standard library and harness.py are used here.
"""

import json
import os
import shutil
import sqlite3
import tempfile
import time
import uuid

from harness import ServerError, ServerFixture, q, run_cli

V3 = "/_matrix/client/v3"
ADMIN = "/_despatch/admin/v1"
PASSWORD = "records test password"
ADMIN_PASSWORD = "records admin password"


def uname(prefix):
    return "%s%s" % (prefix, uuid.uuid4().hex[:8])


def txn():
    return uuid.uuid4().hex


# ---- the server and its accounts --------------------------------------------------------

class RecordsServer:
    """A ServerFixture plus an admin account and a few conveniences for records work."""

    def __init__(self, config_toml=None):
        self.fx = ServerFixture(open_registration=True, rate_limit=False, config_toml=config_toml)
        self.admin_token = None
        self.admin_id = None

    # lifecycle
    def start(self):
        self.fx.start()
        if self.admin_token is None:
            name = uname("admin")
            res = self.fx.user_add(name, password=ADMIN_PASSWORD, admin=True)
            if res.returncode != 0:
                raise ServerError("user add --admin failed: %s %s" % (res.stdout, res.stderr))
            st, body = self.fx.login(name, ADMIN_PASSWORD)
            if st != 200:
                raise ServerError("admin login failed: %s %r" % (st, body))
            self.admin_token = body["access_token"]
            self.admin_id = body["user_id"]
        return self

    def stop(self, **kw):
        return self.fx.stop(**kw)

    def teardown(self):
        self.fx.teardown()

    @property
    def data_dir(self):
        return self.fx.data_dir

    @property
    def db_path(self):
        return os.path.join(self.fx.data_dir, "despatch.db")

    @property
    def secret_key_file(self):
        """The records office's secret half, kept outside the server's data folder."""
        return self.fx.records_key_file

    def secret_key_b64(self):
        with open(self.secret_key_file) as f:
            return f.read().strip()

    def http(self, method, path, body=None, token=None, **kw):
        return self.fx.http(method, path, body=body, token=token, **kw)

    def admin(self, method, path, body=None, token=None):
        """An admin API call with the admin token (or the given one)."""
        return self.fx.http(method, ADMIN + path, body=body,
                            token=self.admin_token if token is None else token)

    def export_sealed(self, case_ref, filt=None, text=None):
        """The admin API's sealed export of filt, opened on "the records office's side" with
        open-export; returns (reply, the bag's records, the bag's folder)."""
        st, body, raw = sealed_export(self.fx, self.admin_token, case_ref, filt)
        if st != 200:
            raise AssertionError("sealed export: %s %r" % (st, body))
        path = self.new_out_path("sealed") + ".json"
        with open(path, "wb") as f:
            f.write(raw)
        out = self.new_out_path("bag")
        res = open_export(path, self.secret_key_file, out, data_dir=self.data_dir, text=text)
        if res.returncode != 0:
            raise AssertionError("open-export: %s %s" % (res.stdout, res.stderr))
        return body, read_bundle(out), out

    def register(self, prefix="user"):
        """Returns a Client for a freshly registered account."""
        user_id, token, device = self.fx.register(uname(prefix), PASSWORD)
        return Client(self, user_id, token)

    def tmpdir(self, prefix):
        """A fresh folder inside the fixture's temp folder (removed at teardown)."""
        return tempfile.mkdtemp(prefix=prefix, dir=self.fx.tmp)

    def new_out_path(self, prefix="export"):
        """A path that does not exist yet, inside the fixture's temp folder."""
        return os.path.join(self.fx.tmp, "%s-%s" % (prefix, uuid.uuid4().hex[:8]))


class Client:
    """A Matrix user speaking raw HTTP to the server."""

    def __init__(self, server, user_id, token):
        self.server = server
        self.user_id = user_id
        self.token = token

    def call(self, method, path, body=None):
        return self.server.http(method, V3 + path, body=body, token=self.token)

    def ok(self, method, path, body=None):
        st, resp = self.call(method, path, body)
        if st != 200:
            raise AssertionError("%s %s as %s: %s %r" % (method, path, self.user_id, st, resp))
        return resp

    def create_room(self, invite=(), initial_state=(), **extra):
        body = {"preset": "private_chat", "invite": list(invite),
                "initial_state": list(initial_state)}
        body.update(extra)
        return self.ok("POST", "/createRoom", body)["room_id"]

    def join(self, room_id):
        return self.ok("POST", "/join/%s" % q(room_id), {})

    def send(self, room_id, content, event_type="m.room.message"):
        return self.ok("PUT", "/rooms/%s/send/%s/%s" % (q(room_id), event_type, txn()),
                       content)["event_id"]

    def say(self, room_id, body):
        return self.send(room_id, {"msgtype": "m.text", "body": body})

    def edit(self, room_id, target, new_body):
        return self.send(room_id, {
            "msgtype": "m.text", "body": "* " + new_body,
            "m.new_content": {"msgtype": "m.text", "body": new_body},
            "m.relates_to": {"rel_type": "m.replace", "event_id": target}})

    def redact(self, room_id, target, reason=None):
        body = {} if reason is None else {"reason": reason}
        return self.ok("PUT", "/rooms/%s/redact/%s/%s" % (q(room_id), q(target), txn()),
                       body)["event_id"]

    def put_state(self, room_id, event_type, content, state_key=""):
        return self.ok("PUT", "/rooms/%s/state/%s/%s" % (q(room_id), event_type, q(state_key)),
                       content)["event_id"]

    def messages(self, room_id, limit=100):
        return self.ok("GET", "/rooms/%s/messages?dir=b&limit=%d" % (q(room_id), limit))

    def initial_sync(self):
        return self.ok("GET", "/sync?timeout=0")

    def get_event(self, room_id, event_id):
        return self.call("GET", "/rooms/%s/event/%s" % (q(room_id), q(event_id)))

    def context(self, room_id, event_id):
        return self.call("GET", "/rooms/%s/context/%s?limit=10" % (q(room_id), q(event_id)))


def sync_timeline(sync_body, room_id):
    room = sync_body.get("rooms", {}).get("join", {}).get(room_id)
    if not room:
        return []
    return room.get("timeline", {}).get("events", [])


def event_ids(events):
    return {e.get("event_id") for e in events}


# ---- the records command line -----------------------------------------------------------

def records_cli(data_dir, *args, timeout=60):
    """despatch records ARGS --data DATA_DIR."""
    return run_cli("records", *args, "--data", data_dir, timeout=timeout)


def audit_cli(data_dir, *args, timeout=60):
    return run_cli("audit", *args, "--data", data_dir, timeout=timeout)


def cli_export(data_dir, key_file, out_dir, case_ref, **filters):
    """despatch records export; filters: user, room, from_, to, text, actor."""
    args = ["export", "--key", key_file, "--out", out_dir, "--case", case_ref]
    names = {"user": "--user", "room": "--room", "from_": "--from", "to": "--to",
             "text": "--text", "actor": "--actor"}
    for k, v in filters.items():
        args += [names[k], str(v)]
    return records_cli(data_dir, *args)


def verify_export(bundle_dir, data_dir=None):
    """despatch records verify-export; with data_dir the signer must be that server."""
    extra = ["--data", data_dir] if data_dir else []
    return run_cli("records", "verify-export", bundle_dir, *extra)


def rebag(bag_dir):
    """What anyone can do to a bag: recompute its payload manifest, Payload-Oxum and tag
    manifest after changing files (the server's signature over its sealed export stays)."""
    import hashlib
    lines, octets, count = [], 0, 0
    for root, _, files in os.walk(os.path.join(bag_dir, "data")):
        for name in sorted(files):
            full = os.path.join(root, name)
            with open(full, "rb") as f:
                data = f.read()
            rel = os.path.relpath(full, bag_dir).replace(os.sep, "/")
            lines.append("%s  %s\n" % (hashlib.sha256(data).hexdigest(), rel))
            octets += len(data)
            count += 1
    with open(os.path.join(bag_dir, "manifest-sha256.txt"), "w") as f:
        f.write("".join(sorted(lines, key=lambda l: l.split("  ", 1)[1])))
    info_path = os.path.join(bag_dir, "bag-info.txt")
    with open(info_path) as f:
        info = [l for l in f.read().splitlines() if not l.startswith("Payload-Oxum:")]
    info.append("Payload-Oxum: %d.%d" % (octets, count))
    with open(info_path, "w") as f:
        f.write("\n".join(info) + "\n")
    tags = []
    for name in sorted(os.listdir(bag_dir)):
        full = os.path.join(bag_dir, name)
        if name == "tagmanifest-sha256.txt" or not os.path.isfile(full):
            continue
        with open(full, "rb") as f:
            tags.append("%s  %s\n" % (hashlib.sha256(f.read()).hexdigest(), name))
    with open(os.path.join(bag_dir, "tagmanifest-sha256.txt"), "w") as f:
        f.write("".join(tags))


def resign_bundle(bundle_dir, change=None):
    """What a forger would do: change the records in the bag's copy of the sealed export
    (change(row) on each sealed row, then recompute the rows' hashes and the chain), rewrite
    the signed manifest with a new ed25519 key of their own, sign it, and rebag."""
    import hashlib
    import olm  # Debian's python3-olm
    path = os.path.join(bundle_dir, "sealed-export.json")
    with open(path) as f:
        doc = json.load(f)
    manifest = json.loads(doc["manifest"])
    rows = [json.loads(l) for l in doc["records"].splitlines() if l.strip()]
    prev = rows[0]["prev_hash"] if rows else None
    for row in rows:
        if change:
            change(row)
        row["content_hash"], row["hash"] = archive_hashes(row, row["prev_hash"])
    records = "".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n" for r in rows)
    doc["records"] = records
    manifest["records_sha256"] = hashlib.sha256(records.encode("utf-8")).hexdigest()
    signer = olm.PkSigning(olm.PkSigning.generate_seed())
    manifest["signing_public_key"] = signer.public_key
    doc["manifest"] = json.dumps(manifest)
    doc["signature"] = signer.sign(doc["manifest"])
    with open(path, "w") as f:
        json.dump(doc, f)
    # The payload follows the forged rows.
    by_seq = {r["seq"]: r for r in rows}
    jsonl = os.path.join(bundle_dir, "data", "records.jsonl")
    with open(jsonl, encoding="utf-8") as f:
        recs = [json.loads(l) for l in f if l.strip()]
    with open(jsonl, "w", encoding="utf-8") as f:
        for r in recs:
            sealed = by_seq[r["seq"]]
            for k in ("hash", "event_id", "room_id", "sender", "type", "ts", "classification", "kind"):
                r[k] = sealed[k]
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    rebag(bundle_dir)


def read_bundle(bundle_dir):
    """The records of an export bag: a list of dicts, one per data/records.jsonl line."""
    with open(os.path.join(bundle_dir, "data", "records.jsonl"), "rb") as f:
        data = f.read()
    out = []
    for line in data.decode("utf-8").splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out


# ---- sealed exports through the admin API -------------------------------------------------

def sealed_export(fx, admin_token, case_ref, filt=None, host=None, port=None):
    """POST /records/sealed_export; returns (status, body, raw reply bytes). host/port: send
    through something else (a recording proxy) instead of straight to the server."""
    from harness import http_request
    st, body, raw, _ = http_request(host or fx.host, port or fx.port, "POST", ADMIN + "/records/sealed_export",
                                    body={"case_ref": case_ref, "filter": filt or {}}, token=admin_token,
                                    raw_response=True, timeout=120)
    return st, body, raw


def open_export(sealed_path, key_file, out_dir, data_dir=None, text=None):
    """despatch records open-export on the records office's side."""
    args = ["records", "open-export", "--key", key_file, "--in", sealed_path, "--out", out_dir]
    if data_dir:
        args += ["--data", data_dir]
    if text:
        args += ["--text", text]
    return run_cli(*args, timeout=120)


class RecordingProxy:
    """A TCP proxy in front of the server that keeps every byte a client sends through it, to
    show what went over the wire to the server."""

    def __init__(self, target_host, target_port):
        import socket
        import threading
        self.target = (target_host, target_port)
        self.sent = bytearray()
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import socket
        import threading
        while not self._stop:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src, dst, record):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if record:
                    with self._lock:
                        self.sent += data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(2)
                except OSError:
                    pass

    def captured(self):
        with self._lock:
            return bytes(self.sent)

    def close(self):
        self._stop = True
        self._sock.close()


def bundle_by_event_id(records):
    return {r.get("event_id"): r for r in records}


def body_of(record):
    ev = record.get("event") or {}
    content = ev.get("content") or {}
    return content.get("body")


def dir_is_absent_or_empty(path):
    return not os.path.exists(path) or (os.path.isdir(path) and not os.listdir(path))


def flip_byte(path, offset=None):
    """XORs one byte of a file (the middle one by default) with 0x01."""
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        if not data:
            raise AssertionError("%s is empty" % path)
        i = len(data) // 2 if offset is None else offset
        data[i] ^= 0x01
        f.seek(0)
        f.write(bytes(data))
        f.truncate()


# ---- the database, for tampering while the server is stopped -----------------------------

def db_connect(data_dir):
    conn = sqlite3.connect(os.path.join(data_dir, "despatch.db"), timeout=10)
    conn.row_factory = sqlite3.Row
    return conn


def archive_rows(data_dir):
    with db_connect(data_dir) as conn:
        return [dict(r) for r in conn.execute("SELECT * FROM archive ORDER BY seq")]


def archive_event_ids(data_dir):
    with db_connect(data_dir) as conn:
        return {r[0] for r in conn.execute("SELECT event_id FROM archive")}


def copy_data_dir(src_data_dir, parent):
    """Copies a stopped server's data folder (database, WAL and keys) under parent."""
    dst = tempfile.mkdtemp(prefix="tamper-", dir=parent)
    target = os.path.join(dst, "data")
    shutil.copytree(src_data_dir, target)
    return target


def flip_base64_char(text, index=None):
    """Changes one character of a base64 string to another base64 character."""
    i = len(text) // 2 if index is None else index
    while text[i] in "=":
        i -= 1
    ch = text[i]
    repl = "B" if ch != "B" else "C"
    return text[:i] + repl + text[i + 1:]


def swap_archive_rows(data_dir, seq_a, seq_b):
    """Swaps every column but seq between two archive rows."""
    with db_connect(data_dir) as conn:
        cols = [r[1] for r in conn.execute("PRAGMA table_info(archive)") if r[1] != "seq"]
        a = conn.execute("SELECT %s FROM archive WHERE seq=?" % ", ".join(cols), (seq_a,)).fetchone()
        b = conn.execute("SELECT %s FROM archive WHERE seq=?" % ", ".join(cols), (seq_b,)).fetchone()
        if a is None or b is None:
            raise AssertionError("no archive rows %d and %d" % (seq_a, seq_b))
        setter = ", ".join("%s=?" % c for c in cols)
        # Unique columns (event_id) must not collide midway: park row a out of the way.
        conn.execute("UPDATE archive SET event_id='$parked' WHERE seq=?", (seq_a,))
        conn.execute("UPDATE archive SET %s WHERE seq=?" % setter, (*tuple(a), seq_b))
        conn.execute("UPDATE archive SET %s WHERE seq=?" % setter, (*tuple(b), seq_a))
        conn.commit()


HASHED_COLUMNS = ("seq", "stream_pos", "event_id", "room_id", "sender", "type", "ts", "classification",
                  "kind", "key_id", "sealed")


def archive_hashes(row, prev_hash):
    """(content_hash, hash) of an archive row as the server computes them: SHA-256 of the
    canonical JSON of its clear columns and sealed box (format 2: the box's own hash, and
    the kind it was written with), chained to its predecessor's hash. Anyone with the
    database can do this; only the signed checkpoints cannot be redone without the key."""
    import hashlib
    obj = {k: (row[k] if row[k] is not None else "") for k in HASHED_COLUMNS}
    if row.get("format", 1) >= 2:
        del obj["sealed"]
        obj["kind"] = row["live_kind"]
        obj["sealed_sha256"] = row["sealed_hash"]
        obj["format"] = row["format"]
    content = hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":"),
                                        ensure_ascii=False).encode()).hexdigest()
    return content, hashlib.sha256((prev_hash + content).encode()).hexdigest()


REWRITTEN_COLUMNS = tuple(k for k in HASHED_COLUMNS if k != "seq") + ("live_kind", "sealed_hash")


def rewrite_archive_row(conn, row, prev_hash):
    """Rewrites a row with hashes that hold, as a forger who knows the format would."""
    import hashlib
    if row.get("format", 1) >= 2 and row["sealed"] is not None:
        row["sealed_hash"] = hashlib.sha256(row["sealed"].encode()).hexdigest()
        if row["kind"] != "tombstone":
            row["live_kind"] = row["kind"]
    content, chained = archive_hashes(row, prev_hash)
    conn.execute("UPDATE archive SET %s, content_hash=?, prev_hash=?, hash=? WHERE seq=?"
                 % ", ".join("%s=?" % k for k in REWRITTEN_COLUMNS),
                 (*[row[k] for k in REWRITTEN_COLUMNS], content, prev_hash, chained, row["seq"]))
    return chained


def forge_archive(data_dir, seq, change, insert=False, rehash_rest=False):
    """Tampers as someone who knows the hashing would: applies change(row) to record seq (or,
    with insert, to a copy of it inserted at seq, shifting the rest up) with valid hashes for
    it; with rehash_rest, recomputes the whole chain after it too."""
    with db_connect(data_dir) as conn:
        if insert:
            for (s,) in conn.execute("SELECT seq FROM archive WHERE seq>=? ORDER BY seq DESC", (seq,)).fetchall():
                conn.execute("UPDATE archive SET seq=? WHERE seq=?", (s + 1, s))
            src = dict(conn.execute("SELECT * FROM archive WHERE seq=?", (seq + 1,)).fetchone())
            src["seq"] = seq
            cols = list(src.keys())
            conn.execute("INSERT INTO archive(%s) VALUES(%s)" % (", ".join(cols), ", ".join("?" * len(cols))),
                         tuple(src[c] for c in cols))
        prev = conn.execute("SELECT hash FROM archive WHERE seq=?", (seq - 1,)).fetchone()[0]
        row = dict(conn.execute("SELECT * FROM archive WHERE seq=?", (seq,)).fetchone())
        change(row)
        prev = rewrite_archive_row(conn, row, prev)
        if rehash_rest:
            for later in conn.execute("SELECT * FROM archive WHERE seq>? ORDER BY seq", (seq,)).fetchall():
                prev = rewrite_archive_row(conn, dict(later), prev)
        conn.commit()


def wait_until(predicate, timeout=10.0, interval=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = predicate()
        if got:
            return got
        time.sleep(interval)
    return predicate()
