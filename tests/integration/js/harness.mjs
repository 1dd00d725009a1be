// Shared harness for the matrix-js-sdk integration tests.
//
// Each test file wraps its tests in a describe() and calls `useServer()` inside it. That
// registers before()/after() hooks on the suite which start a fresh Despatch server (free
// port, fresh temp data dir) and, once the suite's tests are done, stop every client and the
// server (SIGTERM). (Hooks on a describe run right after its tests; top-level after() hooks
// would only run once the event loop drains, which running sdk clients prevent.) The returned
// ServerContext registers users as logged-in matrix-js-sdk clients, makes raw HTTP requests
// and restarts the server on the same data dir and port; the exported functions wait for
// sync events, memberships and conditions.
//
// Environment:
//   DESPATCH_BIN          path to the despatch binary (default ../../../build/despatch)
//   DESPATCH_SDK_LOG      matrix-js-sdk log level (default "silent"; e.g. "debug", "warn")
//   DESPATCH_SERVER_LOG   if set, the server's stderr is copied to the test output
//   DESPATCH_KEEP_DATA    if set, the temp data dir is not deleted after the tests
//   DESPATCH_DEBUG_STOP   if set, prints how long the server took to stop

import { before, after } from "node:test";
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import loglevel from "loglevel";
import "./promise_polyfill.mjs";


// The sdk arms request timeouts (e.g. poll timeout + 80 s for /sync, 15 s for keep-alive
// pings) whose timers are never cleared, which would keep each test process alive long after
// its last test. Timers from the sdk must not hold a test process open, so timers of a second
// or more set through the global setTimeout are unref'd. The harness's own timers use the real
// setTimeout and stay referenced (while a server runs, its child process keeps the loop alive).
const realSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = function setTimeoutUnrefLong(fn, ms, ...args) {
    const t = realSetTimeout(fn, ms, ...args);
    if (typeof ms === "number" && ms >= 1000 && typeof t?.unref === "function") t.unref();
    return t;
};

const sdk = await import("matrix-js-sdk");

// matrix-js-sdk logs a lot through loglevel, forcing every logger it makes to DEBUG; filter
// by method in the method factory instead so the test output stays readable.
{
    const ranks = { trace: 0, debug: 1, log: 1, info: 2, warn: 3, error: 4, silent: 5 };
    const threshold = ranks[(process.env.DESPATCH_SDK_LOG ?? "silent").toLowerCase()] ?? 5;
    const sdkFactory = loglevel.methodFactory;
    const filtered = (methodName, level, name) =>
        (ranks[methodName] ?? 1) < threshold ? () => {} : sdkFactory(methodName, level, name);
    loglevel.methodFactory = filtered;
    for (const l of [loglevel, ...Object.values(loglevel.getLoggers())]) {
        l.methodFactory = filtered;
        l.setLevel(l.getLevel(), false);
    }
}

export { sdk };

const here = path.dirname(fileURLToPath(import.meta.url));
export const DESPATCH_BIN = process.env.DESPATCH_BIN
    ? path.resolve(process.env.DESPATCH_BIN)
    : path.resolve(here, "../../../build/despatch");

const READY_TIMEOUT_MS = 20000;
const STOP_TIMEOUT_MS = 10000;

export function sleep(ms) {
    return new Promise((resolve) => realSetTimeout(resolve, ms));
}

