// End-to-end encryption between Despatch and the reference Synapse (1.98) over federation:
// a matrix-js-sdk client with Rust crypto on each server. Encrypted rooms made on either
// side, the other side's user joins, and each decrypts the other's messages: device lists,
// one-time key claims and Olm-encrypted room keys cross between the two implementations.
//
// Run: cd tests/integration/js && node --test --test-concurrency=1 federation_e2ee_synapse.test.mjs

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import {
  freePort, register, sendText, startCryptoClient, stopClient, uniqueName,
  waitForDecryptedEvent, waitForJoinedRoom, waitForRoomReady, waitUntil,
} from "./e2ee_helpers.mjs";
import { assertDecrypted, haveSynapse, makeCertificates, startFederatingServer, startSynapse } from "./federation_peers.mjs";

const MEGOLM = "m.megolm.v1.aes-sha2";

async function knowsDevice(client, user) {
  await waitUntil(async () => {
    const devs = await client.getCrypto().getUserDeviceInfo([user.userId], true);
    return devs.get(user.userId)?.has(user.deviceId);
  }, `${client.getUserId()}'s client to know ${user.userId}'s device`, { timeoutMs: 30000 });
}

describe("end-to-end encryption between Despatch and Synapse (matrix-js-sdk, Rust crypto)",
  { timeout: 900000, skip: haveSynapse() ? false : "the Synapse peer package is not on this machine" }, () => {
  let dir;
  let despatch;
  let synapse;
  const clients = [];
  let d;  // the Despatch user
  let s;  // the Synapse user
  let cd;
  let cs;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "despatch-fed-e2ee-synapse-"));
    makeCertificates(dir);
    const fedD = await freePort();
    const fedS = await freePort();
    despatch = await startFederatingServer(dir, fedD, `127.0.0.1:${fedS}`);
    synapse = await startSynapse(dir, join(dir, "synapse"), await freePort(), fedS);
    d = await register(despatch.baseUrl, uniqueName("dora"));
    s = await register(synapse.baseUrl, uniqueName("sam"));
    cd = await startCryptoClient(despatch.baseUrl, d);
    clients.push(cd);
    cs = await startCryptoClient(synapse.baseUrl, s);
    clients.push(cs);
  });

  after(async () => {
    for (const c of clients) stopClient(c);
    if (process.env.E2EE_DEBUG && despatch) console.log(`---- despatch\n${despatch.stderr().slice(-6000)}`);
    if (despatch) await despatch.stop();
    if (synapse) await synapse.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function chat(owner, ownerUser, joiner, joinerUser, via, tag) {
    const { room_id: roomId } = await owner.createRoom({
      name: `Encrypted ${tag}`,
      preset: "public_chat",
      room_version: "11",
      initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: MEGOLM } }],
    });
    await joiner.joinRoom(roomId, { viaServers: [via] });
    await waitForJoinedRoom(joiner, roomId, 30000);
    await waitForRoomReady(owner, roomId, [ownerUser.userId, joinerUser.userId], 30000);
    await waitForRoomReady(joiner, roomId, [ownerUser.userId, joinerUser.userId], 30000);
    await knowsDevice(owner, joinerUser);
    await knowsDevice(joiner, ownerUser);

    const first = `From the room's own server (${tag})`;
    const id1 = await sendText(owner, roomId, first);
    assertDecrypted(await waitForDecryptedEvent(joiner, roomId, id1, { timeoutMs: 60000 }), first, ownerUser.userId);
    const second = `From the other server (${tag})`;
    const id2 = await sendText(joiner, roomId, second);
    assertDecrypted(await waitForDecryptedEvent(owner, roomId, id2, { timeoutMs: 60000 }), second, joinerUser.userId);
  }

  test("a Synapse user in a Despatch room: both decrypt", { timeout: 300000 }, async () => {
    assert.ok(d.userId.endsWith(`:${despatch.serverName}`));
    await chat(cd, d, cs, s, despatch.serverName, "room on Despatch");
  });

  test("a Despatch user in a Synapse room: both decrypt", { timeout: 300000 }, async () => {
    await chat(cs, s, cd, d, synapse.serverName, "room on Synapse");
  });
});
