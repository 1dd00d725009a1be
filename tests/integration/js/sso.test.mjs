// Single sign-on end to end: a real OpenID Connect provider (the npm package oidc-provider,
// with its built-in login and consent pages and one test account) on a loopback port, a
// real Despatch server configured for it, and Chromium (playwright-core) walking the whole
// redirect dance: the legacy m.login.sso flow Element Web uses, and the OAuth 2.0 API (spec
// v1.15) with PKCE S256, refresh token rotation and revocation. The provider sits behind a
// small proxy that can tamper with the ID token it returns.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { mkdtemp, writeFile, rm } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import Provider from "oidc-provider";
import { DESPATCH_BIN, ServerContext, freePort } from "./harness.mjs";

const CLIENT_ID = "despatch";
const CLIENT_SECRET = "a client secret for the tests only";
// The provider's directory: login name -> claims.
const ACCOUNTS = {
    "alice.sso": { name: "Alice Single-Sign-On", email: "alice@dept.example" },
    "bob.sso": { name: "Bob Sso", email: "bob@dept.example" },
    "carol.sso": { name: "Carol Sso", email: "carol@dept.example" },
    "+447700900123": { name: "A Phone Number", email: "phone@dept.example" },
};

const b64url = (buf) => Buffer.from(buf).toString("base64url");

function listen(server, port) {
    return new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
}

/** The provider behind a proxy: the issuer is the proxy's URL; tamper() corrupts ID tokens. */
async function startProvider(despatchCallback) {
    const providerPort = await freePort();
    const proxyPort = await freePort();
    const issuer = `http://127.0.0.1:${proxyPort}`;
    const provider = new Provider(issuer, {
        clients: [{
            client_id: CLIENT_ID,
            client_secret: CLIENT_SECRET,
            redirect_uris: [despatchCallback],
            grant_types: ["authorization_code"],
            response_types: ["code"],
            token_endpoint_auth_method: "client_secret_basic",
        }],
        claims: { openid: ["sub"], profile: ["name", "preferred_username"], email: ["email"] },
        // Profile claims only at the userinfo endpoint (the provider's default, as OpenID
        // Connect Core 5.4 has it): Despatch must ask there for the localpart and name.
        findAccount: async (_ctx, sub) => {
            if (!ACCOUNTS[sub]) return undefined;
            return { accountId: sub, claims: async () => ({ sub, preferred_username: sub, ...ACCOUNTS[sub] }) };
        },
        cookies: { keys: ["test cookie key, tests only"] },
        features: { devInteractions: { enabled: true } },
    });
    provider.proxy = false;
    const backend = http.createServer(provider.callback());
    await listen(backend, providerPort);
    const state = { tamper: false, tokenRequests: 0, userinfoRequests: 0 };
    const proxy = http.createServer((req, res) => {
        const chunks = [];
        req.on("data", (c) => chunks.push(c));
        req.on("end", () => {
            const up = http.request({ host: "127.0.0.1", port: providerPort, path: req.url, method: req.method, headers: req.headers }, (ur) => {
                const body = [];
                ur.on("data", (c) => body.push(c));
                ur.on("end", () => {
                    let out = Buffer.concat(body);
                    const headers = { ...ur.headers };
                    if (req.url.startsWith("/me")) state.userinfoRequests += 1;
                    if (req.url.startsWith("/token")) {
                        state.tokenRequests += 1;
                        if (state.tamper && ur.statusCode === 200) {
                            // Keep header and signature, change who the token names.
                            const json = JSON.parse(out.toString());
                            const [h, p, s] = json.id_token.split(".");
                            const claims = JSON.parse(Buffer.from(p, "base64url").toString());
                            claims.preferred_username = "root";
                            claims.sub = "someone-else";
                            json.id_token = [h, b64url(JSON.stringify(claims)), s].join(".");
                            out = Buffer.from(JSON.stringify(json));
                        }
                    }
                    headers["content-length"] = String(out.length);
                    delete headers["transfer-encoding"];
                    res.writeHead(ur.statusCode, headers);
                    res.end(out);
                });
            });
            up.on("error", (e) => { res.writeHead(502); res.end(String(e)); });
            up.end(Buffer.concat(chunks));
        });
    });
    await listen(proxy, proxyPort);
    return {
        issuer, proxyPort, state,
        close: () => { backend.close(); proxy.close(); backend.closeAllConnections?.(); proxy.closeAllConnections?.(); },
    };
}

