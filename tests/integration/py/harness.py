"""Test harness for Despatch integration tests.

ServerFixture starts a real `despatch serve` on a free port with a fresh data folder,
waits for its ready line, can restart it on the same data folder and tears it down.
http_request() is a small http.client helper returning (status, parsed JSON).

Only the Python standard library is used here.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DESPATCH_BIN = os.environ.get("DESPATCH_BIN", os.path.join(REPO, "build", "despatch"))
READY_MARKER = "despatch ready"
DEFAULT_READY_TIMEOUT = 20.0


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(*args, timeout=30, input_text=None):
    """Runs the despatch binary with args; returns the CompletedProcess (text mode)."""
    return subprocess.run([DESPATCH_BIN, *args], capture_output=True, text=True,
                          timeout=timeout, input=input_text)


class ServerError(RuntimeError):
    pass


class ServerFixture:
    """One despatch server process.

    open_registration / rate_limit map to the matching command-line flags; config_toml,
    when given, is written to a file in the temp folder and passed with --config.
    records_key: make the records office key pair with `records keygen` first, its secret
    half outside the data folder (records_key_file), as a department would.
    """

    def __init__(self, open_registration=True, rate_limit=False, config_toml=None,
                 extra_args=None, server_name="localhost", ready_timeout=DEFAULT_READY_TIMEOUT,
                 records_key=True):
        self.open_registration = open_registration
        self.rate_limit = rate_limit
        self.config_toml = config_toml
        self.extra_args = list(extra_args or [])
        self.server_name = server_name
        self.ready_timeout = ready_timeout
        self.tmp = tempfile.mkdtemp(prefix="despatch-it-")
        self.data_dir = os.path.join(self.tmp, "data")
        os.makedirs(self.data_dir)
        self.records_key_file = None
        if records_key:
            office = os.path.join(self.tmp, "records-office")
            res = run_cli("records", "keygen", "--out", office, "--data", self.data_dir)
            if res.returncode != 0:
                raise ServerError("records keygen failed: %s %s" % (res.stdout, res.stderr))
            self.records_key_file = os.path.join(office, "records_office.key")
        self.config_path = None
        if config_toml is not None:
            self.config_path = os.path.join(self.tmp, "config.toml")
            with open(self.config_path, "w") as f:
                f.write(config_toml)
        self.port = None
        self.proc = None
        self._stderr_lines = []
        self._stderr_lock = threading.Lock()
        self._ready = threading.Event()
        self._reader = None
        self.last_exit_code = None

    # ---- lifecycle -------------------------------------------------------------------

    @property
    def host(self):
        return "127.0.0.1"

    @property
    def base_url(self):
        return "http://%s:%d" % (self.host, self.port)

    def command(self):
        cmd = [DESPATCH_BIN, "serve", "--data", self.data_dir,
               "--listen", "%s:%d" % (self.host, self.port),
               "--server-name", self.server_name]
        if self.config_path:
            cmd += ["--config", self.config_path]
        if self.open_registration:
            cmd.append("--open-registration")
        if not self.rate_limit:
            cmd.append("--no-rate-limit")
        return cmd + self.extra_args

    def start(self):
        if self.proc is not None and self.proc.poll() is None:
            raise ServerError("server already running")
        if self.port is None:
            self.port = free_port()
        with self._stderr_lock:
            self._stderr_lines = []
        self._ready.clear()
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read_stderr, args=(self.proc,), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self._ready.wait(0.05):
                return self
            if self.proc.poll() is not None:
                self._reader.join(2)
                raise ServerError("despatch exited with code %s before it was ready; stderr:\n%s"
                                  % (self.proc.returncode, self.stderr_text()))
        self._kill_quietly()
        raise ServerError("despatch was not ready within %.0fs; stderr:\n%s"
                          % (self.ready_timeout, self.stderr_text()))

    def _read_stderr(self, proc):
        for raw in iter(proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace")
            with self._stderr_lock:
                self._stderr_lines.append(line)
                if len(self._stderr_lines) > 5000:
                    del self._stderr_lines[:1000]
            if READY_MARKER in line:
                self._ready.set()
        proc.stderr.close()

    def stderr_text(self):
        with self._stderr_lock:
            return "".join(self._stderr_lines)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Sends sig and waits; returns the exit code. Kills if it does not stop in time."""
        if self.proc is None:
            return self.last_exit_code
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill_quietly()
                raise ServerError("despatch did not stop within %.0fs after signal %d; stderr:\n%s"
                                  % (timeout, sig, self.stderr_text()))
        if self._reader:
            self._reader.join(2)
        self.last_exit_code = self.proc.returncode
        self.proc = None
        return self.last_exit_code

    def restart(self, kill=False):
        """Stops (SIGTERM, or SIGKILL when kill=True) and starts again on the same data and port."""
        self.stop(signal.SIGKILL if kill else signal.SIGTERM)
        self.start()
        return self

    def _kill_quietly(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass

    def teardown(self):
        try:
            if self.alive():
                try:
                    self.stop()
                except ServerError:
                    pass
        finally:
            self._kill_quietly()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.teardown()
        return False

    # ---- helpers ---------------------------------------------------------------------

    def http(self, method, path, body=None, token=None, **kw):
        return http_request(self.host, self.port, method, path, body=body, token=token, **kw)

    def user_add(self, name, password=None, admin=False, extra=None):
        args = ["user", "add", name, "--data", self.data_dir, "--server-name", self.server_name]
        if password is not None:
            args += ["--password", password]
        if admin:
            args.append("--admin")
        return run_cli(*(args + list(extra or [])))

    def register(self, username=None, password="correct horse battery"):
        """Registers through open registration; returns (user_id, access_token, device_id)."""
        username = username or ("u" + uuid.uuid4().hex[:10])
        st, body = self.http("POST", "/_matrix/client/v3/register",
                             {"username": username, "password": password,
                              "auth": {"type": "m.login.dummy"}})
        if st != 200:
            raise ServerError("register %s failed: %s %r" % (username, st, body))
        return body["user_id"], body["access_token"], body.get("device_id")

    def login(self, username, password):
        st, body = self.http("POST", "/_matrix/client/v3/login",
                             {"type": "m.login.password",
                              "identifier": {"type": "m.id.user", "user": username},
                              "password": password})
        return st, body

    def versions_ok(self):
        """True when GET /_matrix/client/versions answers 200 with a versions list."""
        try:
            st, body = self.http("GET", "/_matrix/client/versions", timeout=10)
        except OSError:
            return False
        return st == 200 and isinstance(body, dict) and isinstance(body.get("versions"), list)


class SharedServer:
    """Mixin for a TestCase: one server (open registration, no rate limit) for all of the
    class's tests, as cls.server."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = ServerFixture(open_registration=True, rate_limit=False)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.teardown()
        super().tearDownClass()


class ApiUser:
    """A user registered on a server, making Client-Server API calls over raw HTTP."""

    V3 = "/_matrix/client/v3"

    def __init__(self, server, prefix, password, display_name=None):
        self.server = server
        self.password = password
        self.localpart = "%s%s" % (prefix, uuid.uuid4().hex[:8])
        self.user_id, self.token, self.device_id = server.register(self.localpart, password)
        if display_name:
            self.ok("PUT", "/profile/%s/displayname" % q(self.user_id), {"displayname": display_name})

    def http(self, method, path, body=None, token=None):
        return self.server.http(method, self.V3 + path, body=body, token=token or self.token)

    def ok(self, method, path, body=None):
        st, resp = self.http(method, path, body)
        assert st == 200, "%s %s: %s %r" % (method, path, st, resp)
        return resp

    def sync(self, filter_=None, since=None, timeout=0):
        params = ["timeout=%d" % timeout]
        if filter_ is not None:
            params.append("filter=" + q(json.dumps(filter_)))
        if since:
            params.append("since=" + q(since))
        return self.ok("GET", "/sync?" + "&".join(params))

    def send(self, room, body, txn=None, extra=None):
        content = {"msgtype": "m.text", "body": body}
        content.update(extra or {})
        return self.ok("PUT", "/rooms/%s/send/m.room.message/%s" % (q(room), txn or uuid.uuid4().hex),
                       content)["event_id"]

    def state(self, room, type_, content, key=""):
        return self.ok("PUT", "/rooms/%s/state/%s/%s" % (q(room), type_, q(key)), content)

    def uia_password(self, session):
        return {"type": "m.login.password", "session": session,
                "identifier": {"type": "m.id.user", "user": self.user_id}, "password": self.password}


def q(s):
    """Percent-encodes one path segment (room IDs, user IDs, event IDs, aliases)."""
    return urllib.parse.quote(s, safe="")


def http_request(host, port, method, path, body=None, token=None, headers=None,
                 content_length=None, timeout=30.0, raw_response=False):
    """Sends one request on a fresh connection; returns (status, parsed JSON or None).

    body: dict/list/number/etc. is JSON-encoded; str is sent as UTF-8 as-is; bytes as-is.
    content_length: when given, sent as the Content-Length header whatever the body is
    (it may lie). headers: extra headers. With raw_response=True the third element of the
    tuple is the response's raw bytes and the fourth its headers.
    """
    if body is None:
        data = None
    elif isinstance(body, bytes):
        data = body
    elif isinstance(body, str):
        data = body.encode("utf-8")
    else:
        data = json.dumps(body).encode("utf-8")
    hdrs = {}
    if data is not None:
        hdrs["Content-Type"] = "application/json"
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    hdrs.update(headers or {})
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        if content_length is not None:
            hdrs["Content-Length"] = str(content_length)
        elif data is not None or method in ("POST", "PUT"):
            hdrs.setdefault("Content-Length", str(len(data or b"")))
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders()
        if data:
            try:
                conn.send(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may answer (e.g. 413) and close before reading it all
        resp = conn.getresponse()
        raw = resp.read()
        parsed = None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
        if raw_response:
            return resp.status, parsed, raw, dict(resp.getheaders())
        return resp.status, parsed
    finally:
        conn.close()


def raw_exchange(host, port, payload, read_timeout=5.0, half_close=False):
    """Writes payload bytes on a raw socket and returns whatever comes back (maybe b"")."""
    with socket.create_connection((host, port), timeout=read_timeout) as s:
        try:
            s.sendall(payload)
            if half_close:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            return b""
        chunks = []
        try:
            while True:
                c = s.recv(65536)
                if not c:
                    break
                chunks.append(c)
        except (socket.timeout, OSError):
            pass
        return b"".join(chunks)


def status_of(raw):
    """The status code from a raw HTTP response, or None."""
    if not raw.startswith(b"HTTP/1."):
        return None
    try:
        return int(raw.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def json_of(raw):
    """The JSON body from a raw, non-chunked HTTP response, or None."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep:
        return None
    try:
        return json.loads(rest)
    except ValueError:
        return None
