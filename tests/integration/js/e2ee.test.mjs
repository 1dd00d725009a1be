// End-to-end encryption through Despatch with matrix-js-sdk's Rust crypto (in-memory store).
//
// Run: cd tests/integration/js && node --test --test-concurrency=1 e2ee.test.mjs
// (E2EE_DEBUG=1 shows the SDK's and the Rust crypto's logs.)
//
// One server for the file; every test registers its own users and makes its own room.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  acceptInvite, createEncryptedRoom, findTimelineEvent, http, login, rawEvent, register, sdk,
  sendText, startCryptoClient, startServer, stopClient, uniqueName, waitForDecryptedEvent,
  waitForRoomReady, waitUntil,
} from "./e2ee_helpers.mjs";
import { decodeRecoveryKey, encodeRecoveryKey } from "matrix-js-sdk/lib/crypto-api/recovery-key.js";

const MEGOLM = "m.megolm.v1.aes-sha2";
const TEST_TIMEOUT_MS = 120000;

let server;
const clients = [];

async function newClient(creds) {
  const c = await startCryptoClient(server.baseUrl, creds);
  clients.push(c);
  return c;
}

/** Asserts the event reached this client encrypted and decrypted to the expected text. */
function assertDecryptedText(ev, body, sender) {
  assert.equal(ev.isDecryptionFailure(), false,
    `decryption failed: ${ev.decryptionFailureReason}`);
  assert.equal(ev.getWireType(), "m.room.encrypted", "the event was not encrypted on the wire");
  assert.equal(ev.getWireContent().algorithm, MEGOLM);
  assert.equal(ev.getWireContent().body, undefined, "plaintext body in the wire content");
  assert.equal(ev.getType(), "m.room.message");
  assert.equal(ev.getContent().msgtype, "m.text");
  assert.equal(ev.getContent().body, body);
  assert.equal(ev.getSender(), sender);
}

/** Asserts the server stores the event as m.room.encrypted with no plaintext in it. */
async function assertStoredEncrypted(token, roomId, eventId, plaintext) {
  const raw = await rawEvent(server.baseUrl, token, roomId, eventId);
  assert.equal(raw.type, "m.room.encrypted");
  assert.equal(raw.content.algorithm, MEGOLM);
  assert.equal(typeof raw.content.ciphertext, "string");
  assert.equal(typeof raw.content.session_id, "string");
  assert.ok(!JSON.stringify(raw).includes(plaintext), "the server holds the plaintext");
  return raw;
}

/** Two registered users with started crypto clients in a new encrypted room, both joined. */
async function encryptedPair(prefixA = "alice", prefixB = "bob") {
  const a = await register(server.baseUrl, uniqueName(prefixA));
  const b = await register(server.baseUrl, uniqueName(prefixB));
  const ca = await newClient(a);
  const cb = await newClient(b);
  const roomId = await createEncryptedRoom(ca, { invite: [b.userId] });
  await acceptInvite(cb, roomId);
  await waitForRoomReady(ca, roomId, [a.userId, b.userId]);
  await waitForRoomReady(cb, roomId, [a.userId, b.userId]);
  return { a, b, ca, cb, roomId };
}

