// The records keeper with matrix-js-sdk's Rust crypto: users chat in an encrypted room and an
// encrypted direct chat; the records office's export holds their plaintext, edits and the
// plaintext of a redacted message; nobody can kick, ban or demote the keeper; and a message
// sent before the keeper had its key is marked undecryptable until the key arrives.
//
// Run: cd tests/integration/js && node --test --test-concurrency=1 keeper.test.mjs

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import {
  DESPATCH_BIN, acceptInvite, createEncryptedRoom, http, rawEvent, register, sendText,
  startCryptoClient, startServer, stopClient, uniqueName, waitForDecryptedEvent, waitForRoomReady,
  waitUntil,
} from "./e2ee_helpers.mjs";
import { OnlySignedDevicesIsolationMode } from "matrix-js-sdk/lib/crypto-api/index.js";

const TEST_TIMEOUT_MS = 120000;
const ADMIN = "/_despatch/admin/v1";

let server;
let keeper;
let adminToken;
const clients = [];
const scratch = [];

async function newClient(creds) {
  const c = await startCryptoClient(server.baseUrl, creds);
  clients.push(c);
  return c;
}

function cli(args, input) {
  const r = spawnSync(DESPATCH_BIN, args, { input, encoding: "utf8", timeout: 30000 });
  if (r.status !== 0) throw new Error(`despatch ${args.join(" ")}: ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The records office's export of everything archived so far, as parsed JSON Lines. */
function exportRecords() {
  const dir = mkdtempSync(join(tmpdir(), "despatch-keeper-export-"));
  scratch.push(dir);
  const out = join(dir, "bundle");
  cli(["records", "export", "--data", server.dataDir, "--key", server.recordsKeyFile,
    "--out", out, "--case", "KEEPER-TEST"]);
  cli(["records", "verify-export", out, "--data", server.dataDir]);
  return readFileSync(join(out, "data", "records.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

/** The plaintext record of an event, or undefined. */
function plaintextOf(records, eventId) {
  return records.find((r) => r.kind === "plaintext" && r.event_id === eventId);
}

async function admin(method, path, body) {
  return http(server.baseUrl, method, ADMIN + path, { body, token: adminToken });
}

async function undecryptable() {
  const r = await admin("GET", "/records/undecryptable");
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

/** Two users with crypto clients in a new encrypted room (or direct chat), both joined. */
async function encryptedPair({ direct = false } = {}) {
  const a = await register(server.baseUrl, uniqueName("alice"));
  const b = await register(server.baseUrl, uniqueName("bob"));
  const ca = await newClient(a);
  const cb = await newClient(b);
  let roomId;
  if (direct) {
    ({ room_id: roomId } = await ca.createRoom({
      preset: "trusted_private_chat",
      is_direct: true,
      invite: [b.userId],
      initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
    }));
  } else {
    roomId = await createEncryptedRoom(ca, { invite: [b.userId] });
  }
  await acceptInvite(cb, roomId);
  await waitForRoomReady(ca, roomId, [a.userId, b.userId, keeper]);
  await waitForRoomReady(cb, roomId, [a.userId, b.userId, keeper]);
  return { a, b, ca, cb, roomId };
}

/** Waits until the archive holds the plaintext of every event; returns the export. */
async function exportWithPlaintext(eventIds) {
  return waitUntil(() => {
    const records = exportRecords();
    return eventIds.every((id) => plaintextOf(records, id)) ? records : undefined;
  }, `plaintext records of ${eventIds.join(", ")}`, { timeoutMs: 20000, intervalMs: 500 });
}

describe("the records keeper with matrix-js-sdk (Rust crypto)", { timeout: 900000 }, () => {
  before(async () => {
    server = await startServer();
    keeper = `@records:${server.serverName}`;
    const name = uniqueName("admin");
    cli(["user", "add", name, "--admin", "--password-file", "-", "--data", server.dataDir], "keeper admin password\n");
    const login = await http(server.baseUrl, "POST", "/_matrix/client/v3/login", {
      body: { type: "m.login.password", identifier: { type: "m.id.user", user: name }, password: "keeper admin password" },
    });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    adminToken = login.body.access_token;
  });

  after(async () => {
    for (const c of clients) stopClient(c);
    if (server) await server.stop();
    for (const d of scratch) rmSync(d, { recursive: true, force: true });
  });

  test("the keeper is a visible, cross-signed member with a records notice", { timeout: TEST_TIMEOUT_MS }, async () => {
    const { a, ca, roomId } = await encryptedPair();
    const member = ca.getRoom(roomId).getMember(keeper);
    assert.equal(member.membership, "join");
    assert.equal(member.name, "Records keeper");
    const notice = await http(server.baseUrl, "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.despatch.records/`, { token: a.accessToken });
    assert.equal(notice.status, 200, JSON.stringify(notice.body));
    assert.equal(notice.body.recorded, true);
    assert.equal(notice.body.keeper, keeper);

    // Its device is listed like anyone's, and signed by its self-signing key.
    const devices = await ca.getCrypto().getUserDeviceInfo([keeper], true);
    const device = devices.get(keeper)?.get("RECORDSKEEPER");
    assert.ok(device, "the keeper's device is not listed");
    const status = await ca.getCrypto().getDeviceVerificationStatus(keeper, "RECORDSKEEPER");
    assert.equal(status.signedByOwner, true, "the keeper's device is not cross-signed by its owner");
  });

  test("a client that shares keys only with cross-signed devices still shares with the keeper",
    { timeout: TEST_TIMEOUT_MS }, async () => {
      const { a, ca, cb, roomId } = await encryptedPair();
      // That mode needs cross-signing of one's own: Alice sets hers up.
      await ca.getCrypto().bootstrapCrossSigning({
        authUploadDeviceSigningKeys: (makeRequest) => makeRequest({
          type: "m.login.password",
          identifier: { type: "m.id.user", user: a.userId },
          password: a.password,
        }),
      });
      assert.equal(await ca.getCrypto().isCrossSigningReady(), true);
      ca.getCrypto().setDeviceIsolationMode(new OnlySignedDevicesIsolationMode());
      const text = "only to cross-signed devices " + uniqueName("");
      const id = await sendText(ca, roomId, text);
      const records = await exportWithPlaintext([id]);
      assert.equal(plaintextOf(records, id).event.content.body, text);
      // The mode was in force: Bob's device, which nobody cross-signed, got no key.
      const atBob = await waitForDecryptedEvent(cb, roomId, id, { allowFailure: true });
      assert.equal(atBob.isDecryptionFailure(), true, "bob's unsigned device decrypted it");
    });

  test("the export holds the plaintext of messages, edits and redacted messages", { timeout: TEST_TIMEOUT_MS }, async () => {
    const { a, b, ca, cb, roomId } = await encryptedPair();
    const hello = "hello from alice " + uniqueName("");
    const reply = "reply from bob " + uniqueName("");
    const secret = "soon redacted " + uniqueName("");
    const helloId = await sendText(ca, roomId, hello);
    const replyId = await sendText(cb, roomId, reply);
    const edited = "hello again from alice, edited " + uniqueName("");
    const { event_id: editId } = await ca.sendMessage(roomId, {
      msgtype: "m.text",
      body: "* " + edited,
      "m.new_content": { msgtype: "m.text", body: edited },
      "m.relates_to": { rel_type: "m.replace", event_id: helloId },
    });
    const secretId = await sendText(cb, roomId, secret);
    await waitForDecryptedEvent(ca, roomId, secretId);
    await cb.redactEvent(roomId, secretId);
    // What the server stores is ciphertext.
    const stored = await rawEvent(server.baseUrl, a.accessToken, roomId, helloId);
    assert.equal(stored.type, "m.room.encrypted");

    const records = await exportWithPlaintext([helloId, replyId, editId, secretId]);
    const p = (id) => plaintextOf(records, id);
    assert.equal(p(helloId).event.content.body, hello);
    assert.equal(p(helloId).sender, a.userId);
    assert.equal(p(helloId).type, "m.room.message");
    assert.equal(p(helloId).event.decryption.sender_verified, true);
    assert.equal(p(replyId).event.content.body, reply);
    assert.equal(p(replyId).sender, b.userId);
    assert.equal(p(editId).event.content["m.new_content"].body, edited);
    assert.equal(p(editId).event.content["m.relates_to"].rel_type, "m.replace");
    assert.equal(p(editId).event.content["m.relates_to"].event_id, helloId);
    assert.equal(p(secretId).event.content.body, secret, "the redacted message's plaintext is not archived");
    // The ciphertext is archived beside each plaintext, and the redaction too.
    const cipher = records.find((r) => r.kind === "event" && r.event_id === helloId);
    assert.equal(cipher.type, "m.room.encrypted");
    assert.ok(records.some((r) => r.type === "m.room.redaction" && r.event.content.redacts === secretId));
    // Room keys never appear in an export.
    assert.ok(!records.some((r) => r.kind === "room_key"));
    const pending = await undecryptable();
    assert.ok(!pending.events.some((e) => e.room_id === roomId), JSON.stringify(pending));
  });

  test("an encrypted direct chat is recorded too", { timeout: TEST_TIMEOUT_MS }, async () => {
    const { a, b, ca, cb, roomId } = await encryptedPair({ direct: true });
    const room = ca.getRoom(roomId);
    assert.equal(room.getMember(keeper)?.membership, "join");
    const m1 = "direct from alice " + uniqueName("");
    const m2 = "direct from bob " + uniqueName("");
    const id1 = await sendText(ca, roomId, m1);
    const id2 = await sendText(cb, roomId, m2);
    assert.equal((await waitForDecryptedEvent(cb, roomId, id1)).getContent().body, m1);
    assert.equal((await waitForDecryptedEvent(ca, roomId, id2)).getContent().body, m2);
    const records = await exportWithPlaintext([id1, id2]);
    assert.equal(plaintextOf(records, id1).event.content.body, m1);
    assert.equal(plaintextOf(records, id1).sender, a.userId);
    assert.equal(plaintextOf(records, id2).event.content.body, m2);
    assert.equal(plaintextOf(records, id2).sender, b.userId);
  });

  test("kicking, banning or demoting the keeper is refused and audited", { timeout: TEST_TIMEOUT_MS }, async () => {
    const { a, ca, roomId } = await encryptedPair();
    await assert.rejects(ca.kick(roomId, keeper, "no records please"),
      (e) => e.errcode === "M_FORBIDDEN" && /records keeper/.test(e.data?.error ?? e.message));
    await assert.rejects(ca.ban(roomId, keeper), (e) => e.errcode === "M_FORBIDDEN");
    const pl = structuredClone(ca.getRoom(roomId).currentState.getStateEvents("m.room.power_levels", "").getContent());
    assert.equal(pl.users[keeper], 100);
    pl.users[keeper] = 0;
    await assert.rejects(ca.sendStateEvent(roomId, "m.room.power_levels", pl, ""), (e) => e.errcode === "M_FORBIDDEN");
    await assert.rejects(ca.sendStateEvent(roomId, "m.despatch.records", { recorded: false }, ""),
      (e) => e.errcode === "M_FORBIDDEN");

    const members = await http(server.baseUrl, "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/joined_members`, { token: a.accessToken });
    assert.ok(members.body.joined[keeper], "the keeper left the room");
    const audit = await admin("GET", "/audit?limit=50");
    assert.equal(audit.status, 200, JSON.stringify(audit.body));
    const mine = audit.body.entries.filter((e) => e.action === "suspicious.keeper_removal" && e.actor === a.userId);
    const attempts = mine.map((e) => (typeof e.details === "string" ? JSON.parse(e.details) : e.details).attempt);
    for (const what of ["kick", "ban", "power_levels", "records_notice"])
      assert.ok(attempts.includes(what), `no audit entry for the ${what} attempt: ${JSON.stringify(mine)}`);
  });

  test("a message sent before the keeper had its key is marked, then decrypted once the key arrives",
    { timeout: TEST_TIMEOUT_MS }, async () => {
      const { a, ca, cb, roomId } = await encryptedPair();
      // Alice's client shares room keys only with devices she verified: not the keeper's.
      ca.getCrypto().globalBlacklistUnverifiedDevices = true;
      const early = "before the keeper had the key " + uniqueName("");
      const earlyId = await sendText(ca, roomId, early);
      const marked = await waitUntil(async () => {
        const u = await undecryptable();
        return u.events.find((e) => e.event_id === earlyId);
      }, "the early message to be listed as undecryptable");
      assert.equal(marked.room_id, roomId);
      assert.equal(marked.sender, a.userId);
      assert.ok(marked.reason, "no reason given");
      const metrics = await admin("GET", "/metrics");
      assert.ok(metrics.body.records_undecryptable >= 1, JSON.stringify(metrics.body));
      let records = exportRecords();
      assert.equal(plaintextOf(records, earlyId), undefined);
      const flag = records.find((r) => r.kind === "undecryptable" && r.event_id === earlyId);
      assert.ok(flag, "no undecryptable record in the archive");
      assert.ok(records.some((r) => r.kind === "event" && r.event_id === earlyId && r.type === "m.room.encrypted"),
        "the ciphertext is not archived");

      // Later messages reach the keeper once Alice shares with every device again.
      ca.getCrypto().globalBlacklistUnverifiedDevices = false;
      const later = "after sharing with everyone " + uniqueName("");
      const laterId = await sendText(ca, roomId, later);
      await waitForDecryptedEvent(cb, roomId, laterId);
      records = await exportWithPlaintext([laterId]);
      assert.equal(plaintextOf(records, laterId).event.content.body, later);

      // Alice re-shares the early session with the keeper (a forwarded room key over Olm).
      const sessionId = (await rawEvent(server.baseUrl, a.accessToken, roomId, earlyId)).content.session_id;
      const exported = (await ca.getCrypto().exportRoomKeys()).find((k) => k.session_id === sessionId);
      assert.ok(exported, "alice has no key for her own session");
      const batch = await ca.getCrypto().encryptToDeviceMessages("m.forwarded_room_key",
        [{ userId: keeper, deviceId: "RECORDSKEEPER" }], {
          algorithm: exported.algorithm,
          room_id: exported.room_id,
          sender_key: exported.sender_key,
          session_id: exported.session_id,
          session_key: exported.session_key,
          sender_claimed_ed25519_key: exported.sender_claimed_keys.ed25519,
          forwarding_curve25519_key_chain: exported.forwarding_curve25519_key_chain ?? [],
        });
      assert.equal(batch.batch.length, 1, "no Olm message for the keeper");
      await ca.queueToDevice(batch);

      records = await exportWithPlaintext([earlyId]);
      assert.equal(plaintextOf(records, earlyId).event.content.body, early);
      assert.equal(plaintextOf(records, earlyId).event.decryption.key_source, "m.forwarded_room_key");
      const u = await undecryptable();
      assert.equal(u.events.find((e) => e.event_id === earlyId), undefined, "still listed as undecryptable");
    });
});
