// Shared harness for the matrix-js-sdk integration tests.
//
// Each test file calls `useServer()` at module level. That registers before()/after()
// hooks which start a fresh Despatch server (free port, fresh temp data dir) and stop it
// with SIGTERM once the file's tests are done. The returned object exposes helpers to
// register users as logged-in matrix-js-sdk clients, to wait for sync events, to make raw
// HTTP requests and to restart the server on the same data dir and port.
//
// Environment:
//   DESPATCH_BIN        path to the despatch binary (default ../../../build/despatch)
//   DESPATCH_SDK_LOG    matrix-js-sdk log level (default "silent"; e.g. "debug", "warn")
//   DESPATCH_KEEP_DATA  if set, the temp data dir is not deleted after the tests

import { before, after } from "node:test";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import loglevel from "loglevel";
import * as sdk from "matrix-js-sdk";

export { sdk };

// matrix-js-sdk logs a lot through loglevel; keep the test output readable.
loglevel.setLevel(process.env.DESPATCH_SDK_LOG ?? "silent");
loglevel.rebuild();

const here = path.dirname(fileURLToPath(import.meta.url));
export const DESPATCH_BIN = process.env.DESPATCH_BIN
    ? path.resolve(process.env.DESPATCH_BIN)
    : path.resolve(here, "../../../build/despatch");

const READY_TIMEOUT_MS = 20000;
const STOP_TIMEOUT_MS = 10000;

export function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
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
        const timer = setTimeout(() => {
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

function liveEvents(client) {
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
    for (const room of client.getRooms()) {
        for (const ev of room.getLiveTimeline().getEvents()) {
            if (matches(ev, room)) return Promise.resolve(ev);
        }
    }
    return new Promise((resolve, reject) => {
        const onTimeline = (ev, room) => {
            if (matches(ev, room)) {
                cleanup();
                resolve(ev);
            }
        };
        const timer = setTimeout(() => {
            cleanup();
            // one last look, in case the event arrived through a path we do not listen on
            const late = client.getRooms().flatMap((r) => r.getLiveTimeline().getEvents().map((e) => [e, r]));
            const hit = late.find(([e, r]) => matches(e, r));
            if (hit) resolve(hit[0]);
            else reject(new Error(`${client.getUserId()}: timed out after ${timeout} ms waiting for ${what}`));
        }, timeout);
        const cleanup = () => {
            clearTimeout(timer);
            client.off(sdk.RoomEvent.Timeline, onTimeline);
        };
        client.on(sdk.RoomEvent.Timeline, onTimeline);
    });
}

/** Starts the client's sync loop and waits for the first PREPARED sync state. */
export async function startClient(client, opts = {}, { timeout = 15000 } = {}) {
    const prepared = waitForEmit(client, sdk.ClientEvent.Sync, (state) => state === "PREPARED", {
        timeout,
        what: `${client.getUserId()} initial sync (PREPARED)`,
    });
    // Surface a failed first sync instead of waiting for the timeout.
    const failed = waitForEmit(client, sdk.ClientEvent.Sync, (state) => state === "ERROR", {
        timeout: timeout + 1000,
    }).then(
        ([, , data]) => {
            throw new Error(`${client.getUserId()}: sync ERROR: ${data?.error?.message ?? "unknown"}`);
        },
        () => new Promise(() => {}),
    );
    await client.startClient({ initialSyncLimit: 30, lazyLoadMembers: false, ...opts });
    await Promise.race([prepared, failed]);
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
export function useServer({ serverName } = {}) {
    const ctx = new ServerContext({ serverName });
    before(async () => {
        await ctx.start();
    });
    after(async () => {
        await ctx.shutdown();
    });
    return ctx;
}

export class ServerContext {
    constructor({ serverName } = {}) {
        this.serverName = serverName;
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
        if (!this.dataDir) this.dataDir = await mkdtemp(path.join(tmpdir(), "despatch-js-"));
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
        const proc = spawn(DESPATCH_BIN, args, { stdio: ["ignore", "pipe", "pipe"] });
        this.proc = proc;
        let stderr = "";
        const exited = new Promise((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })));
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
            const timer = setTimeout(() => {
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
        if (proc.exitCode !== null || proc.signalCode !== null) return proc.exited;
        proc.kill(signal);
        const timer = setTimeout(() => proc.kill("SIGKILL"), STOP_TIMEOUT_MS);
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
        const res = await this.stop("SIGTERM");
        if (res && !(res.code === 0 || res.signal === "SIGTERM")) {
            console.error(`despatch exited with code ${res.code}, signal ${res.signal}`);
        }
        if (this.dataDir && !process.env.DESPATCH_KEEP_DATA) {
            await rm(this.dataDir, { recursive: true, force: true });
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
        const client = sdk.createClient({ baseUrl: this.baseUrl, userId, accessToken, deviceId });
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
