// Leavers cut off at once, through matrix-js-sdk clients that were syncing: a deactivation
// (admin API, `despatch user deactivate` beside the running server) ends the leaver's parked
// syncs with M_UNKNOWN_TOKEN within a second, the other members see the leave and the device
// list change, the leaver's pending invites are withdrawn, and their messages stay in the
// records archive.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { DESPATCH_BIN, sdk, sleep, startClient, useServer, waitForMembership, waitUntil } from "./harness.mjs";

const CUT_OFF_BOUND_MS = 1000;
const FILTER = JSON.stringify({ room: { timeline: { limit: 5 } }, presence: { types: [] } });

function cli(args, input) {
    const r = spawnSync(DESPATCH_BIN, args, { input, encoding: "utf8", timeout: 30000 });
    if (r.status !== 0) throw new Error(`despatch ${args.join(" ")}: ${r.status}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
}

describe("leavers", () => {
    const srv = useServer();
    const scratch = [];
    let adminToken;
    let alice; // a colleague, syncing with matrix-js-sdk
    let carol; // invited by the leaver, never joined
    let scimToken;

    after(() => {
        for (const d of scratch) rmSync(d, { recursive: true, force: true });
    });

    before(async () => {
        const name = srv.uniqueName("admin");
        cli(["user", "add", name, "--admin", "--password-file", "-", "--data", srv.dataDir], "leavers admin password\n");
        const login = await srv.fetch("/_matrix/client/v3/login", {
            body: { type: "m.login.password", identifier: { type: "m.id.user", user: name }, password: "leavers admin password" },
        });
        assert.equal(login.status, 200, login.text);
        adminToken = login.json.access_token;
        alice = await srv.syncedClient("alice");
        scimToken = cli(["scim", "token", "create", "--name", "leavers-test", "--data", srv.dataDir]).trim();
        carol = await srv.registerClient("carol");
    });

    /** Raw /sync; `since` and `timeout` optional. */
    function sync(token, { since, timeout = 0 } = {}) {
        return srv.fetch("/_matrix/client/v3/sync", { token, query: { filter: FILTER, since, timeout } });
    }

    /**
     * A leaver in alice's room (with a message there), owner of a room with a pending invite to
     * carol, with two matrix-js-sdk clients syncing and ten raw /syncs parked on a third token.
     */
    /** A provisioned account (RFC 7644 §3.3's create), given a password to sign in with here. */
    async function scimLeaver(prefix) {
        const name = srv.uniqueName(prefix).toLowerCase();
        const created = await scim("POST", "/Users", {
            schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: name, externalId: name,
            name: { formatted: "Ms. Barbara J Jensen III", familyName: "Jensen", givenName: "Barbara" },
        });
        assert.equal(created.status, 201, created.text);
        const password = `pw-${name}-secret`;
        cli(["user", "reset-password", name, "--password", password, "--data", srv.dataDir]);
        const login = await srv.fetch("/_matrix/client/v3/login", {
            body: { type: "m.login.password", identifier: { type: "m.id.user", user: name }, password },
        });
        assert.equal(login.status, 200, login.text);
        const client = srv.makeClient({ userId: login.json.user_id, accessToken: login.json.access_token,
            deviceId: login.json.device_id });
        client.testLocalpart = name;
        client.testPassword = password;
        client.scimId = created.json.id;
        return client;
    }

    function scim(method, path, body) {
        return srv.fetch("/scim/v2" + path, { method, body, token: scimToken,
            headers: { "Content-Type": "application/scim+json" } });
    }

    async function makeLeaver(prefix, { provisioned = false } = {}) {
        const leaver = provisioned ? await scimLeaver(prefix) : await srv.registerClient(prefix);
        const { room_id: shared } = await alice.createRoom({ preset: "private_chat", name: `Team of ${prefix}` });
        await alice.invite(shared, leaver.getUserId());
        await leaver.joinRoom(shared);
        const { event_id: message } = await leaver.sendTextMessage(shared, `notes from ${prefix}, for the record`);
        const { room_id: own } = await leaver.createRoom({ preset: "private_chat", name: `Project of ${prefix}` });
        await leaver.invite(own, carol.getUserId());
        await waitForMembership(alice, shared, leaver.getUserId(), "join");

        // A second device, also an sdk client, and a third token for the raw long-polls.
        const second = await srv.fetch("/_matrix/client/v3/login", {
            body: { type: "m.login.password", identifier: { type: "m.id.user", user: leaver.testLocalpart },
                password: leaver.testPassword },
        });
        assert.equal(second.status, 200, second.text);
        const leaver2 = srv.makeClient({ userId: leaver.getUserId(), accessToken: second.json.access_token,
            deviceId: second.json.device_id });
        const third = await srv.fetch("/_matrix/client/v3/login", {
            body: { type: "m.login.password", identifier: { type: "m.id.user", user: leaver.testLocalpart },
                password: leaver.testPassword },
        });
        assert.equal(third.status, 200, third.text);
        const rawToken = third.json.access_token;

        const loggedOut = [];
        for (const c of [leaver, leaver2]) {
            await startClient(c);
            loggedOut.push(new Promise((resolve) => c.once(sdk.HttpApiEvent.SessionLoggedOut, (err) =>
                resolve({ at: performance.now(), errcode: err?.errcode, status: err?.httpStatus }))));
        }
        const since = (await sync(rawToken)).json.next_batch;
        const parked = [];
        for (let i = 0; i < 10; i++) {
            parked.push(sync(rawToken, { since, timeout: 30000 }).then((r) => ({ ...r, at: performance.now() })));
        }
        const aliceSince = (await sync(alice.getAccessToken())).json.next_batch;
        const carolFirst = await sync(carol.getAccessToken());
        assert.ok(own in (carolFirst.json.rooms?.invite ?? {}), "carol is invited before the leaver goes");
        const carolSince = carolFirst.json.next_batch;
        await sleep(500); // every poll is parked now
        return { leaver, leaver2, shared, own, message, loggedOut, parked, rawToken, aliceSince, carolSince,
            tokens: [leaver.getAccessToken(), leaver2.getAccessToken(), rawToken] };
    }

    async function checkCutOff(l, t0) {
        const answers = await Promise.all(l.parked);
        for (const a of answers) {
            assert.equal(a.status, 401, a.text);
            assert.equal(a.json.errcode, "M_UNKNOWN_TOKEN");
        }
        const last = Math.max(...answers.map((a) => a.at)) - t0;
        const sdkEnds = await Promise.all(l.loggedOut);
        for (const e of sdkEnds) assert.equal(e.errcode, "M_UNKNOWN_TOKEN");
        const sdkLast = Math.max(...sdkEnds.map((e) => e.at)) - t0;
        console.log(`last of 10 parked /syncs answered ${last.toFixed(1)} ms after the call; ` +
            `both sdk clients logged out after ${sdkLast.toFixed(1)} ms`);
        assert.ok(last < CUT_OFF_BOUND_MS, `parked syncs took ${last.toFixed(1)} ms`);
        assert.ok(sdkLast < CUT_OFF_BOUND_MS, `sdk syncs took ${sdkLast.toFixed(1)} ms`);
        for (const token of l.tokens) {
            const r = await srv.fetch("/_matrix/client/v3/account/whoami", { token });
            assert.equal(r.status, 401);
            assert.equal(r.json.errcode, "M_UNKNOWN_TOKEN");
        }
    }

    async function checkAftermath(l) {
        const id = l.leaver.getUserId();
        // alice's sdk client sees the leave; her /sync names the leaver's device list change.
        await waitForMembership(alice, l.shared, id, "leave");
        await waitUntil(async () => {
            const r = await sync(alice.getAccessToken(), { since: l.aliceSince });
            return (r.json.device_lists?.changed ?? []).includes(id) || (r.json.device_lists?.left ?? []).includes(id);
        }, { what: "alice's /sync names the leaver's device list change" });
        // The invite the leaver sent is withdrawn: carol is no longer invited.
        let withdrawal;
        await waitUntil(async () => {
            const r = await sync(carol.getAccessToken(), { since: l.carolSince });
            const left = r.json.rooms?.leave?.[l.own];
            const events = [...(left?.timeline?.events ?? []), ...(left?.state?.events ?? [])];
            withdrawal = events.find((e) => e.type === "m.room.member" && e.state_key === carol.getUserId() &&
                e.content.membership === "leave");
            return withdrawal !== undefined;
        }, { what: "carol's invite withdrawn" });
        assert.equal(withdrawal.sender, id, "the leaver's own server withdraws the invite in their name");
        const now = await sync(carol.getAccessToken());
        assert.ok(!(l.own in (now.json.rooms?.invite ?? {})), "carol is no longer invited");
        const devices = await srv.fetch("/_matrix/client/v3/keys/query", {
            token: alice.getAccessToken(), body: { device_keys: { [id]: [] } },
        });
        assert.deepEqual(Object.keys(devices.json.device_keys?.[id] ?? {}), [], "the leaver's devices are gone");
        // Their message is still in the records archive (the export is a BagIt bag: the
        // records are JSON Lines in its payload).
        const dir = mkdtempSync(join(tmpdir(), "despatch-leavers-export-"));
        scratch.push(dir);
        cli(["records", "export", "--data", srv.dataDir, "--key", srv.recordsKeyFile, "--out", join(dir, "b"),
            "--case", "LEAVERS-TEST", "--user", id]);
        const records = readFileSync(join(dir, "b", "data", "records.jsonl"), "utf8");
        assert.ok(records.includes(l.message), "the leaver's message is in the archive export");
    }

    test("an admin API deactivation ends every parked sync of the leaver within a second", async () => {
        const l = await makeLeaver("leaver-api");
        const t0 = performance.now();
        const r = await srv.fetch(`/_despatch/admin/v1/users/${encodeURIComponent(l.leaver.getUserId())}/deactivate`,
            { token: adminToken, body: { case_ref: "HR-2026-001" } });
        assert.equal(r.status, 200, r.text);
        await checkCutOff(l, t0);
        await checkAftermath(l);
        const audit = await srv.fetch("/_despatch/admin/v1/audit?limit=50", { token: adminToken });
        const entry = audit.json.entries.find((e) => e.action === "user.deactivate" && e.details?.user_id === l.leaver.getUserId());
        assert.ok(entry, "the deactivation is audited");
        assert.equal(entry.case_ref, "HR-2026-001");
        assert.match(entry.actor, /^@admin/);
    });

    test("`despatch user deactivate` beside the running server ends the leaver's syncs within a second", async () => {
        const l = await makeLeaver("leaver-cli");
        const t0 = performance.now();
        const out = cli(["user", "deactivate", l.leaver.getUserId(), "--case", "HR-2026-002", "--data", srv.dataDir]);
        assert.match(out, /deactivated/);
        await checkCutOff(l, t0);
        await checkAftermath(l);
        const audit = await srv.fetch("/_despatch/admin/v1/audit?limit=50", { token: adminToken });
        const entry = audit.json.entries.find((e) => e.action === "user.deactivate" && e.details?.user_id === l.leaver.getUserId());
        assert.ok(entry, "the CLI deactivation is audited");
        assert.match(entry.actor, /^cli:/);
        assert.equal(entry.details.via, "cli");
    });

    test("SCIM active:false (RFC 7644 PatchOp) ends the provisioned leaver's syncs within a second", async () => {
        const l = await makeLeaver("leaver-scim", { provisioned: true });
        const t0 = performance.now();
        const r = await scim("PATCH", `/Users/${l.leaver.scimId}`, {
            schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            Operations: [{ op: "replace", path: "active", value: false }],
        });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.active, false);
        await checkCutOff(l, t0);
        await checkAftermath(l);
        const audit = await srv.fetch("/_despatch/admin/v1/audit?limit=50", { token: adminToken });
        const entry = audit.json.entries.find((e) => e.action === "user.deactivate" && e.details?.user_id === l.leaver.getUserId());
        assert.equal(entry.actor, "scim:leavers-test");
    });
});
