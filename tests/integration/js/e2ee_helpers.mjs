// Helpers for the end-to-end encryption tests: start a Despatch server, register users over
// raw HTTP, and build matrix-js-sdk clients with Rust crypto in memory.
//
// Used by e2ee.test.mjs and e2ee_peer.mjs (the js side of the nio interop test).

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import "./node20_polyfills.mjs";
import * as sdk from "matrix-js-sdk";
import { logger as sdkLogger } from "matrix-js-sdk/lib/logger.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "..", "..", "..");
export const DESPATCH_BIN = process.env.DESPATCH_BIN || join(REPO, "build", "despatch");

// The SDK logs every request at debug level; keep test output readable unless asked.
if (!process.env.E2EE_DEBUG) {
  // The Rust crypto WASM traces at debug level through console.debug / console.info.
  console.debug = () => {};
  console.info = () => {};
  // MatrixRTC (calls) is not used here; its manager complains about rooms it sees state for
  // before the room object exists, which is harmless noise.
  for (const level of ["error", "warn"]) {
    const orig = console[level].bind(console);
    console[level] = (...args) => {
      if (typeof args[0] === "string" && /^(\[MatrixRTC|(WARN|ERROR) matrix_sdk_crypto)/.test(args[0])) return;
      orig(...args);
    };
  }
  sdkLogger.setLevel("error", false);
}

export { sdk };

export function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.on("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

/** Starts `despatch serve` on a fresh data folder and a free port; resolves when ready. */
// extraArgs are more `serve` flags; configToml, when given, is written to a config file.
export async function startServer({ readyTimeoutMs = 20000, serverName = "localhost", extraArgs = [],
  configToml } = {}) {
  const tmp = mkdtempSync(join(tmpdir(), "despatch-e2ee-"));
  const dataDir = join(tmp, "data");
  // The records office's key pair; its secret half stays outside the data folder.
  const keygen = spawnSync(DESPATCH_BIN, ["records", "keygen", "--out", join(tmp, "office"), "--data", dataDir],
    { encoding: "utf8" });
  if (keygen.status !== 0) throw new Error(`records keygen failed: ${keygen.stdout}${keygen.stderr}`);
  const port = await freePort();
  const args = ["serve", "--data", dataDir, "--listen", `127.0.0.1:${port}`,
    "--server-name", serverName, "--open-registration", "--no-rate-limit", ...extraArgs];
  if (configToml !== undefined) {
    writeFileSync(join(tmp, "despatch.toml"), configToml);
    args.push("--config", join(tmp, "despatch.toml"));
  }
  const proc = spawn(DESPATCH_BIN, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  await new Promise((res, rej) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      rej(new Error(`despatch not ready in ${readyTimeoutMs} ms; stderr:\n${stderr}`));
    }, readyTimeoutMs);
    proc.stderr.on("data", (chunk) => {
      stderr += chunk.toString();
      if (stderr.length > 200000) stderr = stderr.slice(-100000);
      if (stderr.includes("despatch ready")) {
        clearTimeout(timer);
        res();
      }
    });
    proc.on("exit", (code) => {
      clearTimeout(timer);
      rej(new Error(`despatch exited with ${code} before ready; stderr:\n${stderr}`));
    });
  });
  proc.removeAllListeners("exit");
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    baseUrl,
    port,
    serverName,
    dataDir,
    recordsKeyFile: join(tmp, "office", "records_office.key"),
    proc,
    stderr: () => stderr,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((res) => proc.once("exit", res));
        proc.kill("SIGTERM");
        const t = setTimeout(() => proc.kill("SIGKILL"), 10000);
        await exited;
        clearTimeout(t);
      }
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/** One JSON request; resolves to { status, body }. */
export async function http(baseUrl, method, path, { body, token } = {}) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const resp = await fetch(baseUrl + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  return { status: resp.status, body: parsed };
}

export const PASSWORD = "e2ee test password 1";

/** Registers a user (open registration, m.login.dummy); resolves to login data. */
export async function register(baseUrl, username, password = PASSWORD) {
  const { status, body } = await http(baseUrl, "POST", "/_matrix/client/v3/register", {
    body: { username, password, auth: { type: "m.login.dummy" }, initial_device_display_name: "e2ee test" },
  });
  if (status !== 200) throw new Error(`register ${username}: ${status} ${JSON.stringify(body)}`);
  return { userId: body.user_id, accessToken: body.access_token, deviceId: body.device_id, password };
}

/** Logs in with a password (a new device); resolves to login data. */
export async function login(baseUrl, username, password = PASSWORD) {
  const { status, body } = await http(baseUrl, "POST", "/_matrix/client/v3/login", {
    body: { type: "m.login.password", identifier: { type: "m.id.user", user: username }, password },
  });
  if (status !== 200) throw new Error(`login ${username}: ${status} ${JSON.stringify(body)}`);
  return { userId: body.user_id, accessToken: body.access_token, deviceId: body.device_id, password };
}

export function uniqueName(prefix) {
  return `${prefix}${Math.random().toString(36).slice(2, 10)}`;
}

/**
 * A matrix-js-sdk client with Rust crypto in memory, started and past its first sync.
 * Features the tests do not need are left off (no threads, no lazy loading, no VoIP).
 */
