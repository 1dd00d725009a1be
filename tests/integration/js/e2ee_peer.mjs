// A matrix-js-sdk client with Rust crypto, driven by another test process through JSON lines.
//
//   node e2ee_peer.mjs --base-url URL --user-id @u:hs --access-token TOKEN --device-id DEV
//
// Once its first sync is done it writes {"ready": true, ...} to stdout. Then it reads one JSON
// command a line from stdin, {"id": N, "cmd": "...", ...}, and answers each with one line
// {"id": N, "ok": true, ...} or {"id": N, "ok": false, "error": "..."}. Only these lines go
// to stdout; everything else (SDK logs) goes to stderr.
//
// Commands:
//   create_room   {invite: [userId]}                   -> {room_id}   (m.megolm.v1.aes-sha2)
//   join          {room_id}                            -> {}          (waits for the invite)
//   wait_ready    {room_id, members: [userId]}         -> {}          (all joined, encrypted)
//   send          {room_id, body}                      -> {event_id}
//   wait_event    {room_id, event_id, timeout_ms}      -> {type, wire_type, algorithm, sender,
//                                                         body, decryption_failure}
//   device_info   {user_id}                            -> {devices: [deviceId]}
//   stop          {}                                   -> {}, then the process exits

import { createInterface } from "node:readline";

// Keep stdout for the protocol: anything the SDK prints goes to stderr.
const toStderr = (...args) => process.stderr.write(args.map(String).join(" ") + "\n");
console.log = toStderr;

const {
  acceptInvite, createEncryptedRoom, findTimelineEvent, sendText, startCryptoClient, stopClient,
  waitForRoomReady, waitUntil,
} = await import("./e2ee_helpers.mjs");

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith("--") || i + 1 >= argv.length) throw new Error(`bad argument ${argv[i]}`);
    out[argv[i].slice(2)] = argv[i + 1];
  }
  for (const k of ["base-url", "user-id", "access-token", "device-id"]) {
    if (!out[k]) throw new Error(`missing --${k}`);
  }
  return out;
}

function reply(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

const args = parseArgs(process.argv.slice(2));
const client = await startCryptoClient(args["base-url"], {
  userId: args["user-id"],
  accessToken: args["access-token"],
  deviceId: args["device-id"],
});
const ownKeys = await client.getCrypto().getOwnDeviceKeys();
reply({ ready: true, user_id: client.getUserId(), device_id: client.getDeviceId(), ed25519: ownKeys.ed25519 });

const handlers = {
  async create_room({ invite = [] }) {
    return { room_id: await createEncryptedRoom(client, { invite }) };
  },
  async join({ room_id: roomId }) {
    await acceptInvite(client, roomId);
    return {};
  },
  async wait_ready({ room_id: roomId, members }) {
    await waitForRoomReady(client, roomId, members);
    return {};
  },
  async send({ room_id: roomId, body }) {
    return { event_id: await sendText(client, roomId, body) };
  },
  async wait_event({ room_id: roomId, event_id: eventId, timeout_ms: timeoutMs = 20000 }) {
    // Waits for a successful decryption; on timeout reports the last state it saw.
    let last;
    try {
      await waitUntil(async () => {
        const ev = findTimelineEvent(client, roomId, eventId);
        if (!ev) return false;
        last = ev;
        if (ev.shouldAttemptDecryption() || ev.isBeingDecrypted()) await client.decryptEventIfNeeded(ev);
        if (ev.isDecryptionFailure()) {
          await ev.attemptDecryption(client.getCrypto(), { isRetry: true });
        }
        return !ev.isDecryptionFailure() && !ev.isBeingDecrypted();
      }, `event ${eventId}`, { timeoutMs });
    } catch (e) {
      if (!last) throw e;
    }
    return {
      type: last.getType(),
      wire_type: last.getWireType(),
      algorithm: last.getWireContent().algorithm ?? null,
      sender: last.getSender(),
      body: last.getContent().body ?? null,
      decryption_failure: last.isDecryptionFailure() ? String(last.decryptionFailureReason) : null,
    };
  },
  async device_info({ user_id: userId }) {
    const map = await client.getCrypto().getUserDeviceInfo([userId], true);
    return { devices: [...(map.get(userId)?.keys() ?? [])] };
  },
  async stop() {
    stopClient(client);
    setTimeout(() => process.exit(0), 50);
    return {};
  },
};

const rl = createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  if (!line.trim()) return;
  let msg;
  try {
    msg = JSON.parse(line);
  } catch (e) {
    reply({ id: null, ok: false, error: `bad JSON: ${e.message}` });
    return;
  }
  const handler = handlers[msg.cmd];
  if (!handler) {
    reply({ id: msg.id, ok: false, error: `unknown command ${msg.cmd}` });
    return;
  }
  try {
    reply({ id: msg.id, ok: true, ...(await handler(msg)) });
  } catch (e) {
    reply({ id: msg.id, ok: false, error: e?.stack || String(e) });
  }
});
rl.on("close", () => {
  stopClient(client);
  process.exit(0);
});
