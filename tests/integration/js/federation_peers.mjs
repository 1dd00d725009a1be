// What the federation tests share: a test CA and a certificate for 127.0.0.1 (made with the
// openssl command), a Despatch server that federates with them, the reference Synapse as a
// peer (from ../shared/peers/synapse, built once by its setup.sh), and the check that an
// event arrived encrypted and decrypted.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { http, startServer, waitUntil } from "./e2ee_helpers.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const MEGOLM = "m.megolm.v1.aes-sha2";

function openssl(cwd, ...args) {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/** A test CA (ca.pem, ca.key) and a certificate for 127.0.0.1 it signed (server.pem, server.key). */
export function makeCertificates(dir) {
  openssl(dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Despatch js test CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  writeFileSync(join(dir, "server.ext"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n" +
    "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n");
  openssl(dir, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1");
  openssl(dir, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
    "-out", "server.pem", "-days", "2", "-extfile", "server.ext");
}

/** Starts one federating Despatch named 127.0.0.1:<its federation port>, allowing `allow`. */
export async function startFederatingServer(certDir, fedPort, allow) {
  return startServer({
    serverName: `127.0.0.1:${fedPort}`,
    extraArgs: ["--federation-listen", `127.0.0.1:${fedPort}`, "--tls-cert", join(certDir, "server.pem"),
      "--tls-key", join(certDir, "server.key"), "--federation-allow", allow],
    configToml: `[federation]\nca_file = "${join(certDir, "ca.pem")}"\n`,
  });
}

export function assertDecrypted(ev, body, sender) {
  assert.equal(ev.isDecryptionFailure(), false, `decryption failed: ${ev.decryptionFailureReason}`);
  assert.equal(ev.getWireType(), "m.room.encrypted", "the event was not encrypted on the wire");
  assert.equal(ev.getWireContent().algorithm, MEGOLM);
  assert.equal(ev.getWireContent().body, undefined, "plaintext body in the wire content");
  assert.equal(ev.getType(), "m.room.message");
  assert.equal(ev.getContent().body, body);
  assert.equal(ev.getSender(), sender);
}


export const SYNAPSE_PEER = resolve(process.env.DESPATCH_PEERS || join(HERE, "..", "..", "..", "..", "shared", "peers", "synapse"));
const SYNAPSE_BUILD = process.env.DESPATCH_SYNAPSE_BUILD || "/tmp/despatch-synapse";

export function haveSynapse() {
  return existsSync(join(SYNAPSE_PEER, "start.sh"));
}

/**
 * Builds (once; later runs take under a second) and starts a Synapse 1.98 on loopback: the
 * client API on httpPort, federation over TLS on fedPort with the certificate from certDir's
 * CA, named 127.0.0.1:<fedPort>. Resolves to { baseUrl, serverName, stop() }.
 */
export async function startSynapse(certDir, dataDir, httpPort, fedPort) {
  execFileSync(join(SYNAPSE_PEER, "setup.sh"), [SYNAPSE_BUILD], { stdio: ["ignore", "ignore", "pipe"], timeout: 1800000 });
  mkdirSync(dataDir, { recursive: true });
  copyFileSync(join(certDir, "server.pem"), join(dataDir, "tls.crt"));
  copyFileSync(join(certDir, "server.key"), join(dataDir, "tls.key"));
  const serverName = `127.0.0.1:${fedPort}`;
  const out = execFileSync(join(SYNAPSE_PEER, "start.sh"), [SYNAPSE_BUILD, String(httpPort), dataDir, serverName],
    { stdio: ["ignore", "pipe", "pipe"], timeout: 240000 }).toString().trim().split("\n");
  const pid = Number(out[out.length - 1]);
  const baseUrl = `http://127.0.0.1:${httpPort}`;
  await waitUntil(async () => (await http(baseUrl, "GET", "/_matrix/client/versions")).status === 200,
    "Synapse to answer", { timeoutMs: 60000 });
  return {
    baseUrl, serverName, dataDir,
    async stop() {
      try { process.kill(pid, "SIGTERM"); } catch { return; }
      await waitUntil(async () => { try { process.kill(pid, 0); return false; } catch { return true; } },
        "Synapse to stop", { timeoutMs: 20000 }).catch(() => { try { process.kill(pid, "SIGKILL"); } catch {} });
    },
  };
}