export async function startCryptoClient(baseUrl, creds, { syncTimeoutMs = 30000 } = {}) {
  const client = sdk.createClient({
    baseUrl,
    userId: creds.userId,
    deviceId: creds.deviceId,
    accessToken: creds.accessToken,
    timelineSupport: false,
  });
  await client.initRustCrypto({ useIndexedDB: false });
  const crypto = client.getCrypto();
  // Tests trust devices on first use; nothing here verifies anyone interactively.
  crypto.globalBlacklistUnverifiedDevices = false;
  const prepared = waitForSyncState(client, "PREPARED", syncTimeoutMs);
  await client.startClient({
    initialSyncLimit: 20,
    lazyLoadMembers: false,
    threadSupport: false,
    pollTimeout: 2000,
    clientWellKnownPollPeriod: 3600,
    disablePresence: true,
  });
  await prepared;
  return client;
}

export function stopClient(client) {
  if (!client) return;
  try {
    client.stopClient();
  } catch {
    /* already stopped */
  }
}

function waitForSyncState(client, state, timeoutMs) {
  return new Promise((res, rej) => {
    if (client.getSyncState() === state) return res();
    const timer = setTimeout(() => {
      client.removeListener(sdk.ClientEvent.Sync, onSync);
      rej(new Error(`sync state ${state} not reached in ${timeoutMs} ms (now ${client.getSyncState()})`));
    }, timeoutMs);
    function onSync(s) {
      if (s === state) {
        clearTimeout(timer);
        client.removeListener(sdk.ClientEvent.Sync, onSync);
        res();
      }
      // On "ERROR" keep waiting: the SDK retries, and the timeout catches a real failure.
    }
    client.on(sdk.ClientEvent.Sync, onSync);
  });
}

/**
 * Polls check() (sync or async) until it returns a truthy value, which is returned.
 * Throws with `what` after timeoutMs.
 */
export async function waitUntil(check, what, { timeoutMs = 20000, intervalMs = 100 } = {}) {
  const end = Date.now() + timeoutMs;
  let lastErr;
  while (Date.now() < end) {
    try {
      const got = await check();
      if (got) return got;
    } catch (e) {
      lastErr = e;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}` +
    (lastErr ? ` (last error: ${lastErr.message})` : ""));
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** The event with this ID in the room's live timeline, or undefined. */
export function findTimelineEvent(client, roomId, eventId) {
  const room = client.getRoom(roomId);
  if (!room) return undefined;
  return room.getLiveTimeline().getEvents().find((e) => e.getId() === eventId);
}

/**
 * Waits for an event with this ID to arrive in the client's live timeline and for its
 * decryption attempt to settle (decrypted, or failed). Resolves to the MatrixEvent.
 */
export async function waitForDecryptedEvent(client, roomId, eventId, { timeoutMs = 20000, allowFailure = false } = {}) {
  return waitUntil(async () => {
    const ev = findTimelineEvent(client, roomId, eventId);
    if (!ev) return undefined;
    if (ev.isBeingDecrypted() || ev.shouldAttemptDecryption()) {
      await client.decryptEventIfNeeded(ev);
    }
    if (ev.isDecryptionFailure()) return allowFailure ? ev : undefined;
    if (ev.isEncrypted() && ev.getClearContent() === null) return undefined;
    return ev;
  }, `event ${eventId} to be decrypted by ${client.getUserId()}/${client.getDeviceId()}`, { timeoutMs });
}

/** Creates a room with m.room.encryption (megolm) in its initial state; resolves to the room ID. */
export async function createEncryptedRoom(client, { invite = [], name = "e2ee test room" } = {}) {
  const { room_id: roomId } = await client.createRoom({
    name,
    preset: "private_chat",
    invite,
    initial_state: [{
      type: "m.room.encryption",
      state_key: "",
      content: { algorithm: "m.megolm.v1.aes-sha2" },
    }],
  });
  return roomId;
}

/** Waits until the client has the room and sees it as joined. */
export async function waitForJoinedRoom(client, roomId, timeoutMs = 20000) {
  return waitUntil(() => {
    const r = client.getRoom(roomId);
    return r && r.getMyMembership() === "join" ? r : undefined;
  }, `${client.getUserId()} to be joined to ${roomId}`, { timeoutMs });
}

/** Waits until the client sees an invite to the room, then joins it. */
export async function acceptInvite(client, roomId, timeoutMs = 20000) {
  await waitUntil(() => client.getRoom(roomId)?.getMyMembership() === "invite",
    `${client.getUserId()} to see the invite to ${roomId}`, { timeoutMs });
  await client.joinRoom(roomId);
  return waitForJoinedRoom(client, roomId, timeoutMs);
}

/** Waits until the client's crypto knows the room is encrypted and sees all members joined. */
export async function waitForRoomReady(client, roomId, memberIds, timeoutMs = 20000) {
  await waitUntil(async () => {
    const room = client.getRoom(roomId);
    if (!room) return false;
    for (const m of memberIds) {
      if (room.getMember(m)?.membership !== "join") return false;
    }
    return client.getCrypto().isEncryptionEnabledInRoom(roomId);
  }, `${client.getUserId()} to see ${roomId} encrypted with members ${memberIds.join(", ")}`, { timeoutMs });
}

/** Sends a text message; resolves to the event ID. */
export async function sendText(client, roomId, body) {
  const { event_id: eventId } = await client.sendMessage(roomId, { msgtype: "m.text", body });
  return eventId;
}

/** Reads the event as stored on the server (raw HTTP, as the given user). */
export async function rawEvent(baseUrl, token, roomId, eventId) {
  const { status, body } = await http(baseUrl, "GET",
    `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(eventId)}`, { token });
  if (status !== 200) throw new Error(`GET event ${eventId}: ${status} ${JSON.stringify(body)}`);
  return body;
}