async function despatchFor(issuer, dir, extraToml = "") {
    const ctx = new ServerContext({});
    ctx.port = await freePort();
    const secret = path.join(dir, `secret-${ctx.port}`);
    await writeFile(secret, CLIENT_SECRET + "\n", { mode: 0o600 });
    const cfg = path.join(dir, `despatch-${ctx.port}.toml`);
    await writeFile(cfg, `[oidc]\nissuer = "${issuer}"\nclient_id = "${CLIENT_ID}"\nclient_secret_file = "${secret}"\n` +
        `idp_name = "Department sign-in"\naccess_token_seconds = 10\ntrusted_client_hosts = ["127.0.0.1"]\n\n[login]\npassword_for_sso_users = false\n${extraToml}`);
    ctx.extraArgs = ["--config", cfg];
    return ctx;
}

/** A page the browser lands on at the end: records every URL asked for. */
async function startLanding() {
    const port = await freePort();
    const seen = [];
    const server = http.createServer((req, res) => {
        seen.push(`http://127.0.0.1:${port}${req.url}`);
        res.writeHead(200, { "Content-Type": "text/html" });
        res.end("<!doctype html><title>Back at the client</title><p>signed in</p>");
    });
    await listen(server, port);
    return { port, seen, close: () => { server.close(); server.closeAllConnections?.(); } };
}

/** Logs in at the provider's own pages (login form, then consent) wherever they appear. */
async function providerLogin(page, issuer, login) {
    await page.waitForURL((u) => u.href.startsWith(issuer + "/interaction/"), { timeout: 15000 });
    const form = page.locator('input[name="login"]');
    if (await form.count()) {
        await form.fill(login);
        await page.locator('input[name="password"]').fill("whatever the provider checks");
        await page.getByRole("button", { name: "Sign-in" }).click();
    }
    // Consent (the provider remembers no grant for this client yet).
    await page.waitForURL((u) => u.href.startsWith(issuer + "/interaction/"), { timeout: 15000 });
    await page.getByRole("button", { name: "Continue" }).click();
}

function form(params) {
    return { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(params).toString() };
}