/** Picks a free TCP port on 127.0.0.1 by binding port 0 and closing the socket again. */
export function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.unref();
        srv.on("error", reject);
        srv.listen(0, "127.0.0.1", () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

/** Polls `fn` (sync or async) until it returns a truthy value; returns that value. */
export async function waitUntil(fn, { timeout = 10000, interval = 25, what = "condition" } = {}) {
    const deadline = Date.now() + timeout;
    let lastError;
    for (;;) {
        try {
            const v = await fn();
            if (v) return v;
        } catch (e) {
            lastError = e;
        }
        if (Date.now() >= deadline) {
            const extra = lastError ? ` (last error: ${lastError.message ?? lastError})` : "";
            throw new Error(`timed out after ${timeout} ms waiting for ${what}${extra}`);
        }
        await sleep(interval);
    }
}

/**
 * Waits for `emitter` to emit `eventName` with arguments satisfying `pred(...args)`.
 * Resolves with the argument list. Create the promise *before* triggering the action.
 */
export function waitForEmit(emitter, eventName, pred = () => true, { timeout = 10000, what } = {}) {
    return new Promise((resolve, reject) => {
        const onEvent = (...args) => {
            let ok = false;
            try {
                ok = pred(...args);
            } catch {
                ok = false;
            }
            if (ok) {
                cleanup();
                resolve(args);
            }
        };
        const timer = realSetTimeout(() => {
            cleanup();
            reject(new Error(`timed out after ${timeout} ms waiting for ${what ?? String(eventName)}`));
        }, timeout);
        const cleanup = () => {
            clearTimeout(timer);
            emitter.off(eventName, onEvent);
        };
        emitter.on(eventName, onEvent);
    });
}

export function liveEvents(client) {
    const out = [];
    for (const room of client.getRooms()) {
        for (const ev of room.getLiveTimeline().getEvents()) out.push(ev);
    }
    return out;
}

/**
 * Waits until `client` has a timeline event (a MatrixEvent) for which `pred(event, room)`
 * holds. Events already in a live timeline count too, so there is no race with events
 * that arrived before the call. Only events that came from the server (not local echoes)
 * are considered. Resolves with the MatrixEvent.
 */
export function waitForEvent(client, pred, { timeout = 10000, what = "timeline event" } = {}) {
    const matches = (ev, room) => {
        if (!ev || ev.status !== null) return false; // skip local echoes / unsent events
        if (!ev.getId() || ev.getId().startsWith("~")) return false;
        try {
            return !!pred(ev, room);
        } catch {
            return false;
        }
    };
    const scan = () => {
        for (const room of client.getRooms()) {
            for (const ev of room.getLiveTimeline().getEvents()) {
                if (matches(ev, room)) return ev;
            }
        }
        return null;
    };
    const already = scan();
    if (already) return Promise.resolve(already);
    return new Promise((resolve, reject) => {
        const onEvent = (ev, room) => {
            if (matches(ev, room ?? client.getRoom(ev.getRoomId()))) {
                cleanup();
                resolve(ev);
            }
        };
        // A client's own message turns from local echo into the server's event without a new
        // Timeline emission (LocalEchoUpdated instead); rescan periodically as a backstop.
        const poll = setInterval(() => {
            const ev = scan();
            if (ev) {
                cleanup();
                resolve(ev);
            }
        }, 50);
        const timer = realSetTimeout(() => {
            cleanup();
            const ev = scan();
            if (ev) resolve(ev);
            else reject(new Error(`${client.getUserId()}: timed out after ${timeout} ms waiting for ${what}`));
        }, timeout);
        const cleanup = () => {
            clearTimeout(timer);
            clearInterval(poll);
            client.off(sdk.RoomEvent.Timeline, onEvent);
            client.off(sdk.RoomEvent.LocalEchoUpdated, onEvent);
        };
        client.on(sdk.RoomEvent.Timeline, onEvent);
        client.on(sdk.RoomEvent.LocalEchoUpdated, onEvent);
    });
}

/**
 * Starts the client's sync loop and waits for the first PREPARED sync state. A sync ERROR
 * before that fails fast with the error the sdk reported.
 */
export async function startClient(client, opts = {}, { timeout = 15000 } = {}) {
    const ready = waitForEmit(client, sdk.ClientEvent.Sync, (state) => state === "PREPARED" || state === "ERROR", {
        timeout,
        what: `${client.getUserId()} initial sync (PREPARED)`,
    });
    await client.startClient({ initialSyncLimit: 30, lazyLoadMembers: false, ...opts });
    const [state, , data] = await ready;
    if (state === "ERROR") {
        throw new Error(`${client.getUserId()}: initial sync failed: ${data?.error?.message ?? "unknown error"}`);
    }
    return client;
}

/** Asserts-helper: returns a predicate for assert.rejects matching a MatrixError errcode. */
export function matrixError(errcode, httpStatus) {
    return (err) => {
        if (err?.errcode !== errcode) {
            throw new Error(
                `expected errcode ${errcode}, got ${err?.errcode} (HTTP ${err?.httpStatus}): ${err?.message ?? err}`,
            );
        }
        if (httpStatus !== undefined && err.httpStatus !== httpStatus) {
            throw new Error(`expected HTTP ${httpStatus}, got ${err.httpStatus} (${errcode})`);
        }
        return true;
    };
}

let userCounter = 0;

/**
 * Registers `before`/`after` hooks for a per-file server and returns the server context.
 */
export function useServer({ serverName, extraArgs } = {}) {
    const ctx = new ServerContext({ serverName, extraArgs });
    before(async () => {
        await ctx.start();
    });
    after(async () => {
        await ctx.shutdown();
    });
    return ctx;
}

export class ServerContext {
    constructor({ serverName, extraArgs } = {}) {
        this.serverName = serverName;
        this.extraArgs = extraArgs;  // more `despatch serve` flags, or a function of the context returning them
        this.proc = null;
        this.port = null;
        this.dataDir = null;
        this.baseUrl = null;
        this.stderr = "";
        this.clients = new Set();
        this.runId = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
    }

    get hsName() {
        return this.serverName ?? "localhost";
    }

    async start() {
        if (!this.dataDir) {
            this.dataDir = await mkdtemp(path.join(tmpdir(), "despatch-js-"));
            // The records office keeps its secret key away from the server's data folder.
            this.officeDir = await mkdtemp(path.join(tmpdir(), "despatch-js-office-"));
            const r = spawnSync(DESPATCH_BIN, ["records", "keygen", "--out", this.officeDir, "--data", this.dataDir],
                { encoding: "utf8" });
            if (r.status !== 0) throw new Error(`records keygen failed: ${r.stdout}${r.stderr}`);
            this.recordsKeyFile = path.join(this.officeDir, "records_office.key");
        }
        if (!this.port) this.port = await freePort();
        this.baseUrl = `http://127.0.0.1:${this.port}`;
        // The port may still be held briefly after a kill; retry a few times.
        let lastErr;
        for (let attempt = 0; attempt < 5; attempt++) {
            try {
                await this.#spawn();
                return;
            } catch (e) {
                lastErr = e;
                if (!/address|bind|in use/i.test(String(e.message))) throw e;
                await sleep(300);
            }
        }
        throw lastErr;
    }

    #spawn() {
        const args = [
            "serve",
            "--data",
            this.dataDir,
            "--listen",
            `127.0.0.1:${this.port}`,
            "--open-registration",
            "--no-rate-limit",
        ];
        if (this.serverName) args.push("--server-name", this.serverName);
        if (this.extraArgs) args.push(...(typeof this.extraArgs === "function" ? this.extraArgs(this) : this.extraArgs));
        const proc = spawn(DESPATCH_BIN, args, { stdio: ["ignore", "pipe", "pipe"] });
        this.proc = proc;
        let stderr = "";
        const exited = new Promise((resolve) => {
            proc.once("exit", (code, signal) => resolve({ code, signal }));
            // A failed spawn (e.g. no such binary) emits "error" and never "exit".
            proc.once("error", (error) => resolve({ code: null, signal: null, error }));
        });
        proc.exited = exited;
        return new Promise((resolve, reject) => {
            let done = false;
            const finish = (err) => {
                if (done) return;
                done = true;
                clearTimeout(timer);
                if (err) reject(err);
                else resolve();
            };
            const describe = (why) =>
                new Error(
                    `despatch did not become ready (${why}).\n  binary: ${DESPATCH_BIN}\n  args: ${args.join(" ")}\n` +
                        `  stderr:\n${stderr.replace(/^/gm, "    ")}`,
                );
            proc.stderr.setEncoding("utf8");
            proc.stderr.on("data", (chunk) => {
                stderr += chunk;
                this.stderr += chunk;
                if (process.env.DESPATCH_SERVER_LOG) process.stderr.write(chunk);
                if (stderr.includes("despatch ready")) finish();
            });
            proc.stdout.resume();
            proc.once("error", (e) => finish(describe(`spawn failed: ${e.message}`)));
            exited.then(({ code, signal }) => finish(describe(`exited early with code ${code}, signal ${signal}`)));
            const timer = realSetTimeout(() => {
                proc.kill("SIGKILL");
                finish(describe(`no ready line within ${READY_TIMEOUT_MS} ms`));
            }, READY_TIMEOUT_MS);
        });
    }

    /** Stops the server. Resolves with {code, signal}. */
    async stop(signal = "SIGTERM") {
        const proc = this.proc;
        if (!proc) return null;
        this.proc = null;
        if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return proc.exited;
        proc.kill(signal);
        const timer = realSetTimeout(() => proc.kill("SIGKILL"), STOP_TIMEOUT_MS);
        const res = await proc.exited;
        clearTimeout(timer);
        return res;
    }

    /** Kills the server (SIGTERM by default, or SIGKILL) and starts it again on the same data dir and port. */
    async restart({ signal = "SIGTERM" } = {}) {
        const res = await this.stop(signal);
        await this.start();
        return res;
    }

    async shutdown() {
        for (const c of this.clients) {
            try {
                c.stopClient();
            } catch {
                /* ignore */
            }
        }
        this.clients.clear();
        const t0 = Date.now();
        const res = await this.stop("SIGTERM");
        if (process.env.DESPATCH_DEBUG_STOP) console.error(`stop took ${Date.now() - t0} ms`, res);
        if (res && !(res.code === 0 || res.signal === "SIGTERM")) {
            console.error(`despatch exited with code ${res.code}, signal ${res.signal}`);
        }
        if (this.dataDir && !process.env.DESPATCH_KEEP_DATA) {
            await rm(this.dataDir, { recursive: true, force: true });
            if (this.officeDir) await rm(this.officeDir, { recursive: true, force: true });
        }
    }

    /** A unique localpart for this run. */
    uniqueName(prefix = "user") {
        userCounter += 1;
        return `${prefix}${userCounter}_${this.runId}`.toLowerCase();
    }

    /**
     * Raw HTTP helper. `path` starts with "/_matrix/...". Returns {status, json, text, ms, headers}.
     * Options: method, token, body (object, JSON-encoded), query (object), signal.
     */
    async fetch(pathname, { method, token, body, query, signal, headers = {} } = {}) {
        const url = new URL(pathname, this.baseUrl);
        if (query) for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
        const h = { ...headers };
        if (token) h.Authorization = `Bearer ${token}`;
        if (body !== undefined) h["Content-Type"] = "application/json";
        const t0 = performance.now();
        const res = await fetch(url, {
            method: method ?? (body !== undefined ? "POST" : "GET"),
            headers: h,
            body: body !== undefined ? JSON.stringify(body) : undefined,
            signal,
        });
        const text = await res.text();
        const ms = performance.now() - t0;
        let json;
        try {
            json = text ? JSON.parse(text) : undefined;
        } catch {
            json = undefined;
        }
        return { status: res.status, json, text, ms, headers: res.headers };
    }

    /** Registers a user with the m.login.dummy flow. Returns the /register response plus password. */
    async registerRaw(localpart = this.uniqueName(), password = `pw-${localpart}-secret`) {
        const body = { username: localpart, password, initial_device_display_name: "js-sdk test" };
        let res = await this.fetch("/_matrix/client/v3/register", { body });
        if (res.status === 401 && res.json?.session !== undefined) {
            res = await this.fetch("/_matrix/client/v3/register", {
                body: { ...body, auth: { type: "m.login.dummy", session: res.json.session } },
            });
        } else if (res.status === 401) {
            res = await this.fetch("/_matrix/client/v3/register", {
                body: { ...body, auth: { type: "m.login.dummy" } },
            });
        }
        if (res.status !== 200) {
            throw new Error(`register ${localpart} failed: HTTP ${res.status} ${res.text}`);
        }
        return { ...res.json, password, localpart };
    }

    /** Makes a matrix-js-sdk client for existing credentials (tracked, stopped in after()). */
    makeClient({ userId, accessToken, deviceId }) {
        const client = sdk.createClient({ baseUrl: this.baseUrl, userId, accessToken, deviceId, timelineSupport: true });
        client.testPassword = undefined;
        this.clients.add(client);
        return client;
    }

    /** Registers a fresh user and returns a logged-in (not yet syncing) matrix-js-sdk client. */
    async registerClient(prefix = "user") {
        const reg = await this.registerRaw(this.uniqueName(prefix));
        const client = this.makeClient({ userId: reg.user_id, accessToken: reg.access_token, deviceId: reg.device_id });
        client.testPassword = reg.password;
        client.testLocalpart = reg.localpart;
        return client;
    }

    /** Registers a fresh user, starts its sync loop and waits for PREPARED. */
    async syncedClient(prefix = "user", opts) {
        const client = await this.registerClient(prefix);
        await startClient(client, opts);
        return client;
    }

    /** Stops a client's sync loop and forgets it. */
    stopClient(client) {
        client.stopClient();
        this.clients.delete(client);
    }
}

/** Waits until `client`'s view of `roomId` shows `userId` with the given membership; returns the member. */
export function waitForMembership(client, roomId, userId, membership, { timeout = 10000 } = {}) {
    return waitUntil(
        () => {
            const room = client.getRoom(roomId);
            if (!room) return false;
            if (userId === client.getUserId() && room.getMyMembership() !== membership) return false;
            const m = room.getMember(userId);
            return m && m.membership === membership ? m : false;
        },
        { timeout, what: `${client.getUserId()} to see ${userId} as '${membership}' in ${roomId}` },
    );
}

/** The m.room.message events of `roomId` in `client`'s live timeline (server-acknowledged only). */
export function liveMessages(client, roomId) {
    const room = client.getRoom(roomId);
    if (!room) return [];
    return room
        .getLiveTimeline()
        .getEvents()
        .filter((e) => e.getType() === "m.room.message" && e.status === null);
}
