// A fediverse follower for the announcement tests, built with Fedify (a real ActivityPub
// server framework): an actor "reader" on http://127.0.0.1:PORT with an RSA key, whose
// inbox Fedify guards (it refuses activities without a valid HTTP signature from their
// actor). Every request to its inboxes is also checked here with Fedify's verifyRequest and
// recorded, so a test can assert that each activity it got was signed and by whom.
//
// @fedify/fedify 1.3.9 is the newest release that runs on the machine's Node 20 (1.4 and
// later declare node >= 22).

import http from "node:http";
import {
    Accept, Create, Delete, Endpoints, Follow, Note, Person, Undo, Update,
    createFederation, generateCryptoKeyPair, MemoryKvStore,
} from "@fedify/fedify";
import { verifyRequest } from "@fedify/fedify/sig";
import { getDocumentLoader } from "@fedify/fedify/runtime";

export class Follower {
    constructor() {
        this.received = [];   // {type, activity (JSON-LD as received), object} of verified activities
        this.requests = [];   // every POST to an inbox: {path, signed, keyId, verified, status}
        this.fetches = [];    // every GET: {path, signed, keyId, status}
        this.server = null;
        this.origin = null;
    }

    async start() {
        this.keys = await generateCryptoKeyPair("RSASSA-PKCS1-v1_5");
        this.loader = getDocumentLoader({ allowPrivateAddress: true });
        const fed = createFederation({ kv: new MemoryKvStore(), allowPrivateAddress: true });
        this.federation = fed;
        fed.setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
            if (identifier !== "reader") return null;
            const keys = await ctx.getActorKeyPairs(identifier);
            return new Person({
                id: ctx.getActorUri(identifier),
                preferredUsername: identifier,
                name: "A member of the public",
                inbox: ctx.getInboxUri(identifier),
                endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
                publicKey: keys[0]?.cryptographicKey,
            });
        }).setKeyPairsDispatcher(async (ctx, identifier) => (identifier === "reader" ? [this.keys] : []))
            // Secure mode ("authorized fetch", as some Mastodon servers run): the actor and
            // its key are served only to signed requests.
            .authorize(async (ctx, identifier, signedKey) => signedKey !== null);
        const record = (type) => async (ctx, activity) => {
            const object = await activity.getObject({ documentLoader: this.loader }).catch(() => null);
            this.received.push({
                type,
                activity: await activity.toJsonLd({ format: "compact" }),
                actorId: activity.actorId?.href,
                object,
            });
        };
        fed.setInboxListeners("/users/{identifier}/inbox", "/inbox")
            .on(Accept, record("Accept"))
            .on(Create, record("Create"))
            .on(Update, record("Update"))
            .on(Delete, record("Delete"));

        await this.listen(0);
        this.origin = `http://127.0.0.1:${this.port}`;
        this.actorId = `${this.origin}/users/reader`;
        return this;
    }

    /** Serves on port (0: any free one); after close(), the same port brings it back. */
    async listen(port) {
        this.server = http.createServer((req, res) => this.#handle(req, res));
        await new Promise((resolve) => this.server.listen(port, "127.0.0.1", resolve));
        this.port = this.server.address().port;
    }

    close() {
        const server = this.server;
        this.server = null;
        if (server) server.closeAllConnections();
        return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
    }

    async #handle(req, res) {
        const chunks = [];
        for await (const c of req) chunks.push(c);
        const body = Buffer.concat(chunks);
        const url = new URL(req.url, this.origin);
        const headers = new Headers();
        for (const [k, v] of Object.entries(req.headers)) headers.set(k, Array.isArray(v) ? v.join(", ") : v);
        const init = { method: req.method, headers, body: req.method === "GET" || req.method === "HEAD" ? undefined : body };
        const request = new Request(url, init);
        let entry = null;
        if (req.method === "POST") {
            const sig = headers.get("signature");
            const key = await verifyRequest(request.clone(), { documentLoader: this.loader, contextLoader: this.loader })
                .catch(() => null);
            entry = { path: url.pathname, signed: !!sig, keyId: key?.id?.href ?? null, owner: key?.ownerId?.href ?? null,
                      verified: !!key, body: body.toString("utf8") };
            this.requests.push(entry);
        }
        if (req.method === "GET") {
            const sig = headers.get("signature");
            const key = sig ? await verifyRequest(request.clone(), { documentLoader: this.loader, contextLoader: this.loader })
                .catch(() => null) : null;
            entry = { path: url.pathname, signed: !!sig, keyId: key?.id?.href ?? null, verified: !!key };
            this.fetches.push(entry);
        }
        const response = await this.federation.fetch(request, { contextData: undefined });
        if (entry) entry.status = response.status;
        res.writeHead(response.status, Object.fromEntries(response.headers));
        res.end(Buffer.from(await response.arrayBuffer()));
    }

    context() {
        return this.federation.createContext(new URL(this.origin), undefined);
    }

    /** Fedify's own lookup of an actor by its URL (checks the document is an ActivityPub actor). */
    async lookup(url) {
        return await this.context().lookupObject(url);
    }

    async follow(actor, id = `${this.origin}/follows/${Date.now()}`) {
        const ctx = this.context();
        const follow = new Follow({ id: new URL(id), actor: ctx.getActorUri("reader"), object: actor.id });
        await ctx.sendActivity({ identifier: "reader" }, actor, follow);
        return follow;
    }

    async unfollow(actor, follow) {
        const ctx = this.context();
        const undo = new Undo({ id: new URL(`${follow.id.href}/undo`), actor: ctx.getActorUri("reader"), object: follow });
        await ctx.sendActivity({ identifier: "reader" }, actor, undo);
    }

    /** The JSON-LD of a Follow, for tests that post it by hand (unsigned or forged). */
    async followJson(actorUrl) {
        const f = new Follow({ id: new URL(`${this.origin}/follows/hand-${Date.now()}`), actor: new URL(this.actorId),
                               object: new URL(actorUrl) });
        return await f.toJsonLd();
    }

    stop() {
        return this.close();
    }
}

export { Note };