describe("single sign-on against a real OpenID Connect provider", () => {
    let dir, idp, ctx, landing, browser;

    before(async () => {
        dir = await mkdtemp(path.join(tmpdir(), "despatch-sso-"));
        landing = await startLanding();
        const port = await freePort();
        idp = await startProvider(`http://127.0.0.1:${port}/_despatch/oidc/callback`);
        ctx = await despatchFor(idp.issuer, dir);
        ctx.port = port;
        await ctx.start();
        browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
    });

    after(async () => {
        await browser?.close();
        await ctx?.shutdown();
        idp?.close();
        landing?.close();
        if (dir) await rm(dir, { recursive: true, force: true });
    });

    const tokenEndpoint = () => `${ctx.baseUrl}/_despatch/oauth2/token`;

    /** The legacy flow in a fresh browser context; the URL the browser ends on. */
    async function legacyLogin(login, screenshot) {
        const context = await browser.newContext();
        try {
            const page = await context.newPage();
            const back = `http://127.0.0.1:${landing.port}/element?after=sso`;
            await page.goto(`${ctx.baseUrl}/_matrix/client/v3/login/sso/redirect/oidc?redirectUrl=${encodeURIComponent(back)}`);
            await providerLogin(page, idp.issuer, login);
            await page.waitForURL((u) => u.href.startsWith(back) || u.href.startsWith(ctx.baseUrl), { timeout: 15000 });
            await page.waitForLoadState();
            // For review: the page a refused sign-in ends on.
            if (screenshot) await page.screenshot({ path: path.join(tmpdir(), screenshot), fullPage: true });
            return { url: new URL(page.url()), text: await page.locator("body").textContent() };
        } finally {
            await context.close();
        }
    }

    it("advertises m.login.sso with its identity provider, and m.login.token", async () => {
        const res = await ctx.fetch("/_matrix/client/v3/login");
        assert.equal(res.status, 200);
        const types = res.json.flows.map((f) => f.type);
        assert.deepEqual(types, ["m.login.password", "m.login.sso", "m.login.token"]);
        const sso = res.json.flows.find((f) => f.type === "m.login.sso");
        assert.deepEqual(sso.identity_providers, [{ id: "oidc", name: "Department sign-in", brand: "oidc" }]);
        const unknown = await ctx.fetch("/_matrix/client/v3/login/sso/redirect/nope?redirectUrl=http://127.0.0.1/");
        assert.equal(unknown.status, 404);
        const missing = await ctx.fetch("/_matrix/client/v3/login/sso/redirect");
        assert.equal(missing.status, 400);
        assert.equal(missing.json.errcode, "M_MISSING_PARAM");
    });

    it("legacy SSO: Chromium through the provider's login and consent, back with a loginToken that logs in once", async () => {
        const { url } = await legacyLogin("alice.sso");
        assert.equal(idp.state.tokenRequests, 1, "the code was redeemed once");
        assert.equal(idp.state.userinfoRequests, 1, "the profile claims came from userinfo");
        assert.equal(url.pathname, "/element");
        assert.equal(url.searchParams.get("after"), "sso");
        const loginToken = url.searchParams.get("loginToken");
        assert.ok(loginToken, `no loginToken in ${url}`);
        const login = await ctx.fetch("/_matrix/client/v3/login", { body: { type: "m.login.token", token: loginToken, initial_device_display_name: "Element Web" } });
        assert.equal(login.status, 200, login.text);
        assert.equal(login.json.user_id, "@alice.sso:localhost");
        const token = login.json.access_token;
        const whoami = await ctx.fetch("/_matrix/client/v3/account/whoami", { token });
        assert.equal(whoami.json.user_id, "@alice.sso:localhost");
        const sync = await ctx.fetch("/_matrix/client/v3/sync", { token, query: { timeout: 0 } });
        assert.equal(sync.status, 200);
        assert.ok(sync.json.next_batch);
        const room = await ctx.fetch("/_matrix/client/v3/createRoom", { token, body: { name: "made after SSO" } });
        assert.equal(room.status, 200, room.text);
        const profile = await ctx.fetch("/_matrix/client/v3/profile/%40alice.sso%3Alocalhost/displayname");
        assert.equal(profile.json.displayname, "Alice Single-Sign-On");
        // Single use.
        const again = await ctx.fetch("/_matrix/client/v3/login", { body: { type: "m.login.token", token: loginToken } });
        assert.equal(again.status, 403);
        assert.equal(again.json.errcode, "M_FORBIDDEN");
        const bogus = await ctx.fetch("/_matrix/client/v3/login", { body: { type: "m.login.token", token: "dsl_nothing" } });
        assert.equal(bogus.status, 403);
        // The second login finds the same account.
        const second = await legacyLogin("alice.sso");
        const relogin = await ctx.fetch("/_matrix/client/v3/login", { body: { type: "m.login.token", token: second.url.searchParams.get("loginToken") } });
        assert.equal(relogin.json.user_id, "@alice.sso:localhost");
    });

    it("asks before a login token goes to a client host that is not trusted", async () => {
        const context = await browser.newContext();
        try {
            const page = await context.newPage();
            const back = `http://localhost:${landing.port}/phishing`;
            await page.goto(`${ctx.baseUrl}/_matrix/client/v3/login/sso/redirect?redirectUrl=${encodeURIComponent(back)}`);
            await providerLogin(page, idp.issuer, "alice.sso");
            await page.waitForURL((u) => u.href.startsWith(`${ctx.baseUrl}/_despatch/oidc/callback`), { timeout: 15000 });
            assert.equal(await page.title(), "Continue to localhost?");
            assert.match(await page.locator("body").textContent(), /You signed in as @alice\.sso:localhost/);
            assert.ok(!landing.seen.some((u) => u.includes("/phishing")), "nothing reached the client before the user agreed");
            await page.getByRole("link", { name: "Continue to localhost" }).click();
            await page.waitForURL((u) => u.href.startsWith(back), { timeout: 15000 });
            const token = new URL(page.url()).searchParams.get("loginToken");
            const login = await ctx.fetch("/_matrix/client/v3/login", { body: { type: "m.login.token", token } });
            assert.equal(login.json.user_id, "@alice.sso:localhost");
        } finally {
            await context.close();
        }
    });

    it("never makes an account from a phone number", async () => {
        const { url, text } = await legacyLogin("+447700900123");
        assert.ok(url.href.startsWith(`${ctx.baseUrl}/_despatch/oidc/callback`), url.href);
        assert.match(text, /looks like a phone number/);
    });

    it("refuses password login for accounts SSO made; despatch user add accounts keep it", async () => {
        const sso = await ctx.fetch("/_matrix/client/v3/login", { body: { type: "m.login.password", identifier: { type: "m.id.user", user: "alice.sso" }, password: "anything at all" } });
        assert.equal(sso.status, 403);
        assert.equal(sso.json.errcode, "M_FORBIDDEN");
        assert.match(sso.json.error, /single sign-on/);
        const pwFile = path.join(dir, "local.pw");
        await writeFile(pwFile, "a local password\n");
        const add = spawnSync(DESPATCH_BIN, ["user", "add", "localadmin", "--password-file", pwFile, "--data", ctx.dataDir], { encoding: "utf8" });
        assert.equal(add.status, 0, add.stdout + add.stderr);
        const local = await ctx.fetch("/_matrix/client/v3/login", { body: { type: "m.login.password", identifier: { type: "m.id.user", user: "localadmin" }, password: "a local password" } });
        assert.equal(local.status, 200, local.text);
        assert.equal(local.json.user_id, "@localadmin:localhost");
        // The account SSO made is in the audit log, with the identity it belongs to.
        const root = spawnSync(DESPATCH_BIN, ["user", "add", "auditor", "--admin", "--password-file", pwFile, "--data", ctx.dataDir], { encoding: "utf8" });
        assert.equal(root.status, 0, root.stdout + root.stderr);
        const admin = await ctx.fetch("/_matrix/client/v3/login", { body: { type: "m.login.password", identifier: { type: "m.id.user", user: "auditor" }, password: "a local password" } });
        const audit = await ctx.fetch("/_despatch/admin/v1/audit", { token: admin.json.access_token, query: { limit: 1000 } });
        assert.equal(audit.status, 200, audit.text);
        const made = audit.json.entries.filter((e) => e.action === "user.sso_created").map((e) => [e.actor, e.details?.claim]);
        assert.deepEqual(made, [["@alice.sso:localhost", "alice.sso"]]);
    });

    it("user-interactive auth for an SSO account goes through m.login.sso and its fallback page", async () => {
        const tokens = [];
        for (let i = 0; i < 2; i++) {
            const { url } = await legacyLogin("alice.sso");
            const login = await ctx.fetch("/_matrix/client/v3/login", { body: { type: "m.login.token", token: url.searchParams.get("loginToken") } });
            assert.equal(login.status, 200, login.text);
            tokens.push(login.json);
        }
        const [mine, other] = tokens;
        const del = `/_matrix/client/v3/devices/${encodeURIComponent(other.device_id)}`;
        const first = await ctx.fetch(del, { method: "DELETE", token: mine.access_token, body: {} });
        assert.equal(first.status, 401);
        assert.deepEqual(first.json.flows, [{ stages: ["m.login.sso"] }]);
        const session = first.json.session;
        const early = await ctx.fetch(del, { method: "DELETE", token: mine.access_token, body: { auth: { type: "m.login.sso", session } } });
        assert.equal(early.status, 401, "not done before the sign-in");
        const fresh = await ctx.fetch(del, { method: "DELETE", token: mine.access_token, body: {} });
        const context = await browser.newContext();
        try {
            const page = await context.newPage();
            await page.goto(`${ctx.baseUrl}/_matrix/client/v3/auth/m.login.sso/fallback/web?session=${encodeURIComponent(fresh.json.session)}`);
            await providerLogin(page, idp.issuer, "alice.sso");
            await page.waitForURL((u) => u.href.startsWith(`${ctx.baseUrl}/_despatch/oidc/callback`), { timeout: 15000 });
            assert.equal(await page.title(), "Authentication complete");
        } finally {
            await context.close();
        }
        const done = await ctx.fetch(del, { method: "DELETE", token: mine.access_token, body: { auth: { type: "m.login.sso", session: fresh.json.session } } });
        assert.equal(done.status, 200, done.text);
        const gone = await ctx.fetch("/_matrix/client/v3/account/whoami", { token: other.access_token });
        assert.equal(gone.status, 401);
        // A session serves one request.
        const reuse = await ctx.fetch(`/_matrix/client/v3/devices/${encodeURIComponent(mine.device_id)}`, { method: "DELETE", token: mine.access_token, body: { auth: { type: "m.login.sso", session: fresh.json.session } } });
        assert.equal(reuse.status, 401);
        const unknown = await ctx.fetch("/_matrix/client/v3/auth/m.login.sso/fallback/web", { query: { session: "nope" } });
        assert.equal(unknown.status, 404);
        // With password login off for SSO accounts, they cannot set a password either.
        const pw = await ctx.fetch("/_matrix/client/v3/account/password", { token: mine.access_token, body: { new_password: "a brand new password" } });
        assert.equal(pw.status, 401, "user-interactive auth first");
        const pwSession = pw.json.session;
        const pwContext = await browser.newContext();
        try {
            const page = await pwContext.newPage();
            await page.goto(`${ctx.baseUrl}/_matrix/client/v3/auth/m.login.sso/fallback/web?session=${encodeURIComponent(pwSession)}`);
            await providerLogin(page, idp.issuer, "alice.sso");
            await page.waitForURL((u) => u.href.startsWith(`${ctx.baseUrl}/_despatch/oidc/callback`), { timeout: 15000 });
        } finally {
            await pwContext.close();
        }
        const refused = await ctx.fetch("/_matrix/client/v3/account/password", { token: mine.access_token, body: { new_password: "a brand new password", auth: { type: "m.login.sso", session: pwSession } } });
        assert.equal(refused.status, 403);
        assert.equal(refused.json.errcode, "M_FORBIDDEN");
        assert.match(refused.json.error, /single sign-on/);
    });

    it("publishes the OAuth 2.0 server metadata and checks client registrations", async () => {
        const meta = await ctx.fetch("/_matrix/client/v1/auth_metadata");
        assert.equal(meta.status, 200);
        const unstable = await ctx.fetch("/_matrix/client/unstable/org.matrix.msc2965/auth_metadata");
        assert.deepEqual(unstable.json, meta.json);
        assert.equal(meta.json.issuer, `${ctx.baseUrl}/`);
        assert.equal(meta.json.authorization_endpoint, `${ctx.baseUrl}/_despatch/oauth2/authorize`);
        assert.equal(meta.json.token_endpoint, tokenEndpoint());
        assert.ok(meta.json.registration_endpoint && meta.json.revocation_endpoint);
        assert.deepEqual(meta.json.response_types_supported, ["code"]);
        assert.deepEqual(meta.json.grant_types_supported, ["authorization_code", "refresh_token"]);
        assert.deepEqual(meta.json.response_modes_supported, ["query", "fragment"]);
        assert.deepEqual(meta.json.code_challenge_methods_supported, ["S256"]);
        assert.ok(Array.isArray(meta.json.prompt_values_supported));
        const bad = await ctx.fetch("/_despatch/oauth2/register", { body: { client_uri: "https://client.example/", redirect_uris: ["http://client.example/cb"] } });
        assert.equal(bad.status, 400);
        assert.equal(bad.json.error, "invalid_redirect_uri");
        const noUri = await ctx.fetch("/_despatch/oauth2/register", { body: { redirect_uris: ["https://client.example/cb"] } });
        assert.equal(noUri.json.error, "invalid_client_metadata");
    });

    /** Registers a native client, authorizes in Chromium, and returns the token response. */
    async function oauthLogin(login, deviceId) {
        const reg = await ctx.fetch("/_despatch/oauth2/register", {
            body: {
                client_name: "Element X (test)", client_uri: "https://client.example/", application_type: "native",
                redirect_uris: ["http://127.0.0.1/callback"], token_endpoint_auth_method: "none",
                response_types: ["code"], grant_types: ["authorization_code", "refresh_token"],
            },
        });
        assert.equal(reg.status, 201, reg.text);
        const clientId = reg.json.client_id;
        const verifier = b64url(randomBytes(48));
        const challenge = b64url(createHash("sha256").update(verifier).digest());
        const state = b64url(randomBytes(12));
        const redirectUri = `http://127.0.0.1:${landing.port}/callback`;
        const auth = new URL(`${ctx.baseUrl}/_despatch/oauth2/authorize`);
        for (const [k, v] of Object.entries({
            response_type: "code", client_id: clientId, redirect_uri: redirectUri, response_mode: "query",
            scope: `urn:matrix:client:api:* urn:matrix:client:device:${deviceId}`, state,
            code_challenge: challenge, code_challenge_method: "S256",
        })) auth.searchParams.set(k, v);
        const context = await browser.newContext();
        let back;
        try {
            const page = await context.newPage();
            await page.goto(auth.href);
            await providerLogin(page, idp.issuer, login);
            await page.waitForURL((u) => u.href.startsWith(redirectUri), { timeout: 15000 });
            back = new URL(page.url());
        } finally {
            await context.close();
        }
        assert.equal(back.searchParams.get("state"), state);
        const code = back.searchParams.get("code");
        assert.ok(code, `no code in ${back}`);
        const wrong = await fetch(tokenEndpoint(), form({ grant_type: "authorization_code", code: "not-a-code", redirect_uri: redirectUri, client_id: clientId, code_verifier: verifier }));
        assert.equal(wrong.status, 400);
        assert.equal((await wrong.json()).error, "invalid_grant");
        const res = await fetch(tokenEndpoint(), form({ grant_type: "authorization_code", code, redirect_uri: redirectUri, client_id: clientId, code_verifier: verifier }));
        const body = await res.json();
        assert.equal(res.status, 200, JSON.stringify(body));
        assert.equal(res.headers.get("cache-control"), "no-store");
        // A code works once.
        const reuse = await fetch(tokenEndpoint(), form({ grant_type: "authorization_code", code, redirect_uri: redirectUri, client_id: clientId, code_verifier: verifier }));
        assert.equal(reuse.status, 400);
        return { ...body, clientId };
    }

    const refresh = (refreshToken, clientId) =>
        fetch(tokenEndpoint(), form({ grant_type: "refresh_token", refresh_token: refreshToken, client_id: clientId }));

    it("OAuth 2.0: PKCE code flow in Chromium, tokens that work everywhere, refresh with rotation, revocation", async () => {
        const t = await oauthLogin("bob.sso", "BOBDEVICE01");
        assert.equal(t.token_type, "Bearer");
        assert.equal(t.scope, "urn:matrix:client:api:* urn:matrix:client:device:BOBDEVICE01");
        const whoami = await ctx.fetch("/_matrix/client/v3/account/whoami", { token: t.access_token });
        assert.equal(whoami.status, 200);
        assert.deepEqual([whoami.json.user_id, whoami.json.device_id], ["@bob.sso:localhost", "BOBDEVICE01"]);
        const devices = await ctx.fetch("/_matrix/client/v3/devices", { token: t.access_token });
        assert.deepEqual(devices.json.devices.map((d) => [d.device_id, d.display_name]), [["BOBDEVICE01", "Element X (test)"]]);
        const sync = await ctx.fetch("/_matrix/client/v3/sync", { token: t.access_token, query: { timeout: 0 } });
        assert.equal(sync.status, 200);
        const keys = await ctx.fetch("/_matrix/client/v3/keys/upload", { token: t.access_token, body: { one_time_keys: {} } });
        assert.equal(keys.status, 200);

        const r1 = await refresh(t.refresh_token, t.clientId);
        const t2 = await r1.json();
        assert.equal(r1.status, 200, JSON.stringify(t2));
        assert.notEqual(t2.access_token, t.access_token);
        assert.notEqual(t2.refresh_token, t.refresh_token);
        const old = await ctx.fetch("/_matrix/client/v3/account/whoami", { token: t.access_token });
        assert.equal(old.status, 401);
        assert.equal(old.json.errcode, "M_UNKNOWN_TOKEN");
        const fresh = await ctx.fetch("/_matrix/client/v3/account/whoami", { token: t2.access_token });
        assert.equal(fresh.json.device_id, "BOBDEVICE01");

        const revoke = await fetch(`${ctx.baseUrl}/_despatch/oauth2/revoke`, form({ token: t2.access_token, token_type_hint: "access_token", client_id: t.clientId }));
        assert.equal(revoke.status, 200);
        const dead = await ctx.fetch("/_matrix/client/v3/account/whoami", { token: t2.access_token });
        assert.equal(dead.status, 401);
        assert.equal(dead.json.errcode, "M_UNKNOWN_TOKEN");
        const deadRefresh = await refresh(t2.refresh_token, t.clientId);
        assert.equal(deadRefresh.status, 400);
        assert.equal((await deadRefresh.json()).error, "invalid_grant");
        // Revoking again, or a token never issued, is still 200 (RFC 7009 2.2).
        const twice = await fetch(`${ctx.baseUrl}/_despatch/oauth2/revoke`, form({ token: t2.access_token }));
        assert.equal(twice.status, 200);
    });

    it("OAuth 2.0: an old refresh token is refused once its successor was used, and ends the session", async () => {
        const t = await oauthLogin("bob.sso", "BOBDEVICE02");
        const t2 = await (await refresh(t.refresh_token, t.clientId)).json();
        const r3 = await refresh(t2.refresh_token, t.clientId);
        const t3 = await r3.json();
        assert.equal(r3.status, 200, JSON.stringify(t3));
        const reuse = await refresh(t.refresh_token, t.clientId);
        assert.equal(reuse.status, 400);
        const err = await reuse.json();
        assert.equal(err.error, "invalid_grant");
        assert.match(err.error_description, /already used/);
        const after = await ctx.fetch("/_matrix/client/v3/account/whoami", { token: t3.access_token });
        assert.equal(after.status, 401);
        assert.equal(after.json.errcode, "M_UNKNOWN_TOKEN");
        assert.equal((await refresh(t3.refresh_token, t.clientId)).status, 400);
        // Revoking by refresh token ends that session too.
        const t4 = await oauthLogin("bob.sso", "BOBDEVICE03");
        const revoke = await fetch(`${ctx.baseUrl}/_despatch/oauth2/revoke`, form({ token: t4.refresh_token, token_type_hint: "refresh_token" }));
        assert.equal(revoke.status, 200);
        const gone = await ctx.fetch("/_matrix/client/v3/account/whoami", { token: t4.access_token });
        assert.equal(gone.status, 401);
        assert.equal(gone.json.errcode, "M_UNKNOWN_TOKEN");
    });

    it("OAuth 2.0: a refresh whose answer was lost may be retried with the old token", async () => {
        const t = await oauthLogin("bob.sso", "BOBDEVICE04");
        const lost = await (await refresh(t.refresh_token, t.clientId)).json();
        const retry = await refresh(t.refresh_token, t.clientId);
        const t2 = await retry.json();
        assert.equal(retry.status, 200, JSON.stringify(t2));
        assert.notEqual(t2.refresh_token, lost.refresh_token);
        assert.equal((await refresh(lost.refresh_token, t.clientId)).status, 400, "the unused successor is dropped");
        assert.equal((await ctx.fetch("/_matrix/client/v3/account/whoami", { token: lost.access_token })).status, 401);
        const ok = await ctx.fetch("/_matrix/client/v3/account/whoami", { token: t2.access_token });
        assert.equal(ok.json.device_id, "BOBDEVICE04");
    });

    it("OAuth 2.0: access tokens expire (soft logout) and the refresh token renews them", async () => {
        const t = await oauthLogin("carol.sso", "CAROLDEV01");
        assert.equal(t.expires_in, 10);
        assert.equal((await ctx.fetch("/_matrix/client/v3/account/whoami", { token: t.access_token })).status, 200);
        await new Promise((r) => setTimeout(r, 10_500));
        const expired = await ctx.fetch("/_matrix/client/v3/account/whoami", { token: t.access_token });
        assert.equal(expired.status, 401);
        assert.equal(expired.json.errcode, "M_UNKNOWN_TOKEN");
        assert.equal(expired.json.soft_logout, true);
        const r = await refresh(t.refresh_token, t.clientId);
        const t2 = await r.json();
        assert.equal(r.status, 200, JSON.stringify(t2));
        const again = await ctx.fetch("/_matrix/client/v3/account/whoami", { token: t2.access_token });
        assert.deepEqual([again.status, again.json.user_id, again.json.device_id], [200, "@carol.sso:localhost", "CAROLDEV01"]);
    });

    it("OAuth 2.0: bad authorization requests are refused", async () => {
        const noClient = await fetch(`${ctx.baseUrl}/_despatch/oauth2/authorize?client_id=nobody&redirect_uri=http://127.0.0.1/cb`, { redirect: "manual" });
        assert.equal(noClient.status, 400);
        const reg = await ctx.fetch("/_despatch/oauth2/register", { body: { client_uri: "https://client.example/", application_type: "native", redirect_uris: ["http://127.0.0.1/callback"] } });
        const base = `${ctx.baseUrl}/_despatch/oauth2/authorize?client_id=${reg.json.client_id}&response_type=code&state=s1`;
        const elsewhere = await fetch(`${base}&redirect_uri=${encodeURIComponent("http://127.0.0.1:9/other")}`, { redirect: "manual" });
        assert.equal(elsewhere.status, 400, "an unregistered redirect URI gets a page, never a redirect");
        const cb = encodeURIComponent(`http://127.0.0.1:${landing.port}/callback`);
        const noPkce = await fetch(`${base}&redirect_uri=${cb}&scope=urn:matrix:client:api:*+urn:matrix:client:device:X1234`, { redirect: "manual" });
        assert.equal(noPkce.status, 302);
        const loc = new URL(noPkce.headers.get("location"));
        assert.equal(loc.searchParams.get("error"), "invalid_request");
        assert.equal(loc.searchParams.get("state"), "s1");
        const twoDevices = await fetch(`${base}&redirect_uri=${cb}&code_challenge=${"a".repeat(43)}&code_challenge_method=S256&scope=urn:matrix:client:api:*+urn:matrix:client:device:A1+urn:matrix:client:device:B2`, { redirect: "manual" });
        assert.equal(new URL(twoDevices.headers.get("location")).searchParams.get("error"), "invalid_scope");
    });

    it("refuses a tampered ID token with a clear error", async () => {
        idp.state.tamper = true;
        try {
            const { url, text } = await legacyLogin("carol.sso", "despatch-sso-tampered.png");
            assert.ok(url.href.startsWith(`${ctx.baseUrl}/_despatch/oidc/callback`), url.href);
            assert.equal(url.searchParams.get("loginToken"), null);
            assert.match(text, /ID token refused: bad signature/);
        } finally {
            idp.state.tamper = false;
        }
        const nobody = await ctx.fetch("/_matrix/client/v3/profile/%40root%3Alocalhost");
        assert.equal(nobody.status, 404);
    });

    it("refuses a provider whose discovery document names another issuer", async () => {
        // The same provider under another name for the same address: its document says 127.0.0.1.
        const wrongIssuer = `http://localhost:${idp.proxyPort}`;
        const other = await despatchFor(wrongIssuer, dir);
        await other.start();
        try {
            const res = await fetch(`${other.baseUrl}/_matrix/client/v3/login/sso/redirect?redirectUrl=${encodeURIComponent("http://127.0.0.1/x")}`, { redirect: "manual" });
            assert.equal(res.status, 502);
            assert.match(await res.text(), /wrong issuer: the discovery document says &quot;http:\/\/127\.0\.0\.1:\d+&quot;/);
        } finally {
            await other.shutdown();
        }
    });
});
