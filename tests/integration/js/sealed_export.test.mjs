// A sealed export opened the way the console opens it in the browser: libsodium-wrappers and
// WebCrypto only, following docs/design-notes.md ("Sealed exports and export formats") step by
// step, with no Despatch code on the opening side. Shows the format is complete as documented.
//
// Run: cd tests/integration/js && node --test --test-concurrency=1 sealed_export.test.mjs

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import sodium from "libsodium-wrappers";

import { DESPATCH_BIN, http, register, startServer, uniqueName } from "./e2ee_helpers.mjs";

const ADMIN = "/_despatch/admin/v1";
const B64 = () => sodium.base64_variants.ORIGINAL_NO_PADDING;

let server;
let adminToken;

async function sha256Hex(bytes) {
  const digest = await globalThis.crypto.subtle.digest("SHA-256", bytes);
  return Buffer.from(digest).toString("hex");
}

// Canonical JSON of a flat object: keys sorted, no spaces.
function canonical(obj) {
  return "{" + Object.keys(obj).sort().map((k) => JSON.stringify(k) + ":" + JSON.stringify(obj[k])).join(",") + "}";
}

/** Opens a sealed export as the documentation describes; returns the opened records. */
async function openSealed(text, serverKeyB64, secretKeyB64) {
  const doc = JSON.parse(text);
  assert.equal(doc.format, "despatch-sealed-export-1");
  // 1. The server's signature over the manifest string.
  const enc = new TextEncoder();
  assert.ok(sodium.crypto_sign_verify_detached(sodium.from_base64(doc.signature, B64()), enc.encode(doc.manifest),
    sodium.from_base64(serverKeyB64, B64())), "the signature does not verify");
  const manifest = JSON.parse(doc.manifest);
  // 2. The records' digest and each media file's.
  assert.equal(await sha256Hex(enc.encode(doc.records)), manifest.records_sha256);
  for (const m of manifest.media) {
    const sent = doc.media.find((x) => x.mxc === m.mxc);
    assert.ok(sent, `media ${m.mxc} not sent`);
    assert.equal(await sha256Hex(sodium.from_base64(sent.data, B64())), m.sha256);
  }
  // 3. and 4. Each record's hashes, then its data key and its content.
  const sk = sodium.from_base64(secretKeyB64, B64());
  const pk = sodium.crypto_scalarmult_base(sk);
  const keys = new Map();
  const out = [];
  const lines = doc.records.split("\n").filter(Boolean);
  assert.equal(lines.length, manifest.records);
  for (const line of lines) {
    const row = JSON.parse(line);
    const { content_hash: contentHash, prev_hash: prevHash, hash, ...columns } = row;
    if (columns.format >= 2) {
      // Format 2 hashes the sealed box's own hash and the kind it was written with.
      assert.equal(await sha256Hex(enc.encode(columns.sealed)), columns.sealed_hash, `record ${row.seq}'s box`);
      columns.kind = columns.live_kind;
      columns.sealed_sha256 = columns.sealed_hash;
      delete columns.sealed;
      delete columns.live_kind;
      delete columns.sealed_hash;
    }
    assert.equal(await sha256Hex(enc.encode(canonical(columns))), contentHash, `record ${row.seq}'s content hash`);
    assert.equal(await sha256Hex(enc.encode(prevHash + contentHash)), hash, `record ${row.seq}'s chain hash`);
    if (!keys.has(row.key_id)) {
      keys.set(row.key_id, sodium.crypto_box_seal_open(sodium.from_base64(manifest.data_keys[row.key_id], B64()), pk, sk));
    }
    const blob = sodium.from_base64(row.sealed, B64());
    const plain = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, blob.slice(24), String(row.seq),
      blob.slice(0, 24), keys.get(row.key_id));
    out.push({ ...row, event: JSON.parse(sodium.to_string(plain)) });
  }
  return { manifest, records: out };
}

describe("sealed exports opened with libsodium, as in a browser", () => {
  before(async () => {
    await sodium.ready;
    server = await startServer();
    const name = uniqueName("admin");
    const r = spawnSync(DESPATCH_BIN, ["user", "add", name, "--admin", "--password-file", "-", "--data", server.dataDir],
      { input: "sealed admin password\n", encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const login = await http(server.baseUrl, "POST", "/_matrix/client/v3/login", {
      body: { type: "m.login.password", identifier: { type: "m.id.user", user: name }, password: "sealed admin password" },
    });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    adminToken = login.body.access_token;
  });

  after(async () => {
    await server?.stop();
  });

  test("the documented steps open every record, and a changed record fails them", async () => {
    const alice = await register(server.baseUrl, uniqueName("alice"));
    const room = await http(server.baseUrl, "POST", "/_matrix/client/v3/createRoom",
      { body: { preset: "private_chat" }, token: alice.accessToken });
    assert.equal(room.status, 200);
    const roomId = room.body.room_id;
    const sent = new Map();
    for (const body of ["first minute", "gr\u00fc\u00dfe \u2603", "line one\nline two"]) {
      const r = await http(server.baseUrl, "PUT",
        `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${uniqueName("t")}`,
        { body: { msgtype: "m.text", body }, token: alice.accessToken });
      assert.equal(r.status, 200);
      sent.set(r.body.event_id, body);
    }

    // The server's ed25519 public key, known out of band (here: from its seed in the data folder;
    // a department publishes it at /_matrix/key/v2/server on the federation listener).
    const [, , seed] = readFileSync(join(server.dataDir, "signing.key"), "utf8").trim().split(/\s+/);
    const serverKey = sodium.to_base64(sodium.crypto_sign_seed_keypair(sodium.from_base64(seed, B64())).publicKey, B64());
    const resp = await fetch(server.baseUrl + ADMIN + "/records/sealed_export", {
      method: "POST",
      headers: { Authorization: `Bearer ${adminToken}`, "Content-Type": "application/json" },
      body: JSON.stringify({ case_ref: "BROWSER-1", filter: { room: roomId } }),
    });
    assert.equal(resp.status, 200);
    const text = await resp.text();
    for (const body of sent.values()) assert.ok(!text.includes(JSON.stringify(body).slice(1, -1)), "a body in clear");

    const secret = readFileSync(server.recordsKeyFile, "utf8").trim();
    const { manifest, records } = await openSealed(text, serverKey, secret);
    assert.equal(manifest.case_ref, "BROWSER-1");
    assert.ok(records.length > sent.size, "the room's other records (creation, membership) are in");
    for (const [eventId, body] of sent) {
      const rec = records.find((r) => r.event_id === eventId);
      assert.ok(rec, `no record of ${eventId}`);
      assert.equal(rec.event.content.body, body);
      assert.equal(rec.room_id, roomId);
    }

    // The same steps refuse a record whose clear column was changed.
    const doc = JSON.parse(text);
    doc.records = doc.records.replace(alice.userId, "@mallory:localhost");
    await assert.rejects(openSealed(JSON.stringify(doc), serverKey, secret), /records_sha256|Expected values/);
  });
});
