// End-to-end encryption between two departments: two federated Despatch servers on loopback
// (TLS certificates from a test CA made here with the openssl command), a matrix-js-sdk
// client with Rust crypto on each. A's user makes an encrypted public room, B's user joins
// it by ID through A, and each decrypts the other's messages: device keys, one-time keys and
// the Olm-encrypted room keys all cross between the servers.
//
// Run: cd tests/integration/js && node --test --test-concurrency=1 federation_e2ee.test.mjs

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import {
  freePort, http, register, sendText, startCryptoClient, stopClient, uniqueName,
  waitForDecryptedEvent, waitForJoinedRoom, waitForRoomReady, waitUntil,
} from "./e2ee_helpers.mjs";
import { assertDecrypted, makeCertificates, startFederatingServer } from "./federation_peers.mjs";

const MEGOLM = "m.megolm.v1.aes-sha2";

describe("end-to-end encryption across two federated servers (matrix-js-sdk, Rust crypto)", { timeout: 600000 }, () => {
  let certDir;
  let serverA;
  let serverB;
  const clients = [];

  before(async () => {
    certDir = mkdtempSync(join(tmpdir(), "despatch-fed-e2ee-certs-"));
    makeCertificates(certDir);
    const fedA = await freePort();
    const fedB = await freePort();
    serverA = await startFederatingServer(certDir, fedA, `127.0.0.1:${fedB}`);
    serverB = await startFederatingServer(certDir, fedB, `127.0.0.1:${fedA}`);
  });

  after(async () => {
    for (const c of clients) stopClient(c);
    if (process.env.E2EE_DEBUG) {
      for (const s of [serverA, serverB]) if (s) console.log(`---- ${s.serverName}\n${s.stderr().slice(-6000)}`);
    }
    if (serverA) await serverA.stop();
    if (serverB) await serverB.stop();
    if (certDir) rmSync(certDir, { recursive: true, force: true });
  });

  test("an encrypted chat between departments decrypts on both sides", { timeout: 240000 }, async () => {
    const a = await register(serverA.baseUrl, uniqueName("alice"));
    const b = await register(serverB.baseUrl, uniqueName("bob"));
    assert.ok(a.userId.endsWith(`:${serverA.serverName}`));
    assert.ok(b.userId.endsWith(`:${serverB.serverName}`));
    const ca = await startCryptoClient(serverA.baseUrl, a);
    clients.push(ca);
    const cb = await startCryptoClient(serverB.baseUrl, b);
    clients.push(cb);

    // A public room so that B's user can join by ID through A (remote invites are not
    // needed for this), encrypted from its creation.
    const { room_id: roomId } = await ca.createRoom({
      name: "Encrypted across departments",
      preset: "public_chat",
      initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: MEGOLM } }],
    });
    await cb.joinRoom(roomId, { viaServers: [serverA.serverName] });
    await waitForJoinedRoom(cb, roomId, 30000);
    await waitForRoomReady(ca, roomId, [a.userId, b.userId], 30000);
    await waitForRoomReady(cb, roomId, [a.userId, b.userId], 30000);

    // Each server tells its client about the other's user's device, fetched over federation.
    await waitUntil(async () => {
      const devs = await ca.getCrypto().getUserDeviceInfo([b.userId], true);
      return devs.get(b.userId)?.has(b.deviceId);
    }, `A's client to know ${b.userId}'s device`, { timeoutMs: 30000 });
    await waitUntil(async () => {
      const devs = await cb.getCrypto().getUserDeviceInfo([a.userId], true);
      return devs.get(a.userId)?.has(a.deviceId);
    }, `B's client to know ${a.userId}'s device`, { timeoutMs: 30000 });

    const fromA = "Minute of the inter-departmental meeting, for B";
    const idA = await sendText(ca, roomId, fromA);
    const seenByB = await waitForDecryptedEvent(cb, roomId, idA, { timeoutMs: 60000 });
    assertDecrypted(seenByB, fromA, a.userId);

    const fromB = "Received and noted, thank you";
    const idB = await sendText(cb, roomId, fromB);
    const seenByA = await waitForDecryptedEvent(ca, roomId, idB, { timeoutMs: 60000 });
    assertDecrypted(seenByA, fromB, b.userId);

    // Both servers hold only ciphertext, under the same event IDs.
    for (const [s, token] of [[serverA, a.accessToken], [serverB, b.accessToken]]) {
      for (const [id, text] of [[idA, fromA], [idB, fromB]]) {
        const { status, body } = await http(s.baseUrl, "GET",
          `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(id)}`, { token });
        assert.equal(status, 200, JSON.stringify(body));
        assert.equal(body.type, "m.room.encrypted");
        assert.ok(!JSON.stringify(body).includes(text), `${s.serverName} holds the plaintext`);
      }
    }
  });
});
