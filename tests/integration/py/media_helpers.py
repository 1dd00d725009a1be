"""Helpers for the media tests: test files made on the spot (PNG, JPEG, Ogg/Opus, EICAR),
image size readers, and a real ClamAV daemon started with a signature database written here.

Images come from the vips command-line tool (libvips-tools), the voice note from opusenc
(opus-tools); both are installed by scripts/deps.sh.
"""

import math
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import zlib


def make_png(width, height, seed=0):
    """A truecolour PNG with a gradient, built with zlib only."""
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            row += bytes(((x * 7 + seed) & 255, (y * 3 + seed) & 255, ((x ^ y) + seed) & 255))
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 6))
            + chunk(b"IEND", b""))


def vips_image(width, height, suffix, noise=True):
    """An image of the given size in the format of suffix (".jpg", ".png", ...) via vips."""
    d = tempfile.mkdtemp(prefix="despatch-img-")
    try:
        src = os.path.join(d, "src.v")
        out = os.path.join(d, "out" + suffix)
        if noise:
            subprocess.run(["vips", "gaussnoise", src, str(width), str(height)], check=True)
        else:
            subprocess.run(["vips", "black", src, str(width), str(height), "--bands", "3"], check=True)
        subprocess.run(["vips", "copy", src, out], check=True)
        with open(out, "rb") as f:
            return f.read()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def make_jpeg(width, height):
    return vips_image(width, height, ".jpg")


def make_voice_note(seconds=1.0):
    """A short Ogg/Opus voice note: a 440 Hz tone encoded by opusenc."""
    d = tempfile.mkdtemp(prefix="despatch-ogg-")
    try:
        rate = 48000
        n = int(rate * seconds)
        pcm = b"".join(struct.pack("<h", int(6000 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(n))
        wav = (b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVEfmt "
               + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16) + b"data"
               + struct.pack("<I", len(pcm)) + pcm)
        src, out = os.path.join(d, "in.wav"), os.path.join(d, "voice.ogg")
        with open(src, "wb") as f:
            f.write(wav)
        subprocess.run(["opusenc", "--quiet", src, out], check=True)
        with open(out, "rb") as f:
            return f.read()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def eicar():
    """The EICAR anti-virus test file (harmless by design), assembled so that this source
    file itself does not match signatures."""
    return ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-" + "ANTIVIRUS-TEST-FILE!$H+H*").encode()


def image_size(data):
    """(width, height) of a PNG or JPEG."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return struct.unpack(">II", data[16:24])
    if data[:2] == b"\xff\xd8":
        i = 2
        while i < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            length = struct.unpack(">H", data[i + 2:i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                h, w = struct.unpack(">HH", data[i + 5:i + 9])
                return w, h
            i += 2 + length
    raise ValueError("not a PNG or JPEG")


class Clamd:
    """A real clamd on a Unix socket in a temporary folder, with one signature: the EICAR
    test string (an .ndb body signature). No internet and no system service needed."""

    SIGNATURE = "Despatch-Test-EICAR"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="despatch-clamd-")
        self.socket = os.path.join(self.dir, "clamd.sock")
        self.proc = None

    def start(self, timeout=60):
        db = os.path.join(self.dir, "db")
        os.makedirs(db)
        with open(os.path.join(db, "despatch-test.ndb"), "w") as f:
            f.write("%s:0:*:%s\n" % (self.SIGNATURE, eicar().hex()))
        conf = os.path.join(self.dir, "clamd.conf")
        with open(conf, "w") as f:
            f.write("LocalSocket %s\nDatabaseDirectory %s\nForeground yes\nLogFile %s\n"
                    "StreamMaxLength 200M\nLogVerbose no\n"
                    % (self.socket, db, os.path.join(self.dir, "clamd.log")))
        self.proc = subprocess.Popen(["clamd", "-c", conf], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("clamd exited with %s: %s" % (self.proc.returncode, self.log()))
            if os.path.exists(self.socket) and self.ping():
                return self
            time.sleep(0.1)
        raise RuntimeError("clamd did not start: " + self.log())

    def ping(self):
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(2)
                s.connect(self.socket)
                s.sendall(b"zPING\0")
                return s.recv(100).startswith(b"PONG")
        except OSError:
            return False

    def log(self):
        try:
            with open(os.path.join(self.dir, "clamd.log")) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


def opaque_blob(size):
    """size random bytes that libmagic always calls application/octet-stream, like an encrypted
    attachment. Plain random bytes are not: about 1 in 50 start like an executable, an ARC
    archive or a zlib stream, which the allow-list rightly refuses."""
    head = b"DESPATCH-OPAQUE\n"
    return head + os.urandom(max(0, size - len(head)))
