"""What someone with root on the server could do to its records database, for the tamper
tests: recompute the audit log's chain after an edit, and re-sign every checkpoint with the
server's own signing key (read from its data folder). Standard library plus PyNaCl
(python3-nacl, installed by scripts/deps.sh)."""

import base64
import hashlib
import json

from records_helpers import db_connect, rewrite_archive_row

GENESIS = "0" * 64


def chain(prev, content):
    return hashlib.sha256((prev + content).encode()).hexdigest()


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def audit_content(row):
    obj = {k: row[k] for k in ("seq", "ts", "actor", "action", "case_ref", "details")}
    return chain("", canonical(obj))


def rechain_audit(conn, from_seq=1):
    """Recomputes prev_hash and hash of every audit entry from from_seq on."""
    prev = GENESIS
    if from_seq > 1:
        prev = conn.execute("SELECT hash FROM audit_log WHERE seq=?", (from_seq - 1,)).fetchone()[0]
    for row in conn.execute("SELECT * FROM audit_log WHERE seq>=? ORDER BY seq", (from_seq,)).fetchall():
        row = dict(row)
        h = chain(prev, audit_content(row))
        conn.execute("UPDATE audit_log SET prev_hash=?, hash=? WHERE seq=?", (prev, h, row["seq"]))
        prev = h


def append_audit(conn, actor, action, case_ref, details, ts):
    """Appends an entry with a valid chain hash, as the server would."""
    last = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    row = {"seq": seq, "ts": ts, "actor": actor, "action": action, "case_ref": case_ref,
           "details": canonical(details)}
    h = chain(prev, audit_content(row))
    conn.execute("INSERT INTO audit_log(seq, ts, actor, action, case_ref, details, prev_hash, hash) "
                 "VALUES(?,?,?,?,?,?,?,?)",
                 (seq, ts, actor, action, case_ref, row["details"], prev, h))
    return seq


def rechain_archive(conn, from_seq):
    prev = conn.execute("SELECT hash FROM archive WHERE seq=?", (from_seq - 1,)).fetchone()
    prev = prev[0] if prev else GENESIS
    for later in conn.execute("SELECT * FROM archive WHERE seq>=? ORDER BY seq", (from_seq,)).fetchall():
        prev = rewrite_archive_row(conn, dict(later), prev)


def rechain_keys(conn):
    prev = GENESIS
    for kid, sealed in conn.execute("SELECT id, sealed_key FROM archive_keys ORDER BY id").fetchall():
        prev = chain(prev, hashlib.sha256(("%d:%s" % (kid, sealed)).encode()).hexdigest())
        conn.execute("UPDATE archive_keys SET hash=? WHERE id=?", (prev, kid))


def checkpoint_message(cp):
    return ("despatch-records-checkpoint:2:%d:%s:%d:%s:%d:%s:%d" % (
        cp["archive_seq"], cp["archive_hash"], cp["audit_seq"], cp["audit_hash"], cp["keys_seq"],
        cp["keys_hash"], cp["ts"])).encode()


def resign_everything(data_dir):
    """Points every checkpoint at the chains as they now stand and signs it again with the
    server's own key: the attack only a witness outside the server can catch."""
    import nacl.signing
    with open(data_dir + "/signing.key") as f:
        alg, version, seed = f.read().split()
    seed = base64.b64decode(seed + "=" * (-len(seed) % 4))
    key = nacl.signing.SigningKey(seed)
    with db_connect(data_dir) as conn:
        for cp in conn.execute("SELECT * FROM records_checkpoints WHERE version=2").fetchall():
            cp = dict(cp)
            if cp["archive_seq"]:
                cp["archive_hash"] = conn.execute("SELECT hash FROM archive WHERE seq=?",
                                                  (cp["archive_seq"],)).fetchone()[0]
            if cp["audit_seq"]:
                cp["audit_hash"] = conn.execute("SELECT hash FROM audit_log WHERE seq=?",
                                                (cp["audit_seq"],)).fetchone()[0]
            if cp["keys_seq"]:
                cp["keys_hash"] = conn.execute("SELECT hash FROM archive_keys WHERE id=?",
                                               (cp["keys_seq"],)).fetchone()[0]
            sig = key.sign(checkpoint_message(cp)).signature
            conn.execute("UPDATE records_checkpoints SET archive_hash=?, audit_hash=?, keys_hash=?, signature=? "
                         "WHERE id=?",
                         (cp["archive_hash"], cp["audit_hash"], cp["keys_hash"],
                          base64.b64encode(sig).decode().rstrip("="), cp["id"]))
        conn.commit()