describe("end-to-end encryption with matrix-js-sdk (Rust crypto)", { timeout: 600000 }, () => {
  before(async () => {
    server = await startServer();
  });

  after(async () => {
    for (const c of clients) stopClient(c);
    if (server) await server.stop();
  });

  test("two users in an encrypted room decrypt each other's messages", { timeout: TEST_TIMEOUT_MS }, async () => {
    const { a, b, ca, cb, roomId } = await encryptedPair();

    // The room's encryption state is what the server stored.
    const st = await http(server.baseUrl, "GET",
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.encryption/`, { token: b.accessToken });
    assert.equal(st.status, 200, JSON.stringify(st.body));
    assert.equal(st.body.algorithm, MEGOLM);

    const fromAlice = "secret from alice " + uniqueName("");
    const e1 = await sendText(ca, roomId, fromAlice);
    const ev1 = await waitForDecryptedEvent(cb, roomId, e1, { allowFailure: true });
    assertDecryptedText(ev1, fromAlice, a.userId);
    await assertStoredEncrypted(b.accessToken, roomId, e1, fromAlice);

    const fromBob = "secret from bob " + uniqueName("");
    const e2 = await sendText(cb, roomId, fromBob);
    const ev2 = await waitForDecryptedEvent(ca, roomId, e2, { allowFailure: true });
    assertDecryptedText(ev2, fromBob, b.userId);
    await assertStoredEncrypted(a.accessToken, roomId, e2, fromBob);

    // A second round on the established sessions.
    const again = "second from alice";
    const e3 = await sendText(ca, roomId, again);
    assertDecryptedText(await waitForDecryptedEvent(cb, roomId, e3, { allowFailure: true }), again, a.userId);

    // Each side's crypto knows the other's device through /keys/query.
    const bobDevices = await ca.getCrypto().getUserDeviceInfo([b.userId]);
    assert.ok(bobDevices.get(b.userId)?.has(b.deviceId), "alice does not know bob's device");
    const aliceDevices = await cb.getCrypto().getUserDeviceInfo([a.userId]);
    assert.ok(aliceDevices.get(a.userId)?.has(a.deviceId), "bob does not know alice's device");
  });

  test("a user who joins later decrypts new messages but not ones sent before", { timeout: TEST_TIMEOUT_MS }, async () => {
    const { a, b, ca, cb, roomId } = await encryptedPair();
    const before1 = "before carol joined " + uniqueName("");
    const oldId = await sendText(ca, roomId, before1);
    // Bob decrypts it, so the session was working and shared before Carol arrived.
    assertDecryptedText(await waitForDecryptedEvent(cb, roomId, oldId, { allowFailure: true }), before1, a.userId);

    const c = await register(server.baseUrl, uniqueName("carol"));
    const cc = await newClient(c);
    await ca.invite(roomId, c.userId);
    await acceptInvite(cc, roomId);
    await waitForRoomReady(ca, roomId, [a.userId, b.userId, c.userId]);
    await waitForRoomReady(cc, roomId, [a.userId, b.userId, c.userId]);

    const after1 = "after carol joined " + uniqueName("");
    const newId = await sendText(ca, roomId, after1);
    assertDecryptedText(await waitForDecryptedEvent(cc, roomId, newId, { allowFailure: true }), after1, a.userId);
    assertDecryptedText(await waitForDecryptedEvent(cb, roomId, newId, { allowFailure: true }), after1, a.userId);

    // Bob's new message too (a session Carol was included in from the start).
    const fromBob = "bob after carol joined";
    const bobId = await sendText(cb, roomId, fromBob);
    assertDecryptedText(await waitForDecryptedEvent(cc, roomId, bobId, { allowFailure: true }), fromBob, b.userId);

    // The old message: Carol can read it from the server (shared history), but not decrypt it.
    const raw = await cc.fetchRoomEvent(roomId, oldId);
    assert.equal(raw.type, "m.room.encrypted");
    const oldEv = new sdk.MatrixEvent(raw);
    await cc.decryptEventIfNeeded(oldEv);
    await waitUntil(() => !oldEv.isBeingDecrypted(), "the old event's decryption to settle");
    assert.equal(oldEv.isDecryptionFailure(), true,
      `carol decrypted a message sent before she joined: ${JSON.stringify(oldEv.getClearContent())}`);
    assert.notEqual(oldEv.getContent().body, before1);
    assert.ok(oldEv.decryptionFailureReason, "no decryption failure reason");
    // Whatever path the SDK takes, Carol got no key for that part of the session.
    assert.ok([
      "OLM_UNKNOWN_MESSAGE_INDEX",
      "MEGOLM_UNKNOWN_INBOUND_SESSION_ID",
      "HISTORICAL_MESSAGE_USER_NOT_JOINED",
      "HISTORICAL_MESSAGE_NO_KEY_BACKUP",
      "MEGOLM_KEY_WITHHELD",
    ].includes(oldEv.decryptionFailureReason), `unexpected failure reason ${oldEv.decryptionFailureReason}`);
  });

  test("a second device restores old room keys from server-side key backup", { timeout: TEST_TIMEOUT_MS }, async () => {
    const { a, b, ca, cb, roomId } = await encryptedPair();
    const crypto1 = ca.getCrypto();

    // Create a backup version with the crypto API: a new backup key, signed auth data.
    await crypto1.resetKeyBackup();
    const version = await waitUntil(() => crypto1.getActiveSessionBackupVersion(), "key backup to be active");
    const info = await crypto1.getKeyBackupInfo();
    assert.equal(info.version, version);
    assert.equal(info.algorithm, "m.megolm_backup.v1.curve25519-aes-sha2");
    const serverInfo = await http(server.baseUrl, "GET", "/_matrix/client/v3/room_keys/version", { token: a.accessToken });
    assert.equal(serverInfo.status, 200, JSON.stringify(serverInfo.body));
    assert.equal(serverInfo.body.version, version);
    assert.deepEqual(serverInfo.body.auth_data.public_key, info.auth_data.public_key);

    // Old messages in both directions: Alice's outbound session and Bob's session shared with her.
    const fromAlice = "old from alice " + uniqueName("");
    const fromBob = "old from bob " + uniqueName("");
    const aliceMsg = await sendText(ca, roomId, fromAlice);
    const bobMsg = await sendText(cb, roomId, fromBob);
    assertDecryptedText(await waitForDecryptedEvent(ca, roomId, bobMsg, { allowFailure: true }), fromBob, b.userId);
    assertDecryptedText(await waitForDecryptedEvent(cb, roomId, aliceMsg, { allowFailure: true }), fromAlice, a.userId);
    const aliceSession = (await rawEvent(server.baseUrl, a.accessToken, roomId, aliceMsg)).content.session_id;
    const bobSession = (await rawEvent(server.baseUrl, a.accessToken, roomId, bobMsg)).content.session_id;

    // Wait until the first device has uploaded both sessions to the backup on the server.
    await waitUntil(async () => {
      const r = await http(server.baseUrl, "GET",
        `/_matrix/client/v3/room_keys/keys/${encodeURIComponent(roomId)}?version=${encodeURIComponent(version)}`,
        { token: a.accessToken });
      if (r.status !== 200) throw new Error(`GET room_keys/keys: ${r.status} ${JSON.stringify(r.body)}`);
      const sessions = r.body.sessions || {};
      return sessions[aliceSession] && sessions[bobSession];
    }, "both megolm sessions to be in the server-side backup", { timeoutMs: 30000 });
    const count = await http(server.baseUrl, "GET", "/_matrix/client/v3/room_keys/version", { token: a.accessToken });
    assert.ok(count.body.count >= 2, `backup count ${count.body.count}`);
    assert.equal(typeof count.body.etag, "string");

    // The user writes down the recovery key; the first device goes away.
    const privateKey = await crypto1.getSessionBackupPrivateKey();
    assert.ok(privateKey, "no backup private key on the first device");
    const recoveryKey = encodeRecoveryKey(privateKey);
    stopClient(ca);

    // A new login: a second device, which has never seen these sessions.
    const a2 = await login(server.baseUrl, a.userId.slice(1).split(":")[0]);
    assert.notEqual(a2.deviceId, a.deviceId);
    const ca2 = await newClient(a2);
    const crypto2 = ca2.getCrypto();
    const oldAlice = await waitForDecryptedEvent(ca2, roomId, aliceMsg, { allowFailure: true });
    const oldBob = await waitForDecryptedEvent(ca2, roomId, bobMsg, { allowFailure: true });
    assert.equal(oldAlice.isDecryptionFailure(), true, "the new device decrypted an old message without the backup");
    assert.equal(oldBob.isDecryptionFailure(), true, "the new device decrypted an old message without the backup");

    // Restore with the recovery key.
    const backupInfo = await crypto2.getKeyBackupInfo();
    assert.equal(backupInfo?.version, version);
    await crypto2.storeSessionBackupPrivateKey(decodeRecoveryKey(recoveryKey), version);
    const result = await crypto2.restoreKeyBackup();
    assert.ok(result.total >= 2, `restore found ${result.total} keys`);
    // Some keys may already have come in through the SDK's per-session backup download.
    const sessions = await crypto2.exportRoomKeys();
    const ids = new Set(sessions.filter((s) => s.room_id === roomId).map((s) => s.session_id));
    assert.ok(ids.has(aliceSession), "alice's old session was not restored");
    assert.ok(ids.has(bobSession), "bob's old session was not restored");

    // The old messages now decrypt on the new device.
    const retry = async (eventId, body, sender) => {
      const ev = await waitUntil(async () => {
        const e = findTimelineEvent(ca2, roomId, eventId);
        if (!e) return undefined;
        if (e.isDecryptionFailure()) {
          await e.attemptDecryption(ca2.getCrypto(), { isRetry: true });
        }
        return !e.isDecryptionFailure() && e.getClearContent() ? e : undefined;
      }, `old event ${eventId} to decrypt on the new device`, { timeoutMs: 20000 });
      assertDecryptedText(ev, body, sender);
    };
    await retry(aliceMsg, fromAlice, a.userId);
    await retry(bobMsg, fromBob, b.userId);
  });
});
