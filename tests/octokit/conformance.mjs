#!/usr/bin/env node
// Conformance check: an unmodified @octokit/rest + @octokit/auth-app client
// against patgate, with every body validated against GitHub's own OpenAPI
// schemas (vendored in ./github-schemas.json by ./vendor-schemas.mjs).
//
//   cd tests/octokit && npm ci && node conformance.mjs
//
// Environment:
//   PATGATE_BIN        server binary (default ../../target/debug/patgate,
//                      relative to this folder)
//   PATGATE_KEEP_TMP=1 keep the temporary data dir (printed at the end)
//   PATGATE_SHOW_LOG=1 always print the tail of the server log
//
// Output: one "ok - ..." / "not ok - ..." line per check (details of a failure
// on following lines starting with "  # "), then "N passed, M failed".
// Exit code 1 when anything failed.

import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Octokit } from "@octokit/rest";
import { createAppAuth } from "@octokit/auth-app";
import { loadSchemas } from "./schemas.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(HERE, "../..");
const BIN = process.env.PATGATE_BIN
  ? resolve(process.cwd(), process.env.PATGATE_BIN)
  : resolve(HERE, "../../target/debug/patgate");
const STARTUP_TIMEOUT_MS = 60_000;
const REQUEST_TIMEOUT_MS = 20_000;
const WATCHDOG_MS = 300_000;
const UNKNOWN_ORG = "no-such-org";

// ===================================================================== report
let passed = 0;
let failed = 0;
const failedNames = [];

function j(value, max = 400) {
  let s;
  try {
    s = JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? `${v}n` : v));
  } catch {
    s = String(value);
  }
  if (s === undefined) s = String(value);
  return s.length > max ? `${s.slice(0, max)}…(${s.length} chars)` : s;
}

function emit(ok, name, details = []) {
  if (ok) passed++;
  else {
    failed++;
    failedNames.push(name);
  }
  console.log(`${ok ? "ok" : "not ok"} - ${name}`);
  for (const d of details) {
    for (const line of String(d).split("\n")) console.log(`  # ${line}`);
  }
}

// Every HTTP exchange octokit makes goes through this fetch, so a failing
// check can show exactly which requests it made.
const trace = [];
async function tracingFetch(url, init = {}) {
  const entry = { method: (init.method || "GET").toUpperCase(), url: String(url), status: "(no response)" };
  trace.push(entry);
  const signal = init.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  const res = await fetch(url, { ...init, signal });
  entry.status = res.status;
  return res;
}

class Problems {
  constructor() {
    this.list = [];
  }
  // record a failure: what was expected, what we got, optional JSON excerpt
  fail(message, { expected, got, excerpt } = {}) {
    const p = [message];
    if (expected !== undefined) p.push(`expected: ${typeof expected === "string" ? expected : j(expected)}`);
    if (got !== undefined) p.push(`got: ${typeof got === "string" ? got : j(got)}`);
    if (excerpt !== undefined) p.push(`excerpt: ${typeof excerpt === "string" ? excerpt : j(excerpt, 600)}`);
    this.list.push(p.join("\n  "));
    return false;
  }
  ok(cond, message, extra) {
    if (!cond) this.fail(message, extra);
    return !!cond;
  }
  note(message) {
    this.list.push(`(note) ${message}`);
  }
  get failed() {
    return this.list.some((p) => !p.startsWith("(note)"));
  }
}

// Runs one check. fn(t) records problems on t; a throw is also a failure.
// `needs` lists values computed by earlier checks; if one is missing the
// check is reported as failed (never silently skipped).
async function check(name, needs, fn) {
  if (typeof needs === "function") {
    fn = needs;
    needs = [];
  }
  const missing = needs.filter(([, v]) => v === undefined || v === null || v === false).map(([n]) => n);
  if (missing.length) {
    emit(false, name, [`not run: prerequisite missing (${missing.join(", ")})`]);
    return undefined;
  }
  const t = new Problems();
  currentCheck = name;
  const traceStart = trace.length;
  let value;
  try {
    value = await fn(t);
  } catch (e) {
    t.fail(`unexpected exception: ${describeError(e)}`);
  }
  const details = [...t.list];
  if (t.failed) {
    const reqs = trace.slice(traceStart);
    const shown = reqs.slice(-6);
    if (reqs.length) {
      details.push(
        `requests (${reqs.length}${reqs.length > shown.length ? `, last ${shown.length}` : ""}): ` +
          shown.map((r) => `${r.method} ${r.url} -> ${r.status}`).join("; "),
      );
    }
  }
  emit(!t.failed, name, t.failed ? details : details.filter((d) => d.startsWith("(note)")));
  // The value (data for later checks) is handed on even when this check
  // failed, so one server bug does not hide the rest; fn returns undefined
  // when it has nothing usable.
  return value;
}

function describeError(e) {
  if (e && typeof e === "object" && "status" in e && e.response) {
    return `HTTP ${e.status} from ${e.request?.method} ${e.request?.url}: ${j(e.response.data, 500)}`;
  }
  if (e && typeof e === "object" && "status" in e) {
    return `${e.name} status=${e.status}: ${e.message}`;
  }
  return e && e.stack ? e.stack.split("\n").slice(0, 4).join(" | ") : String(e);
}

// ================================================================= schemas
const S = loadSchemas();

function pointerGet(obj, pointer) {
  if (!pointer) return obj;
  let cur = obj;
  for (const raw of pointer.split("/").slice(1)) {
    const k = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (cur == null) return undefined;
    cur = cur[k];
  }
  return cur;
}

// Validates `data` with an ajv validator; records one problem per distinct
// schema violation (with how many array items it affects and an excerpt).
// A violation already reported by an earlier check (same schema, same place,
// same message) is only noted again, so one server bug fails one check
// instead of every later check that happens to list requests.
const reportedViolations = new Map(); // key -> { check, msg, again }
let currentCheck = "";
function schemaProblems(t, label, validate, data) {
  if (validate(data)) return true;
  const groups = new Map();
  for (const e of validate.errors || []) {
    // anyOf [{type: null}, X] wrappers (from `nullable`) add a "must be null"
    // and a "must match a schema in anyOf" on top of the real error.
    if (e.keyword === "type" && e.params?.type === "null") continue;
    if (e.keyword === "anyOf" && (validate.errors || []).length > 1) continue;
    const genericPath = e.instancePath.replace(/^\/\d+/, "/*");
    const key = `${genericPath}|${e.schemaPath}|${e.message}|${j(e.params)}`;
    if (!groups.has(key)) groups.set(key, { e, genericPath, count: 0 });
    groups.get(key).count++;
  }
  if (groups.size === 0) {
    for (const e of validate.errors || []) groups.set(j(e), { e, genericPath: e.instancePath, count: 1 });
  }
  let n = 0;
  for (const { e, genericPath, count } of groups.values()) {
    if (++n > 8) {
      t.fail(`${label}: … ${groups.size - 8} more schema violations`);
      break;
    }
    const params = e.params && Object.keys(e.params).length ? ` ${j(e.params)}` : "";
    const where = Array.isArray(data) && /^\/\d+/.test(e.instancePath) ? ` (in ${count} of ${data.length} items)` : "";
    const itemIdx = /^\/(\d+)/.exec(e.instancePath);
    const item = Array.isArray(data) && itemIdx ? data[Number(itemIdx[1])] : undefined;
    const value = pointerGet(data, e.instancePath);
    const vkey = `${validate.__id || (validate.__id = Math.random())}|${genericPath}|${e.schemaPath}|${e.message}|${j(e.params)}`;
    const msg = `${label}: schema violation at ${genericPath || "/"}: ${e.message}${params}${where}`;
    if (reportedViolations.has(vkey)) {
      reportedViolations.get(vkey).again++;
      continue;
    }
    reportedViolations.set(vkey, { check: currentCheck, msg, again: 0 });
    const shown =
      e.keyword === "required" && value && typeof value === "object" && !Array.isArray(value)
        ? `${e.instancePath || "/"} has keys ${j(Object.keys(value), 600)}`
        : `${e.instancePath || "/"} = ${j(value, 300)}`;
    t.fail(msg, {
      expected: `GitHub schema ${e.schemaPath}`,
      got: shown,
      excerpt: item && typeof item === "object" && "id" in item ? `item id=${j(item.id)}: ${j(item, 300)}` : undefined,
    });
  }
  return false;
}

const installationValidator = S.component("installation");
const basicErrorValidator = S.component("basic-error");

// The subset of GitHub's description vendored in github-schemas.json holds the
// pat operations and the app ones the demo flow needs. GitHub documents the
// others checked here (revoking an installation token, suspending and
// unsuspending an installation: @octokit/openapi-types) as 204 with no body
// and, for the suspension, 404 `not_found` (basic-error): see expectNoContent.
function vendored(operationId) {
  return Object.hasOwn(S.doc.operations, operationId);
}

// Calls fn and expects 204 with no body, as GitHub documents for operations
// that are not vendored.
async function expectNoContent(t, label, fn) {
  const res = await expectOk(t, label, null, 204, fn);
  if (res) {
    t.ok(res.data === "" || res.data === undefined || res.data === null, `${label}: GitHub documents no body for 204`, {
      expected: "empty body",
      got: res.data,
    });
  }
  return res;
}

// Calls fn (an octokit call) and expects a 2xx with `status`; validates the
// body against the operation's GitHub response schema (or `validator`).
async function expectOk(t, label, operationId, status, fn, { validator } = {}) {
  let res;
  try {
    res = await fn();
  } catch (e) {
    t.fail(`${label}: expected HTTP ${status}`, {
      expected: status,
      got: e?.status ?? describeError(e),
      excerpt: e?.response ? e.response.data : undefined,
    });
    return undefined;
  }
  t.ok(res.status === status, `${label}: wrong status`, { expected: status, got: res.status, excerpt: res.data });
  const spec = vendored(operationId) ? S.response(operationId, status) : undefined;
  if (validator) {
    schemaProblems(t, label, validator, res.data);
  } else if (spec && spec.validate) {
    schemaProblems(t, label, spec.validate, res.data);
  } else if (spec && spec.validate === null) {
    t.ok(res.data === "" || res.data === undefined, `${label}: GitHub documents no body for ${status}`, {
      expected: "empty body",
      got: res.data,
    });
  }
  return res;
}

// Calls fn and expects octokit to throw a RequestError with `status`; the
// error body must validate against the operation's schema for that status
// (basic-error when GitHub documents none) and carry a message.
async function expectError(t, label, operationId, status, fn) {
  let res;
  try {
    res = await fn();
  } catch (e) {
    if (!e || typeof e !== "object" || !("status" in e) || !e.response) {
      t.fail(`${label}: expected an HTTP ${status} RequestError`, { got: describeError(e) });
      return undefined;
    }
    t.ok(e.name === "HttpError", `${label}: octokit should throw its RequestError (HttpError)`, { got: e.name });
    t.ok(e.status === status, `${label}: wrong status`, { expected: status, got: e.status, excerpt: e.response.data });
    const data = e.response.data;
    const spec = vendored(operationId) ? S.response(operationId, e.status) : undefined;
    const validator = spec && spec.validate ? spec.validate : basicErrorValidator;
    const schemaName = spec && spec.validate ? spec.component || "documented schema" : "basic-error";
    schemaProblems(t, `${label} (${e.status} body vs ${schemaName})`, validator, data);
    t.ok(
      data && typeof data === "object" && typeof data.message === "string" && data.message.length > 0,
      `${label}: error body must be a JSON object with a non-empty "message"`,
      { got: data, excerpt: `content-type: ${e.response.headers?.["content-type"]}` },
    );
    return e;
  }
  t.fail(`${label}: expected octokit to throw HTTP ${status}`, { expected: status, got: res.status, excerpt: res.data });
  return undefined;
}

function parseLink(header) {
  const rels = {};
  if (!header) return rels;
  for (const m of header.matchAll(/<([^<>]*)>\s*;\s*rel="([^"]+)"/g)) {
    for (const rel of m[2].split(/\s+/)) rels[rel] = m[1];
  }
  return rels;
}
function qp(url, name) {
  try {
    return new URL(url).searchParams.get(name);
  } catch {
    return undefined;
  }
}

function sameIds(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
// JSON with object keys sorted: key order never matters for equality.
function canon(value) {
  return JSON.stringify(value, (_k, v) =>
    v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v,
  );
}
function setEq(a, b) {
  const A = new Set(a);
  const B = new Set(b);
  return A.size === B.size && [...A].every((x) => B.has(x));
}
function diffSets(expected, got) {
  const E = new Set(expected);
  const G = new Set(got);
  return {
    missing: [...E].filter((x) => !G.has(x)),
    unexpected: [...G].filter((x) => !E.has(x)),
  };
}
function ts(s) {
  return typeof s === "string" ? Date.parse(s) : NaN;
}
// `field`: created_at for requests, access_granted_at for grants.
// octokit.paginate(route, params) on `octo`, checking every page's status (200)
// and body (`validate`, named `${label} page N${schema}`); stops after
// `maxPages`. Returns { items, pages }.
async function paginateValidated(t, label, octo, route, params, validate, { maxPages = 60, schema = "" } = {}) {
  const pages = [];
  const items = await octo.paginate(route, params, (response, done) => {
    pages.push(response);
    if (pages.length >= maxPages) {
      t.fail(`${label}: still following rel="next" after ${maxPages} pages; stopped`, { got: response.headers.link });
      done();
    }
    return response.data;
  });
  pages.forEach((p, i) => {
    t.ok(p.status === 200, `${label}: page ${i + 1} status`, { expected: 200, got: p.status });
    schemaProblems(t, `${label} page ${i + 1}${schema}`, validate, p.data);
  });
  return { items, pages };
}

// Owners to filter `items` by: the first and the last owner when there are
// more than two, else the first `fallback` ones; `logins` are all the owners,
// `expected` the ids of the items of the picked owners.
function ownerPick(items, fallback) {
  const logins = [...new Set(items.map((x) => x.owner && x.owner.login).filter(Boolean))];
  const pick = logins.length > 2 ? [logins[0], logins[logins.length - 1]] : logins.slice(0, fallback);
  const want = new Set(pick);
  const expected = items.filter((x) => x.owner && want.has(x.owner.login)).map((x) => x.id);
  return { logins, pick, want, expected };
}

// Notes how octokit sent an owner filter (as the first page's query string).
function noteOwnerQuery(t, pick, pages, expected, total) {
  t.note(`owner=${pick.join(",")} sent as ${pages[0] ? new URL(pages[0].url).search : "?"}; expected ${expected.length} of ${total}`);
}

function checkOrder(t, label, items, dir, field = "created_at") {
  for (let i = 0; i + 1 < items.length; i++) {
    const a = ts(items[i][field]);
    const b = ts(items[i + 1][field]);
    if (Number.isNaN(a) || Number.isNaN(b)) {
      return t.fail(`${label}: ${field} is not a parseable timestamp`, {
        got: [items[i][field], items[i + 1][field]],
      });
    }
    if (dir === "desc" ? a < b : a > b) {
      return t.fail(`${label}: not ordered by ${field} ${dir}`, {
        got: `index ${i}: id=${j(items[i].id)} ${field}=${items[i][field]}, index ${i + 1}: id=${j(items[i + 1].id)} ${field}=${items[i + 1][field]}`,
      });
    }
  }
  return true;
}

// ============================================================ hooks fixture
// The demo installation holds no organization_hooks (which the 403 checks
// use). The organization webhook checks need an installation that does: this
// second app, loaded into the running server's data dir with `patgate seed`
// (docs/SEED.md), installed on the demo organization with
// organization_hooks: write and nothing else. Its key pair is made per run.
const HOOKS_APP = {
  slug: "octokit-conformance-hooks",
  name: "octokit conformance: organization hooks",
  client_id: "Iv1.octokithooks0001",
};
function hooksFixture(org, publicKeyPem) {
  return {
    apps: [{ ...HOOKS_APP, owner: org, public_key_pem: publicKeyPem }],
    installations: [{ app: HOOKS_APP.slug, org, permissions: { organization_hooks: "write" }, repository_selection: "all" }],
  };
}

// ================================================================== server
async function freePort() {
  return await new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startServer() {
  const port = await freePort();
  const tmp = mkdtempSync(join(tmpdir(), "patgate-octokit-"));
  const args = ["demo", "--data-dir", tmp, "--bind", `127.0.0.1:${port}`];
  const server = { tmp, port, args, child: null, log: [], exited: null, demo: null };
  const push = (chunk) => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (line.length) server.log.push(line);
    }
    if (server.log.length > 2000) server.log.splice(0, server.log.length - 2000);
  };
  if (!existsSync(BIN)) {
    server.error = `server binary not found: ${BIN} (set PATGATE_BIN)`;
    return server;
  }
  const child = spawn(BIN, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"], env: process.env });
  server.child = child;
  child.stdout.on("data", push);
  child.stderr.on("data", push);
  child.on("error", (e) => {
    server.exited = `spawn error: ${e.message}`;
  });
  child.on("exit", (code, signal) => {
    server.exited = server.exited || `exited with code ${code} signal ${signal}`;
  });

  const demoPath = join(tmp, "demo.json");
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let lastErr = "demo.json not written yet";
  while (Date.now() < deadline) {
    if (server.exited) {
      server.error = `server ${server.exited} before it was ready (${lastErr})`;
      return server;
    }
    if (existsSync(demoPath)) {
      try {
        const demo = JSON.parse(readFileSync(demoPath, "utf8"));
        if (typeof demo.base_url !== "string") throw new Error(`demo.json has no base_url: ${j(demo)}`);
        const r = await fetch(demo.base_url.replace(/\/+$/, "") + "/", { signal: AbortSignal.timeout(2000) });
        await r.arrayBuffer().catch(() => {});
        server.demo = demo;
        server.rootStatus = r.status;
        return server;
      } catch (e) {
        lastErr = e.message;
      }
    }
    await sleep(250);
  }
  server.error = `server not ready after ${STARTUP_TIMEOUT_MS / 1000}s (${lastErr})`;
  return server;
}

async function stopServer(server) {
  const child = server && server.child;
  if (child && child.exitCode === null && child.signalCode === null) {
    const gone = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    const t = await Promise.race([gone.then(() => "exited"), sleep(5000).then(() => "timeout")]);
    if (t === "timeout") {
      child.kill("SIGKILL");
      await Promise.race([gone, sleep(2000)]);
    }
  }
}

// Runs the server binary once more (e.g. `seed FILE`) with the same data dir
// and environment as the running server; resolves { code, out }.
async function runBin(args, timeoutMs = 60_000) {
  return await new Promise((res) => {
    const out = [];
    let child;
    try {
      child = spawn(BIN, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"], env: process.env });
    } catch (e) {
      res({ code: null, out: `spawn failed: ${e.message}` });
      return;
    }
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (c) => out.push(c));
    child.stderr.on("data", (c) => out.push(c));
    child.on("error", (e) => out.push(Buffer.from(`spawn error: ${e.message}`)));
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      res({ code, signal, out: Buffer.concat(out).toString("utf8").trim().slice(-1500) });
    });
  });
}

// ==================================================================== main
let SERVER = null;
function hardCleanup() {
  try {
    if (SERVER && SERVER.child && SERVER.child.exitCode === null) SERVER.child.kill("SIGKILL");
  } catch {}
}
process.on("exit", hardCleanup);
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    hardCleanup();
    process.exit(130);
  });
}
const watchdog = setTimeout(() => {
  emit(false, `whole run finished within ${WATCHDOG_MS / 1000}s`, ["watchdog fired; the server probably hangs"]);
  console.log(`${passed} passed, ${failed} failed`);
  hardCleanup();
  process.exit(1);
}, WATCHDOG_MS);
watchdog.unref();

const warnings = [];
function keepWarning(m) {
  if (!/ - \d{3} with id /.test(m)) warnings.push(m);
}
function makeOctokit(baseUrl, options) {
  return new Octokit({
    baseUrl,
    userAgent: "patgate-octokit-conformance",
    log: {
      debug() {},
      info() {},
      // @octokit/plugin-request-log warns about every 4xx ("GET /x - 404 with
      // id …"); the expected errors would drown the interesting warnings.
      warn: (...a) => keepWarning(a.join(" ")),
      error: (...a) => keepWarning(a.join(" ")),
    },
    request: { fetch: tracingFetch },
    ...options,
  });
}

async function run(server) {
  const demo = server.demo;
  const baseUrl = String(demo.base_url).replace(/\/+$/, "");
  const org = demo.org;
  const appId = demo.app_id;
  const installationId = demo.installation_id;
  let privateKey;

  await check("demo.json describes the demo app (base_url, org, app_id, installation_id, private_key_path)", (t) => {
    t.ok(/^https?:\/\//.test(baseUrl), "base_url must be an http(s) URL", { got: demo.base_url });
    t.ok(baseUrl.endsWith(`:${server.port}`), "base_url should use the --bind port", { expected: server.port, got: demo.base_url });
    t.ok(typeof org === "string" && org.length > 0, "org must be a non-empty string", { got: org });
    t.ok(Number.isInteger(appId) && appId > 0, "app_id must be a positive integer", { got: appId });
    t.ok(Number.isInteger(installationId) && installationId > 0, "installation_id must be a positive integer", { got: installationId });
    const p = demo.private_key_path;
    const path = typeof p === "string" ? (isAbsolute(p) ? p : join(server.tmp, p)) : null;
    if (t.ok(path && existsSync(path), "private_key_path must point at an existing file", { got: p })) {
      privateKey = readFileSync(path, "utf8");
      t.ok(/-----BEGIN (RSA )?PRIVATE KEY-----/.test(privateKey), "private key must be a PEM RSA key", {
        got: privateKey.slice(0, 40),
      });
    }
  });
  if (!privateKey) return;

  const octokit = makeOctokit(baseUrl, {
    authStrategy: createAppAuth,
    auth: { appId, privateKey, installationId },
  });
  const R = octokit.rest;

  // ------------------------------------------------------------ app / JWT
  await check("apps.getAuthenticated() with the app JWT -> 200, body is GitHub's integration schema", async (t) => {
    const res = await expectOk(t, "GET /app", "apps/get-authenticated", 200, () => R.apps.getAuthenticated());
    if (res && res.data && typeof res.data === "object") {
      t.ok(res.data.id === appId, "app id must equal demo.json app_id", { expected: appId, got: res.data.id });
    }
  });

  const tokenData = await check(
    "apps.createInstallationAccessToken({installation_id}) -> 201, body is GitHub's installation-token schema",
    async (t) => {
      const res = await expectOk(t, "POST /app/installations/{id}/access_tokens", "apps/create-installation-access-token", 201, () =>
        R.apps.createInstallationAccessToken({ installation_id: installationId }),
      );
      if (!res) return undefined;
      const d = res.data || {};
      t.ok(typeof d.token === "string" && d.token.length > 0, "token must be a non-empty string", { got: d.token });
      t.ok(ts(d.expires_at) > Date.now(), "expires_at must be a timestamp in the future", { got: d.expires_at });
      return d;
    },
  );

  await check("the installation token has GitHub's installation-token prefix ghs_", [["token", tokenData]], (t) => {
    const tok = tokenData.token;
    t.ok(typeof tok === "string" && tok.startsWith("ghs_"), "installation tokens start with ghs_", {
      got: typeof tok === "string" ? `${tok.slice(0, 6)}… (${tok.length} chars)` : tok,
    });
  });

  await check("apps.getInstallation({installation_id}) -> 200, body is GitHub's installation schema", async (t) => {
    const res = await expectOk(t, "GET /app/installations/{id}", "apps/get-installation", 200, () =>
      R.apps.getInstallation({ installation_id: installationId }),
    );
    if (!res || !res.data || typeof res.data !== "object") return;
    const d = res.data;
    t.ok(d.id === installationId, "installation id must equal demo.json installation_id", { expected: installationId, got: d.id });
    t.ok(d.app_id === appId, "installation app_id must equal demo.json app_id", { expected: appId, got: d.app_id });
    t.ok(
      d.account && typeof d.account.login === "string" && d.account.login.toLowerCase() === String(org).toLowerCase(),
      "installation account.login must be the demo org",
      { expected: org, got: d.account && d.account.login },
    );
    t.ok(
      d.permissions && d.permissions.organization_personal_access_token_requests === "write",
      "installation must grant organization_personal_access_token_requests: write (needed by the review endpoints)",
      { got: d.permissions },
    );
  });

  // The installation's permissions as apps.getInstallation shows them (for
  // the token checks below).
  async function installationPermissions(t) {
    const res = await expectOk(t, "GET /app/installations/{id}", "apps/get-installation", 200, () =>
      R.apps.getInstallation({ installation_id: installationId }),
    );
    const p = res && res.data && res.data.permissions;
    if (!t.ok(p && typeof p === "object" && Object.keys(p).length > 0, "the installation must show its permissions", { got: res && res.data })) return undefined;
    return p;
  }

  await check(
    "apps.createInstallationAccessToken({installation_id, permissions: {}}) -> 201 with the installation's permissions (apps.getInstallation); with repositories: [] too, and repository_selection 'all'",
    async (t) => {
      const held = await installationPermissions(t);
      if (!held) return;
      const variants = [
        ["permissions: {}", { permissions: {} }],
        ["permissions: {}, repositories: []", { permissions: {}, repositories: [] }],
      ];
      for (const [label, params] of variants) {
        const res = await expectOk(t, `POST /app/installations/{id}/access_tokens (${label})`, "apps/create-installation-access-token", 201, () =>
          R.apps.createInstallationAccessToken({ installation_id: installationId, ...params }),
        );
        if (!res || !res.data || typeof res.data !== "object") continue;
        t.ok(canon(res.data.permissions) === canon(held), `${label}: an empty permissions object asks for nothing less: the token has the installation's permissions`, {
          expected: held,
          got: res.data.permissions,
        });
        if (params.repositories) {
          t.ok(res.data.repository_selection === "all", `${label}: an empty repositories list limits nothing: repository_selection must be "all"`, {
            expected: "all",
            got: res.data.repository_selection,
          });
        }
        if (typeof res.data.token === "string") {
          const tok = makeOctokit(baseUrl, { auth: res.data.token });
          await expectOk(t, `listPatGrantRequests with the token (${label})`, "orgs/list-pat-grant-requests", 200, () =>
            tok.rest.orgs.listPatGrantRequests({ org, per_page: 1 }),
          );
        }
      }
    },
  );

  await check(
    'apps.createInstallationAccessToken with a permission the installation lacks -> 422 "The permissions requested are not granted to this installation."; with a level above the installation\'s -> 422 "The level of access for permissions requested are not granted to this installation."',
    async (t) => {
      const held = await installationPermissions(t);
      if (!held) return;
      // a permission GitHub knows that the installation does not hold
      const lacking = ["organization_hooks", "issues", "contents", "organization_projects"].find((k) => !(k in held));
      // a permission held at read, asked for at write
      const above = Object.keys(held).find((k) => held[k] === "read");
      const cases = [];
      if (t.ok(lacking, "the check needs a permission the installation lacks", { got: held })) {
        cases.push([`${lacking}: read (not held)`, { [lacking]: "read" }, "The permissions requested are not granted to this installation."]);
      }
      if (t.ok(above, "the check needs a permission the installation holds at read", { got: held })) {
        cases.push([`${above}: write (held at read)`, { [above]: "write" }, "The level of access for permissions requested are not granted to this installation."]);
      }
      for (const [label, permissions, message] of cases) {
        const e = await expectError(t, `POST /app/installations/{id}/access_tokens (${label})`, "apps/create-installation-access-token", 422, () =>
          R.apps.createInstallationAccessToken({ installation_id: installationId, permissions }),
        );
        if (e) t.ok(e.response.data?.message === message, `${label}: GitHub's message`, { expected: message, got: e.response.data?.message });
      }
    },
  );

  await check("apps.listInstallations() -> 200, items are GitHub's installation schema, demo installation listed", async (t) => {
    // GitHub's apps/list-installations operation carries an old inline copy of
    // `installation` whose `account` is allOf[simple-user, enterprise] (GitHub's
    // own example fails it); items are validated against the `installation`
    // component, as for apps.getInstallation.
    const res = await expectOk(t, "GET /app/installations", "apps/list-installations", 200, () => R.apps.listInstallations(), {
      validator: S.ajv.compile({ type: "array", items: { $ref: `${S.doc.schema_id}#/definitions/installation` } }),
    });
    if (!res || !Array.isArray(res.data)) return t.fail("body must be an array", { got: res && res.data });
    t.ok(
      res.data.some((i) => i && i.id === installationId),
      "the demo installation must be listed",
      { expected: installationId, got: res.data.map((i) => i && i.id) },
    );
  });

  await check("apps.getOrgInstallation({org}) -> 200, body is GitHub's installation schema", async (t) => {
    const res = await expectOk(t, "GET /orgs/{org}/installation", "apps/get-org-installation", 200, () =>
      R.apps.getOrgInstallation({ org }),
    );
    if (res && res.data && typeof res.data === "object") {
      t.ok(res.data.id === installationId, "must return the demo installation", { expected: installationId, got: res.data.id });
    }
  });

  await check(`apps.getOrgInstallation({org: '${UNKNOWN_ORG}'}) -> 404 basic-error`, async (t) => {
    await expectError(t, "GET /orgs/no-such-org/installation", "apps/get-org-installation", 404, () =>
      R.apps.getOrgInstallation({ org: UNKNOWN_ORG }),
    );
  });

  // ------------------------------------------------------------- listing
  const LIST = "orgs/list-pat-grant-requests";
  const listSchema = S.response(LIST, 200).validate;

  // paginate with per_page, validating every page; returns { items, pages }
  async function listAll(t, label, params) {
    return paginateValidated(t, label, octokit, R.orgs.listPatGrantRequests, { org, ...params }, listSchema);
  }

  const all = await check("orgs.listPatGrantRequests({org, per_page: 100}) -> 200, items are GitHub's organization-programmatic-access-grant-request schema", async (t) => {
    const res = await expectOk(t, "GET /orgs/{org}/personal-access-token-requests?per_page=100", LIST, 200, () =>
      R.orgs.listPatGrantRequests({ org, per_page: 100 }),
    );
    if (!res) return undefined;
    if (!Array.isArray(res.data)) return t.fail("body must be a JSON array", { got: res.data });
    t.ok(res.data.length >= 15, "the demo should seed enough pending requests to paginate by 7 over >= 3 pages (brief: about 50)", {
      expected: ">= 15",
      got: res.data.length,
    });
    t.ok(!parseLink(res.headers.link).next, "more than 100 pending requests: this check assumes the demo fits in one per_page=100 page", {
      got: res.headers.link,
    });
    return res;
  });
  const allItems = all && all.data;
  const allIds = allItems && allItems.map((r) => r.id);
  const allLink = all && all.headers.link;

  await check("default order is created_at descending", [["list", allItems]], (t) => {
    checkOrder(t, "per_page=100 list", allItems, "desc");
  });

  await check("single page result (per_page 100): no Link header (GitHub omits it when everything fits)", [["list", allItems]], (t) => {
    const rels = parseLink(allLink);
    t.ok(!rels.next && !rels.prev, "no rel=next / rel=prev on a complete single page", { got: allLink });
    t.ok(allLink === undefined || allLink === "", "Link header should be absent", { got: allLink });
  });

  let pages7;
  await check(
    "octokit.paginate(listPatGrantRequests, {per_page: 7}): no duplicates, created_at desc, equals the per_page=100 list",
    [["list", allItems]],
    async (t) => {
      const { items, pages } = await listAll(t, "per_page=7", { per_page: 7 });
      pages7 = pages;
      const ids = items.map((r) => r.id);
      const dups = ids.filter((id, i) => ids.indexOf(id) !== i);
      t.ok(dups.length === 0, "duplicate ids across pages", { got: dups });
      checkOrder(t, "paginated list", items, "desc");
      t.ok(sameIds(ids, allIds), "paginated ids must equal the single per_page=100 call (same order)", {
        expected: allIds,
        got: ids,
      });
      const expectedPages = Math.ceil(allIds.length / 7);
      t.ok(pages.length === expectedPages, "number of pages", { expected: expectedPages, got: pages.length });
      pages.forEach((p, i) => {
        const n = Array.isArray(p.data) ? p.data.length : -1;
        if (i < pages.length - 1) t.ok(n === 7, `page ${i + 1} must hold exactly per_page items`, { expected: 7, got: n });
        else t.ok(n >= 1 && n <= 7, `last page must hold 1..7 items`, { got: n });
      });
    },
  );

  const lastPageNo = allIds ? Math.ceil(allIds.length / 7) : undefined;
  await check('Link of page 1 (per_page 7): rel="next" (page=2) and rel="last", no rel="prev"', [["pages", pages7]], (t) => {
    const link = pages7[0].headers.link;
    const rels = parseLink(link);
    t.ok(rels.next && qp(rels.next, "page") === "2", 'rel="next" must point at page=2', { got: link });
    t.ok(rels.last && qp(rels.last, "page") === String(lastPageNo), `rel="last" must point at page=${lastPageNo}`, { got: link });
    t.ok(!rels.prev, 'page 1 must not have rel="prev"', { got: link });
    for (const [rel, url] of Object.entries(rels)) {
      t.ok(qp(url, "per_page") === "7", `rel="${rel}" must carry per_page=7`, { got: url });
      let origin;
      try {
        origin = new URL(url).origin;
      } catch {}
      t.ok(origin === new URL(baseUrl).origin, `rel="${rel}" must be an absolute URL on base_url (octokit follows it verbatim)`, {
        expected: baseUrl,
        got: url,
      });
    }
  });

  await check('Link of a middle page (page 2, per_page 7): rel="first", "prev", "next", "last"', [["pages", pages7]], (t) => {
    if (!t.ok(pages7.length >= 3, "need at least 3 pages", { got: pages7.length })) return;
    const link = pages7[1].headers.link;
    const rels = parseLink(link);
    t.ok(rels.first && qp(rels.first, "page") === "1", 'rel="first" -> page=1', { got: link });
    t.ok(rels.prev && qp(rels.prev, "page") === "1", 'rel="prev" -> page=1', { got: link });
    t.ok(rels.next && qp(rels.next, "page") === "3", 'rel="next" -> page=3', { got: link });
    t.ok(rels.last && qp(rels.last, "page") === String(lastPageNo), `rel="last" -> page=${lastPageNo}`, { got: link });
  });

  await check('Link of the last page (per_page 7): rel="first" and "prev", no rel="next"', [["pages", pages7]], (t) => {
    const link = pages7[pages7.length - 1].headers.link;
    const rels = parseLink(link);
    t.ok(rels.prev && qp(rels.prev, "page") === String(lastPageNo - 1), `rel="prev" -> page=${lastPageNo - 1}`, { got: link });
    t.ok(rels.first && qp(rels.first, "page") === "1", 'rel="first" -> page=1', { got: link });
    t.ok(!rels.next, 'last page must not have rel="next"', { got: link });
  });

  // GitHub sends rel="last" on every page that has a rel="next", not only on
  // the first: checked with per_page 1 on page 1, a middle page and the
  // second-to-last page, against the ids of the per_page=100 list.
  async function lastOnEveryPage(t, label, operationId, listPage, ids) {
    const total = ids.length;
    if (!t.ok(total >= 4, `${label}: need at least 4 items (page 1, a middle page and the second-to-last page apart)`, { got: total })) return;
    for (const page of [...new Set([1, Math.ceil(total / 2), total - 1])]) {
      const res = await expectOk(t, `${label}?per_page=1&page=${page}`, operationId, 200, () => listPage(page));
      if (!res) continue;
      const link = res.headers.link;
      const rels = parseLink(link);
      const at = `page ${page} of ${total} (per_page 1)`;
      t.ok(rels.last && qp(rels.last, "page") === String(total) && qp(rels.last, "per_page") === "1", `${at}: rel="last" must point at page=${total} (per_page=1)`, {
        expected: `rel="last" page=${total}`,
        got: link ?? "(no Link header)",
      });
      t.ok(rels.next && qp(rels.next, "page") === String(page + 1), `${at}: rel="next" -> page=${page + 1}`, { got: link ?? "(no Link header)" });
      if (page > 1) {
        t.ok(rels.prev && qp(rels.prev, "page") === String(page - 1), `${at}: rel="prev" -> page=${page - 1}`, { got: link ?? "(no Link header)" });
        t.ok(rels.first && qp(rels.first, "page") === "1", `${at}: rel="first" -> page=1`, { got: link ?? "(no Link header)" });
      } else {
        t.ok(!rels.prev && !rels.first, `${at}: no rel="prev" / rel="first" on page 1`, { got: link });
      }
      const got = Array.isArray(res.data) ? res.data.map((x) => x && x.id) : res.data;
      t.ok(Array.isArray(got) && sameIds(got, [ids[page - 1]]), `${at}: must hold item ${page} of the per_page=100 list`, { expected: [ids[page - 1]], got });
    }
  }

  // The check of lastOnEveryPage for octokit's `method` (GET `path`): every
  // item from listWhole(t), then page after page from listPage(page).
  async function checkLastOnEveryPage(method, path, operationId, needs, { listWhole, listPage }) {
    await check(
      `rel="last" on every page: ${method}({per_page: 1}) page 1, a middle page and the second-to-last page each link rel="last" to page=<total> (from octokit.paginate per_page 100), rel="next", and rel="prev"/"first" after page 1`,
      [needs],
      async (t) => {
        const { items } = await listWhole(t);
        await lastOnEveryPage(t, `GET ${path}`, operationId, listPage, items.map((x) => x.id));
      },
    );
  }

  await checkLastOnEveryPage("listPatGrantRequests", "/orgs/{org}/personal-access-token-requests", LIST, ["list", allItems], {
    listWhole: (t) => listAll(t, "per_page=100", { per_page: 100 }),
    listPage: (page) => R.orgs.listPatGrantRequests({ org, per_page: 1, page }),
  });

  // -------------------------------------------------------------- filters
  await check("filter owner=[a,b] (octokit sends owner=a,b): only those owners, same count as client-side", [["list", allItems]], async (t) => {
    // prefer two owners that together do not cover the whole list
    const { logins, pick, want, expected } = ownerPick(allItems, 2);
    if (!t.ok(logins.length >= 2, "the demo needs requests from at least two owners", { got: logins })) return;
    const { items, pages } = await listAll(t, `owner=${pick.join(",")}`, { owner: pick, per_page: 100 });
    noteOwnerQuery(t, pick, pages, expected, allItems.length);
    const bad = items.filter((r) => !(r.owner && want.has(r.owner.login)));
    t.ok(bad.length === 0, "every returned owner.login must be in the requested set", {
      expected: pick,
      got: bad.slice(0, 5).map((r) => ({ id: r.id, owner: r.owner && r.owner.login })),
    });
    t.ok(items.length === expected.length, "count must equal the client-side count", { expected: expected.length, got: items.length });
    const d = diffSets(expected, items.map((r) => r.id));
    t.ok(!d.missing.length && !d.unexpected.length, "id set must equal the client-side filter", { got: d });
  });

  // repositories of every subset request (used by the repository filter)
  const subsetItems = allItems ? allItems.filter((r) => r.repository_selection === "subset") : undefined;
  const firstSubset = subsetItems && subsetItems[0];

  const subsetRepos = await check(
    "orgs.listPatGrantRequestRepositories({org, pat_request_id}) for a subset request -> 200, items are GitHub's minimal-repository schema",
    [["a request with repository_selection=subset", firstSubset]],
    async (t) => {
      const res = await expectOk(t, "GET /orgs/{org}/personal-access-token-requests/{id}/repositories", "orgs/list-pat-grant-request-repositories", 200, () =>
        R.orgs.listPatGrantRequestRepositories({ org, pat_request_id: firstSubset.id, per_page: 100 }),
      );
      if (!res) return undefined;
      if (!Array.isArray(res.data)) return t.fail("body must be an array", { got: res.data });
      t.ok(res.data.length >= 1, "a subset request must list at least one repository", { got: res.data.length });
      return res.data;
    },
  );

  await check(
    "filter repository=<name>: every subset result includes that repository, all matching subset requests returned",
    [["repositories of a subset request", subsetRepos && subsetRepos.length ? subsetRepos : undefined]],
    async (t) => {
      const repoName = subsetRepos[0].name;
      const reposOf = new Map();
      for (const r of subsetItems) {
        const data = await octokit.paginate(R.orgs.listPatGrantRequestRepositories, { org, pat_request_id: r.id, per_page: 100 });
        reposOf.set(r.id, new Set(data.map((x) => x.name)));
      }
      const expectedSubset = subsetItems.filter((r) => reposOf.get(r.id).has(repoName)).map((r) => r.id);
      const { items } = await listAll(t, `repository=${repoName}`, { repository: repoName, per_page: 100 });
      const gotIds = items.map((r) => r.id);
      t.ok(gotIds.includes(firstSubset.id), "the request the repository was taken from must match", {
        expected: firstSubset.id,
        got: gotIds,
      });
      const missing = expectedSubset.filter((id) => !gotIds.includes(id));
      t.ok(!missing.length, "subset requests that include the repository are missing", { got: missing });
      const wrongSubset = items.filter((r) => r.repository_selection === "subset" && !(reposOf.get(r.id) || new Set()).has(repoName));
      t.ok(!wrongSubset.length, "subset requests that do NOT include the repository were returned", {
        got: wrongSubset.map((r) => r.id),
      });
      const none = items.filter((r) => r.repository_selection === "none");
      t.ok(!none.length, 'requests with repository_selection "none" cannot match a repository filter', { got: none.map((r) => r.id) });
      const allSel = items.filter((r) => r.repository_selection === "all").length;
      t.note(`repository=${repoName}: ${items.length} results (${expectedSubset.length} subset expected, ${allSel} with selection "all")`);
    },
  );

  await check("filter permission=<key>_<level>: exactly the requests asking for that permission", [["list", allItems]], async (t) => {
    const CATS = ["repository", "organization", "other"];
    const levelsByKey = new Map(); // key -> Map(level -> count)
    for (const r of allItems) {
      for (const c of CATS) {
        for (const [k, lvl] of Object.entries((r.permissions && r.permissions[c]) || {})) {
          if (!levelsByKey.has(k)) levelsByKey.set(k, new Map());
          const m = levelsByKey.get(k);
          m.set(lvl, (m.get(lvl) || 0) + 1);
        }
      }
    }
    if (!t.ok(levelsByKey.size > 0, "no request has any repository/organization permission", {})) return;
    // Prefer a key requested at one level only (so "exact level" and "at
    // least that level" agree) and by some but not all requests.
    const candidates = [...levelsByKey.entries()]
      .filter(([k]) => ["repository", "organization"].some((c) => allItems.some((r) => r.permissions?.[c]?.[k] !== undefined)))
      .map(([k, m]) => ({ k, levels: [...m.keys()], count: [...m.values()].reduce((a, b) => a + b, 0) }));
    candidates.sort(
      (a, b) =>
        (a.levels.length === 1 ? 0 : 1) - (b.levels.length === 1 ? 0 : 1) ||
        (a.count < allItems.length ? 0 : 1) - (b.count < allItems.length ? 0 : 1) ||
        b.count - a.count,
    );
    const { k, levels } = candidates[0];
    const level = levels[0];
    const param = `${k}_${level}`;
    const expected = allItems.filter((r) => CATS.some((c) => r.permissions?.[c]?.[k] === level)).map((r) => r.id);
    const { items } = await listAll(t, `permission=${param}`, { permission: param, per_page: 100 });
    t.note(`permission=${param}: expected ${expected.length} of ${allItems.length}${levels.length > 1 ? ` (key also requested at ${levels.slice(1).join(",")})` : ""}`);
    const bad = items.filter((r) => !CATS.some((c) => r.permissions?.[c]?.[k] === level));
    t.ok(!bad.length, `every result must request ${k}: ${level}`, { got: bad.slice(0, 3).map((r) => ({ id: r.id, permissions: r.permissions })) });
    t.ok(items.length === expected.length, "count must equal the client-side count", { expected: expected.length, got: items.length });
  });

  await check("direction: 'asc' -> same requests, created_at ascending", [["list", allItems]], async (t) => {
    const { items } = await listAll(t, "direction=asc", { direction: "asc", per_page: 100 });
    const ids = items.map((r) => r.id);
    t.ok(setEq(ids, allIds) && ids.length === allIds.length, "must return the same requests as the default order", {
      got: diffSets(allIds, ids),
    });
    checkOrder(t, "direction=asc", items, "asc");
    const distinct = new Set(allItems.map((r) => ts(r.created_at))).size === allItems.length;
    if (distinct) {
      t.ok(sameIds(ids, [...allIds].reverse()), "with distinct created_at, asc must be the exact reverse of desc", {
        expected: [...allIds].reverse(),
        got: ids,
      });
    }
  });

  await check("sort: 'created_at', direction: 'desc' (explicit) -> same as the default", [["list", allItems]], async (t) => {
    const { items } = await listAll(t, "sort=created_at&direction=desc", { sort: "created_at", direction: "desc", per_page: 100 });
    t.ok(sameIds(items.map((r) => r.id), allIds), "must equal the default listing", { expected: allIds, got: items.map((r) => r.id) });
  });

  await check("filter token_id=[t1,t2] (strings, sent as token_id=t1,t2): only those tokens, same count as client-side", [["list", allItems]], async (t) => {
    const tokens = [...new Set(allItems.map((r) => r.token_id))];
    const pick = tokens.length > 1 ? [tokens[0], tokens[tokens.length - 1]] : tokens.slice(0, 1);
    const want = new Set(pick.map(String));
    const expected = allItems.filter((r) => want.has(String(r.token_id))).map((r) => r.id);
    const { items } = await listAll(t, `token_id=${pick.join(",")}`, { token_id: pick.map(String), per_page: 100 });
    const bad = items.filter((r) => !want.has(String(r.token_id)));
    t.ok(!bad.length, "every result's token_id must be in the requested set", {
      expected: [...want],
      got: bad.slice(0, 5).map((r) => ({ id: r.id, token_id: r.token_id })),
    });
    t.ok(items.length === expected.length, "count must equal the client-side count", { expected: expected.length, got: items.length });
    // single value too
    const one = await listAll(t, `token_id=${pick[0]}`, { token_id: [String(pick[0])], per_page: 100 });
    const exp1 = allItems.filter((r) => String(r.token_id) === String(pick[0])).length;
    t.ok(
      one.items.length === exp1 && one.items.every((r) => String(r.token_id) === String(pick[0])),
      "single token_id filter",
      { expected: exp1, got: one.items.map((r) => r.token_id) },
    );
  });

  // ------------------------------------------------------ errors (reads)
  const maxId = allIds && allIds.length ? Math.max(...allIds.map(Number)) : undefined;
  const missingId = maxId !== undefined ? maxId + 1_000_000 : undefined;

  await check("listPatGrantRequestRepositories for an unknown pat_request_id -> 404 basic-error", [["list", allItems]], async (t) => {
    await expectError(t, "GET …/personal-access-token-requests/{unknown}/repositories", "orgs/list-pat-grant-request-repositories", 404, () =>
      R.orgs.listPatGrantRequestRepositories({ org, pat_request_id: missingId }),
    );
  });

  await check(`orgs.listPatGrantRequests({org: '${UNKNOWN_ORG}'}) -> 404 basic-error`, async (t) => {
    await expectError(t, "GET /orgs/no-such-org/personal-access-token-requests", LIST, 404, () =>
      R.orgs.listPatGrantRequests({ org: UNKNOWN_ORG }),
    );
  });

  await check("a bogus installation token (ghs_ + 36 chars) -> 401 basic-error", async (t) => {
    const bogus = makeOctokit(baseUrl, { auth: `ghs_${"0".repeat(36)}` });
    await expectError(t, "GET /orgs/{org}/personal-access-token-requests (bad token)", LIST, 401, () =>
      bogus.rest.orgs.listPatGrantRequests({ org }),
    );
  });

  await check("an app JWT signed with a different RSA key -> 401 basic-error", async (t) => {
    const { privateKey: otherKey } = generateKeyPairSync("rsa", {
      modulusLength: 2048,
      privateKeyEncoding: { type: "pkcs8", format: "pem" },
      publicKeyEncoding: { type: "spki", format: "pem" },
    });
    const forged = makeOctokit(baseUrl, { authStrategy: createAppAuth, auth: { appId, privateKey: otherKey, installationId } });
    await expectError(t, "GET /app (forged JWT)", "apps/get-authenticated", 401, () => forged.rest.apps.getAuthenticated());
  });

  const UNSUPPORTED_VERSION_BODY = {
    message: "Bad Request",
    errors:
      'The version you specified in the "X-GitHub-API-Version" request header, "1999-01-01", is not a supported version. The following versions are currently supported: "2026-03-10" (most recent) and "2022-11-28".',
    documentation_url: "https://docs.github.com/rest",
    status: "400",
  };
  await check(
    'X-GitHub-Api-Version: 1999-01-01 -> 400 whose body is exactly GitHub\'s {message: "Bad Request", errors: "The version you specified …", documentation_url, status: "400"}; 2022-11-28 and 2026-03-10 -> 200',
    async (t) => {
      const e = await expectError(t, "GET /orgs/{org}/personal-access-token-requests (X-GitHub-Api-Version: 1999-01-01)", LIST, 400, () =>
        octokit.request("GET /orgs/{org}/personal-access-token-requests", { org, headers: { "x-github-api-version": "1999-01-01" } }),
      );
      if (e) {
        t.ok(canon(e.response.data) === canon(UNSUPPORTED_VERSION_BODY), "400 body must deep-equal GitHub's", {
          expected: UNSUPPORTED_VERSION_BODY,
          got: e.response.data,
        });
      }
      for (const version of ["2022-11-28", "2026-03-10"]) {
        await expectOk(t, `GET /orgs/{org}/personal-access-token-requests (X-GitHub-Api-Version: ${version})`, LIST, 200, () =>
          octokit.request("GET /orgs/{org}/personal-access-token-requests", { org, per_page: 1, headers: { "x-github-api-version": version } }),
        );
      }
    },
  );

  // ------------------------------------------------------------- reviews
  // distinct pending ids for the state-changing checks (the subset request
  // used above is kept out so its repositories stay readable)
  const pool = allItems ? allItems.map((r) => r.id).filter((id) => !firstSubset || id !== firstSubset.id) : [];
  const [approveId, denyId, bulkA, bulkB, mixPending, forbidId, invalidId] = pool.length >= 7 ? pool : [];

  async function pendingIds(t) {
    const { items } = await listAll(t, "pending list", { per_page: 100 });
    return items.map((r) => r.id);
  }

  // A single review and a bulk review (each [label, octokit parameters]) that
  // must both fail with `status`; request `id` must still be pending after.
  async function refusedReviews(t, status, id, [singleLabel, single], [bulkLabel, bulk]) {
    await expectError(t, singleLabel, "orgs/review-pat-grant-request", status, () => R.orgs.reviewPatGrantRequest(single));
    await expectError(t, bulkLabel, "orgs/review-pat-grant-requests-in-bulk", status, () => R.orgs.reviewPatGrantRequestsInBulk(bulk));
    const ids = await pendingIds(t);
    t.ok(ids.includes(id), "request must still be pending", { expected: id });
  }

  // A token of the demo installation narrowed to `permissions` (201 checked,
  // named `what`): the answer, or undefined when it holds no token.
  async function narrowedToken(t, what, permissions) {
    const res = await expectOk(t, `POST /app/installations/{id}/access_tokens (${what})`, "apps/create-installation-access-token", 201, () =>
      R.apps.createInstallationAccessToken({ installation_id: installationId, permissions }),
    );
    return res && typeof res.data?.token === "string" ? res : undefined;
  }

  const approved = await check(
    "orgs.reviewPatGrantRequest({action: 'approve'}) -> 204 without body",
    [["seven pending requests", approveId]],
    async (t) => {
      const res = await expectOk(t, "POST …/personal-access-token-requests/{id} approve", "orgs/review-pat-grant-request", 204, () =>
        R.orgs.reviewPatGrantRequest({ org, pat_request_id: approveId, action: "approve" }),
      );
      return res ? true : undefined;
    },
  );

  await check("the approved request is no longer in the pending list", [["approve", approved]], async (t) => {
    const ids = await pendingIds(t);
    t.ok(!ids.includes(approveId), "approved id still listed", { got: approveId });
    t.ok(ids.length === allIds.length - 1, "exactly one request left the list", { expected: allIds.length - 1, got: ids.length });
  });

  await check(
    "reviewing an already approved request again -> 422 validation-error (message + documentation_url)",
    [["approve", approved]],
    async (t) => {
      for (const action of ["approve", "deny"]) {
        const e = await expectError(t, `review again (${action})`, "orgs/review-pat-grant-request", 422, () =>
          R.orgs.reviewPatGrantRequest({ org, pat_request_id: approveId, action }),
        );
        if (e) {
          const d = e.response.data || {};
          t.ok(typeof d.message === "string" && typeof d.documentation_url === "string", "422 body needs message and documentation_url", {
            got: d,
          });
        }
      }
    },
  );

  const denied = await check(
    "orgs.reviewPatGrantRequest({action: 'deny', reason}) -> 204, request leaves the pending list",
    [["seven pending requests", denyId]],
    async (t) => {
      const res = await expectOk(t, "POST …/personal-access-token-requests/{id} deny", "orgs/review-pat-grant-request", 204, () =>
        R.orgs.reviewPatGrantRequest({ org, pat_request_id: denyId, action: "deny", reason: "Access is too broad." }),
      );
      if (!res) return undefined;
      const ids = await pendingIds(t);
      t.ok(!ids.includes(denyId), "denied id still listed", { got: denyId });
      return true;
    },
  );

  await check(
    "orgs.reviewPatGrantRequestsInBulk({pat_request_ids: [a, b], action: 'deny', reason}) -> 202 with body {}",
    [["seven pending requests", bulkA]],
    async (t) => {
      const res = await expectOk(t, "POST /orgs/{org}/personal-access-token-requests (bulk deny)", "orgs/review-pat-grant-requests-in-bulk", 202, () =>
        R.orgs.reviewPatGrantRequestsInBulk({ org, pat_request_ids: [bulkA, bulkB], action: "deny", reason: "Bulk cleanup." }),
      );
      if (!res) return;
      t.ok(
        res.data && typeof res.data === "object" && !Array.isArray(res.data) && Object.keys(res.data).length === 0,
        "202 body must be the JSON object {}",
        { got: res.data, excerpt: `content-type: ${res.headers["content-type"]}` },
      );
      const ids = await pendingIds(t);
      t.ok(!ids.includes(bulkA) && !ids.includes(bulkB), "bulk-denied ids must leave the pending list", {
        got: [bulkA, bulkB].filter((x) => ids.includes(x)),
      });
    },
  );

  await check(
    "bulk review mixing a pending and an already reviewed id -> 422 validation-error, nothing changes",
    [["approve", approved], ["pending id", mixPending]],
    async (t) => {
      await expectError(t, "POST /orgs/{org}/personal-access-token-requests (mixed)", "orgs/review-pat-grant-requests-in-bulk", 422, () =>
        R.orgs.reviewPatGrantRequestsInBulk({ org, pat_request_ids: [mixPending, approveId], action: "approve" }),
      );
      const ids = await pendingIds(t);
      t.ok(ids.includes(mixPending), "the pending id must still be pending (the bulk call is all-or-nothing)", { expected: mixPending });
      t.ok(!ids.includes(approveId), "the approved id must stay reviewed", { got: approveId });
    },
  );

  await check("reviewPatGrantRequest for an unknown pat_request_id -> 404 basic-error", [["list", allItems]], async (t) => {
    await expectError(t, "POST …/personal-access-token-requests/{unknown}", "orgs/review-pat-grant-request", 404, () =>
      R.orgs.reviewPatGrantRequest({ org, pat_request_id: missingId, action: "approve" }),
    );
  });

  await check(
    `review calls for org '${UNKNOWN_ORG}' -> 404 basic-error, nothing changes`,
    [["pending id", mixPending]],
    async (t) => {
      await refusedReviews(
        t,
        404,
        mixPending,
        ["POST /orgs/no-such-org/personal-access-token-requests/{id}", { org: UNKNOWN_ORG, pat_request_id: mixPending, action: "deny" }],
        ["POST /orgs/no-such-org/personal-access-token-requests", { org: UNKNOWN_ORG, pat_request_ids: [mixPending], action: "deny" }],
      );
    },
  );

  await check(
    "invalid review bodies (action 'maybe'; pat_request_ids: []) -> 422 validation-error, nothing changes",
    [["pending id", invalidId]],
    async (t) => {
      await refusedReviews(
        t,
        422,
        invalidId,
        ["review with action=maybe", { org, pat_request_id: invalidId, action: "maybe" }],
        ["bulk review with pat_request_ids=[]", { org, pat_request_ids: [], action: "approve" }],
      );
    },
  );

  await check(
    "installation token narrowed to organization_personal_access_token_requests: read -> can list, review is 403 basic-error",
    [["pending id", forbidId]],
    async (t) => {
      const perms = { organization_personal_access_token_requests: "read" };
      const res = await narrowedToken(t, "narrowed", perms);
      if (!res) return;
      t.ok(
        res.data.permissions && JSON.stringify(res.data.permissions) === JSON.stringify(perms),
        "the narrowed token's permissions must be exactly the requested ones",
        { expected: perms, got: res.data.permissions },
      );
      const ro = makeOctokit(baseUrl, { auth: res.data.token });
      await expectOk(t, "list with read-only token", LIST, 200, () => ro.rest.orgs.listPatGrantRequests({ org, per_page: 1 }));
      await expectError(t, "review with read-only token", "orgs/review-pat-grant-request", 403, () =>
        ro.rest.orgs.reviewPatGrantRequest({ org, pat_request_id: forbidId, action: "deny" }),
      );
      const ids = await pendingIds(t);
      t.ok(ids.includes(forbidId), "request must still be pending after the 403", { expected: forbidId });
    },
  );

  await check("final pending list = initial list minus exactly the reviewed requests", [["list", allItems], ["approve", approved], ["deny", denied]], async (t) => {
    const ids = await pendingIds(t);
    const reviewed = new Set([approveId, denyId, bulkA, bulkB]);
    const expected = allIds.filter((id) => !reviewed.has(id));
    t.ok(sameIds(ids, expected), "pending ids (in order)", { expected, got: ids });
  });

  // ============================================================== grants
  // Approving a request creates a grant. GET /orgs/{org}/personal-access-tokens
  // lists the ACTIVE grants, newest access_granted_at first, with the same
  // filters / sort / paging as the request list. Grants are matched to the
  // requests they came from by token_id (the grant object has no request id).
  const GRANTS = "orgs/list-pat-grants";
  const grantListSchema = S.response(GRANTS, 200).validate;
  const reqById = new Map((allItems || []).map((r) => [r.id, r]));
  const ACCEPTED_HEADER = "x-accepted-github-permissions";

  async function listAllGrants(t, label, params, octo = octokit) {
    return paginateValidated(t, label, octo, octo.rest.orgs.listPatGrants, { org, ...params }, grantListSchema);
  }
  async function grantIds(t, label = "grant list") {
    const { items } = await listAllGrants(t, label, { per_page: 100 });
    return items.map((g) => g.id);
  }
  // listPatGrants({per_page: 100}), its 200 and schema checked.
  async function grantsPage(t) {
    return expectOk(t, "GET /orgs/{org}/personal-access-tokens?per_page=100", GRANTS, 200, () => R.orgs.listPatGrants({ org, per_page: 100 }));
  }
  // Revokes grant `id` by revoke() (a 204, named `what`): the grant must leave
  // the list and the others stay in order. True once revoked.
  async function revokesOne(t, what, id, revoke) {
    const before = await grantIds(t, "grants before");
    const res = await expectOk(t, `POST /orgs/{org}/personal-access-tokens/{pat_id} ${what}`, "orgs/update-pat-access", 204, revoke);
    if (!res) return undefined;
    const after = await grantIds(t, "grants after");
    const expected = before.filter((x) => x !== id);
    t.ok(sameIds(after, expected), "list after = list before minus the revoked grant", { expected, got: after });
    return true;
  }
  // X-Accepted-GitHub-Permissions: "a=read,b=write; c=read" (alternatives separated by ";")
  function acceptedPermissions(t, label, e, want) {
    const h = e && e.response && e.response.headers ? e.response.headers[ACCEPTED_HEADER] : undefined;
    const sets = typeof h === "string" ? h.split(";").map((alt) => alt.split(",").map((x) => x.trim()).filter(Boolean)) : [];
    t.ok(
      sets.some((s) => s.includes(want)),
      `${label}: the 403 must carry X-Accepted-GitHub-Permissions naming ${want}`,
      { expected: want, got: h === undefined ? "(header absent)" : h },
    );
  }

  const grantsBefore = await check(
    "orgs.listPatGrants({org, per_page: 100}) -> 200, items are GitHub's organization-programmatic-access-grant schema; the request approved above is a grant with its token_id",
    [["list", allItems]],
    async (t) => {
      const res = await grantsPage(t);
      if (!res) return undefined;
      if (!Array.isArray(res.data)) return t.fail("body must be a JSON array", { got: res.data });
      if (approved) {
        const tok = reqById.get(approveId).token_id;
        t.ok(
          res.data.some((g) => g.token_id === tok),
          "the request approved by reviewPatGrantRequest must be listed as a grant with the same token_id",
          { expected: { token_id: tok }, got: res.data.map((g) => ({ id: g.id, token_id: g.token_id })) },
        );
      } else {
        t.note("the single approval above failed; only the bulk approval below is checked");
      }
      return res.data;
    },
  );

  const N_GRANTS = 8;
  const grantedReqs = await check(
    `orgs.reviewPatGrantRequestsInBulk({action: 'approve'}) for ${N_GRANTS} pending requests (distinct tokens, incl. a subset one) -> 202 {}, they leave the pending list`,
    [["grant list", grantsBefore], ["a request with repository_selection=subset", firstSubset]],
    async (t) => {
      // access_granted_at has one-second resolution: make these grants
      // strictly newer than the one approved above.
      await sleep(1100);
      const pending = new Set(await pendingIds(t));
      const taken = new Set(grantsBefore.map((g) => String(g.token_id)));
      const chosen = [];
      for (const r of [firstSubset, ...allItems]) {
        if (chosen.length >= N_GRANTS || !pending.has(r.id) || chosen.includes(r) || taken.has(String(r.token_id))) continue;
        taken.add(String(r.token_id));
        chosen.push(r);
      }
      if (!t.ok(chosen.length === N_GRANTS && chosen[0] === firstSubset, `need ${N_GRANTS} pending requests with distinct, not yet granted tokens`, {
        got: chosen.map((r) => ({ id: r.id, token_id: r.token_id })),
      }))
        return undefined;
      const res = await expectOk(t, "POST /orgs/{org}/personal-access-token-requests (bulk approve)", "orgs/review-pat-grant-requests-in-bulk", 202, () =>
        R.orgs.reviewPatGrantRequestsInBulk({ org, pat_request_ids: chosen.map((r) => r.id), action: "approve" }),
      );
      if (!res) return undefined;
      t.ok(res.data && typeof res.data === "object" && !Array.isArray(res.data) && Object.keys(res.data).length === 0, "202 body must be {}", {
        got: res.data,
      });
      const after = await pendingIds(t);
      const still = chosen.filter((r) => after.includes(r.id)).map((r) => r.id);
      t.ok(!still.length, "approved requests must leave the pending list", { got: still });
      return chosen;
    },
  );

  // grant objects of the bulk-approved requests (by request id), and the full list
  const grantState = await check(
    "after the approvals: listPatGrants = previous grants + one new grant per approved request (same token_id, owner, repository_selection, permissions, token_name)",
    [["approved requests", grantedReqs]],
    async (t) => {
      const res = await grantsPage(t);
      if (!res || !Array.isArray(res.data)) return t.fail("body must be a JSON array", { got: res && res.data });
      const items = res.data;
      const beforeIds = grantsBefore.map((g) => g.id);
      const ids = items.map((g) => g.id);
      const lost = beforeIds.filter((id) => !ids.includes(id));
      t.ok(!lost.length, "grants listed before the approval must still be listed", { got: lost });
      const fresh = items.filter((g) => !beforeIds.includes(g.id));
      t.ok(fresh.length === grantedReqs.length, "exactly one new grant per approved request", {
        expected: grantedReqs.length,
        got: fresh.map((g) => ({ id: g.id, token_id: g.token_id })),
      });
      const grantOf = new Map();
      for (const r of grantedReqs) {
        const matches = fresh.filter((g) => g.token_id === r.token_id);
        if (!t.ok(matches.length === 1, `request ${r.id}: exactly one new grant with its token_id`, {
          expected: { token_id: r.token_id },
          got: matches.map((g) => g.id),
        }))
          continue;
        const g = matches[0];
        grantOf.set(r.id, g);
        const same = (k, a, b) => t.ok(JSON.stringify(a) === JSON.stringify(b), `grant ${g.id} (request ${r.id}): ${k} must equal the request's`, { expected: b, got: a });
        same("owner.login", g.owner && g.owner.login, r.owner && r.owner.login);
        same("repository_selection", g.repository_selection, r.repository_selection);
        same("token_name", g.token_name, r.token_name);
        const norm = (p) => Object.fromEntries(["organization", "repository", "other"].map((c) => [c, Object.entries((p && p[c]) || {}).sort()]));
        same("permissions", norm(g.permissions), norm(r.permissions));
        let u;
        try {
          u = new URL(g.repositories_url);
        } catch {}
        t.ok(
          u && u.origin === new URL(baseUrl).origin && u.pathname.endsWith(`/personal-access-tokens/${g.id}/repositories`),
          `grant ${g.id}: repositories_url must be an absolute URL on base_url ending in /personal-access-tokens/${g.id}/repositories`,
          { got: g.repositories_url },
        );
      }
      t.ok(!res.headers.link, "everything fits in per_page=100: no Link header", { got: res.headers.link });
      return { items, grantOf };
    },
  );
  const grantItems = grantState && grantState.items;
  const grantIdsAll = grantItems && grantItems.map((g) => g.id);
  const grantOfReq = (r) => (grantState && r ? grantState.grantOf.get(r.id) : undefined);
  // gReasonA / gReasonB: left for the revocations with and without a reason (after the final-list check)
  const [gSubset, gRevoke, gBulkA, gBulkB, gMix, gForbid, gReasonA, gReasonB] = (grantedReqs || []).map(grantOfReq);

  await check("grants are ordered by access_granted_at descending (the bulk-approved grants before the one approved earlier)", [["grant list", grantItems]], (t) => {
    checkOrder(t, "grant list", grantItems, "desc", "access_granted_at");
    const old = approved ? grantItems.find((g) => g.token_id === reqById.get(approveId).token_id) : undefined;
    if (old) {
      const fresh = [...grantState.grantOf.values()];
      const notNewer = fresh.filter((g) => !(ts(g.access_granted_at) > ts(old.access_granted_at)));
      t.ok(!notNewer.length, "grants approved >1s later must have a later access_granted_at", {
        expected: `> ${old.access_granted_at}`,
        got: notNewer.map((g) => ({ id: g.id, access_granted_at: g.access_granted_at })),
      });
      const idx = grantItems.indexOf(old);
      const after = fresh.filter((g) => grantItems.indexOf(g) > idx).map((g) => g.id);
      t.ok(!after.length, "the older grant must come after the newer ones", { got: { older: old.id, listed_after_it: after } });
    }
  });

  await check(
    "octokit.paginate(listPatGrants, {per_page: 4}): every page validates, no duplicates, Link rel=next/last, equals the per_page=100 list",
    [["grant list", grantItems]],
    async (t) => {
      const { items, pages } = await listAllGrants(t, "grants per_page=4", { per_page: 4 });
      const ids = items.map((g) => g.id);
      const dups = ids.filter((id, i) => ids.indexOf(id) !== i);
      t.ok(!dups.length, "duplicate ids across pages", { got: dups });
      t.ok(sameIds(ids, grantIdsAll), "paginated ids must equal the per_page=100 call (same order)", { expected: grantIdsAll, got: ids });
      const expectedPages = Math.ceil(grantIdsAll.length / 4);
      t.ok(pages.length === expectedPages, "number of pages", { expected: expectedPages, got: pages.length });
      if (pages.length >= 2) {
        const rels = parseLink(pages[0].headers.link);
        t.ok(rels.next && qp(rels.next, "page") === "2" && qp(rels.next, "per_page") === "4", 'page 1: rel="next" -> page=2&per_page=4', {
          got: pages[0].headers.link,
        });
        t.ok(rels.last && qp(rels.last, "page") === String(expectedPages), `page 1: rel="last" -> page=${expectedPages}`, { got: pages[0].headers.link });
        t.ok(!rels.prev, 'page 1: no rel="prev"', { got: pages[0].headers.link });
        const lastRels = parseLink(pages[pages.length - 1].headers.link);
        t.ok(!lastRels.next && lastRels.prev, 'last page: rel="prev", no rel="next"', { got: pages[pages.length - 1].headers.link });
      }
    },
  );

  await checkLastOnEveryPage("listPatGrants", "/orgs/{org}/personal-access-tokens", GRANTS, ["grant list", grantItems], {
    listWhole: (t) => listAllGrants(t, "grants per_page=100", { per_page: 100 }),
    listPage: (page) => R.orgs.listPatGrants({ org, per_page: 1, page }),
  });

  await check("grant filters owner=[…] and token_id=[…]: exactly the matching grants (client-side count)", [["grant list", grantItems]], async (t) => {
    const { logins, pick, expected } = ownerPick(grantItems, 1);
    if (!t.ok(logins.length >= 2, "the grants should come from at least two owners", { got: logins })) return;
    const { items, pages } = await listAllGrants(t, `grants owner=${pick.join(",")}`, { owner: pick, per_page: 100 });
    noteOwnerQuery(t, pick, pages, expected, grantItems.length);
    t.ok(sameIds(items.map((g) => g.id), expected), "owner filter: ids (in order) must equal the client-side filter", {
      expected,
      got: items.map((g) => ({ id: g.id, owner: g.owner && g.owner.login })),
    });
    const toks = [grantItems[0], grantItems[grantItems.length - 1]].map((g) => String(g.token_id));
    const expT = grantItems.filter((g) => toks.includes(String(g.token_id))).map((g) => g.id);
    const byTok = await listAllGrants(t, `grants token_id=${toks.join(",")}`, { token_id: toks, per_page: 100 });
    t.ok(sameIds(byTok.items.map((g) => g.id), expT), "token_id filter: ids (in order) must equal the client-side filter", {
      expected: expT,
      got: byTok.items.map((g) => ({ id: g.id, token_id: g.token_id })),
    });
  });

  await check(
    "orgs.listPatGrantRepositories({org, pat_id}) for the subset grant -> 200, items are GitHub's minimal-repository schema, same repositories as the request; repositories_url serves the same list",
    [["subset grant", gSubset], ["repositories of the subset request", subsetRepos]],
    async (t) => {
      const res = await expectOk(t, "GET /orgs/{org}/personal-access-tokens/{pat_id}/repositories", "orgs/list-pat-grant-repositories", 200, () =>
        R.orgs.listPatGrantRepositories({ org, pat_id: gSubset.id, per_page: 100 }),
      );
      if (!res) return;
      if (!Array.isArray(res.data)) return t.fail("body must be an array", { got: res.data });
      const names = res.data.map((r) => r.full_name);
      const expected = subsetRepos.map((r) => r.full_name);
      t.ok(setEq(names, expected) && names.length === expected.length, "the grant's repositories must be the approved request's repositories", {
        expected,
        got: names,
      });
      const viaUrl = await expectOk(t, `GET repositories_url (${gSubset.repositories_url})`, "orgs/list-pat-grant-repositories", 200, () =>
        octokit.request(`GET ${gSubset.repositories_url}`, { per_page: 100 }),
      );
      if (viaUrl && Array.isArray(viaUrl.data)) {
        t.ok(sameIds(viaUrl.data.map((r) => r.id), res.data.map((r) => r.id)), "repositories_url must serve the same list", {
          expected: res.data.map((r) => r.id),
          got: viaUrl.data.map((r) => r.id),
        });
      }
    },
  );

  const missingGrant = grantIdsAll && grantIdsAll.length ? Math.max(...grantIdsAll) + 1_000_000 : undefined;
  await check(
    `unknown grant / org: listPatGrantRepositories({pat_id: unknown}) and listPatGrants({org: '${UNKNOWN_ORG}'}) -> 404 basic-error`,
    [["grant list", grantItems]],
    async (t) => {
      await expectError(t, "GET …/personal-access-tokens/{unknown}/repositories", "orgs/list-pat-grant-repositories", 404, () =>
        R.orgs.listPatGrantRepositories({ org, pat_id: missingGrant }),
      );
      await expectError(t, "GET /orgs/no-such-org/personal-access-tokens", GRANTS, 404, () => R.orgs.listPatGrants({ org: UNKNOWN_ORG }));
    },
  );

  const revokedOne = await check(
    "orgs.updatePatAccess({pat_id, action: 'revoke'}) -> 204 without body; the grant leaves the list, the others stay in order",
    [["grant to revoke", gRevoke]],
    (t) => revokesOne(t, "revoke", gRevoke.id, () => R.orgs.updatePatAccess({ org, pat_id: gRevoke.id, action: "revoke" })),
  );

  await check(
    "revoking the revoked grant again -> 422 validation-error; unknown pat_id -> 404 basic-error; nothing changes",
    [["revoked grant", revokedOne]],
    async (t) => {
      const before = await grantIds(t, "grants before");
      const e = await expectError(t, "POST …/personal-access-tokens/{revoked} revoke", "orgs/update-pat-access", 422, () =>
        R.orgs.updatePatAccess({ org, pat_id: gRevoke.id, action: "revoke" }),
      );
      if (e) {
        const d = e.response.data || {};
        t.ok(typeof d.message === "string" && typeof d.documentation_url === "string", "422 body needs message and documentation_url", { got: d });
      }
      await expectError(t, "POST …/personal-access-tokens/{unknown} revoke", "orgs/update-pat-access", 404, () =>
        R.orgs.updatePatAccess({ org, pat_id: missingGrant, action: "revoke" }),
      );
      const after = await grantIds(t, "grants after");
      t.ok(sameIds(after, before), "grant list must be unchanged", { expected: before, got: after });
    },
  );

  const bulkRevoked = await check(
    "orgs.updatePatAccesses({pat_ids: [a, b], action: 'revoke'}) -> 202 with body {}; both grants leave the list",
    [["grants to revoke", gBulkA && gBulkB]],
    async (t) => {
      const before = await grantIds(t, "grants before");
      const res = await expectOk(t, "POST /orgs/{org}/personal-access-tokens (bulk revoke)", "orgs/update-pat-accesses", 202, () =>
        R.orgs.updatePatAccesses({ org, pat_ids: [gBulkA.id, gBulkB.id], action: "revoke" }),
      );
      if (!res) return undefined;
      t.ok(
        res.data && typeof res.data === "object" && !Array.isArray(res.data) && Object.keys(res.data).length === 0,
        "202 body must be the JSON object {}",
        { got: res.data, excerpt: `content-type: ${res.headers["content-type"]}` },
      );
      const after = await grantIds(t, "grants after");
      const expected = before.filter((id) => id !== gBulkA.id && id !== gBulkB.id);
      t.ok(sameIds(after, expected), "list after = list before minus the two revoked grants", { expected, got: after });
      return true;
    },
  );

  await check(
    "bulk revoke mixing an active and a revoked grant (and an active and an unknown one) -> 422 validation-error, nothing changes",
    [["revoked grant", revokedOne], ["active grant", gMix]],
    async (t) => {
      const before = await grantIds(t, "grants before");
      t.ok(before.includes(gMix.id), "the active grant must be listed before the call", { expected: gMix.id });
      await expectError(t, "POST /orgs/{org}/personal-access-tokens [active, revoked]", "orgs/update-pat-accesses", 422, () =>
        R.orgs.updatePatAccesses({ org, pat_ids: [gMix.id, gRevoke.id], action: "revoke" }),
      );
      await expectError(t, "POST /orgs/{org}/personal-access-tokens [active, unknown]", "orgs/update-pat-accesses", 422, () =>
        R.orgs.updatePatAccesses({ org, pat_ids: [gMix.id, missingGrant], action: "revoke" }),
      );
      const after = await grantIds(t, "grants after");
      t.ok(after.includes(gMix.id), "the active grant must stay active (the bulk call is all-or-nothing)", { expected: gMix.id });
      t.ok(sameIds(after, before), "grant list must be unchanged", { expected: before, got: after });
    },
  );

  await check(
    "invalid revoke bodies (action 'approve'; pat_ids: []) -> 422 validation-error, nothing changes",
    [["active grant", gMix]],
    async (t) => {
      const before = await grantIds(t, "grants before");
      await expectError(t, "updatePatAccess with action=approve", "orgs/update-pat-access", 422, () =>
        R.orgs.updatePatAccess({ org, pat_id: gMix.id, action: "approve" }),
      );
      await expectError(t, "updatePatAccesses with pat_ids=[]", "orgs/update-pat-accesses", 422, () =>
        R.orgs.updatePatAccesses({ org, pat_ids: [], action: "revoke" }),
      );
      const after = await grantIds(t, "grants after");
      t.ok(sameIds(after, before), "grant list must be unchanged", { expected: before, got: after });
    },
  );

  await check(
    "token narrowed to organization_personal_access_tokens: read -> can list grants and their repositories; revoke is 403 basic-error with X-Accepted-GitHub-Permissions",
    [["active grant", gForbid], ["subset grant", gSubset]],
    async (t) => {
      const res = await narrowedToken(t, "tokens: read", { organization_personal_access_tokens: "read" });
      if (!res) return;
      const ro = makeOctokit(baseUrl, { auth: res.data.token });
      await expectOk(t, "listPatGrants with read-only token", GRANTS, 200, () => ro.rest.orgs.listPatGrants({ org, per_page: 1 }));
      await expectOk(t, "listPatGrantRepositories with read-only token", "orgs/list-pat-grant-repositories", 200, () =>
        ro.rest.orgs.listPatGrantRepositories({ org, pat_id: gSubset.id }),
      );
      const e1 = await expectError(t, "updatePatAccess with read-only token", "orgs/update-pat-access", 403, () =>
        ro.rest.orgs.updatePatAccess({ org, pat_id: gForbid.id, action: "revoke" }),
      );
      if (e1) acceptedPermissions(t, "updatePatAccess", e1, "organization_personal_access_tokens=write");
      const e2 = await expectError(t, "updatePatAccesses with read-only token", "orgs/update-pat-accesses", 403, () =>
        ro.rest.orgs.updatePatAccesses({ org, pat_ids: [gForbid.id], action: "revoke" }),
      );
      if (e2) acceptedPermissions(t, "updatePatAccesses", e2, "organization_personal_access_tokens=write");
      const ids = await grantIds(t, "grants after");
      t.ok(ids.includes(gForbid.id), "the grant must still be active after the 403s", { expected: gForbid.id });
    },
  );

  await check(
    "token with organization_personal_access_token_requests: write only -> listPatGrants is 403 basic-error with X-Accepted-GitHub-Permissions",
    [["grant list", grantItems]],
    async (t) => {
      const res = await narrowedToken(t, "requests: write", { organization_personal_access_token_requests: "write" });
      if (!res) return;
      const rq = makeOctokit(baseUrl, { auth: res.data.token });
      const e = await expectError(t, "listPatGrants without organization_personal_access_tokens", GRANTS, 403, () => rq.rest.orgs.listPatGrants({ org }));
      if (e) acceptedPermissions(t, "listPatGrants", e, "organization_personal_access_tokens=read");
    },
  );

  await check(
    "final grant list = grants after the approvals minus exactly the revoked ones (in order)",
    [["grant list", grantItems], ["single revoke", revokedOne], ["bulk revoke", bulkRevoked]],
    async (t) => {
      const ids = await grantIds(t, "final grants");
      const gone = new Set([gRevoke.id, gBulkA.id, gBulkB.id]);
      const expected = grantIdsAll.filter((id) => !gone.has(id));
      t.ok(sameIds(ids, expected), "active grant ids (in order)", { expected, got: ids });
    },
  );

  // ------------------------------------------- revocation with a reason
  // patgate takes an optional `reason` (at most 1,024 characters, as a
  // review's) with a revocation. Two of the bulk-approved grants no check
  // above touches are revoked here, after the final-list check they would
  // otherwise change: one with a reason, one with only `action`.
  const REVOKE_REASON = "Access no longer needed: the project this token was for has ended.";
  const tooLong = await check(
    "a revocation reason over 1,024 characters -> 422 validation-error naming reason; the grant stays active, nothing changes",
    [["spare grant", gReasonA]],
    async (t) => {
      const before = await grantIds(t, "grants before");
      t.ok(before.includes(gReasonA.id), "the spare grant must be active before the call", { expected: gReasonA.id, got: before });
      const e = await expectError(t, "POST /orgs/{org}/personal-access-tokens/{pat_id} revoke, reason of 1,025 characters", "orgs/update-pat-access", 422, () =>
        octokit.request("POST /orgs/{org}/personal-access-tokens/{pat_id}", { org, pat_id: gReasonA.id, action: "revoke", reason: "x".repeat(1025) }),
      );
      if (e) {
        const errors = e.response.data?.errors;
        t.ok(Array.isArray(errors) && errors.some((x) => x && x.field === "reason"), "errors[] must name the field reason", { got: e.response.data });
      }
      const after = await grantIds(t, "grants after");
      t.ok(sameIds(after, before), "grant list must be unchanged (the grant is still active)", { expected: before, got: after });
      return t.failed ? undefined : true;
    },
  );

  const revokedWithReason = await check(
    'octokit.request("POST /orgs/{org}/personal-access-tokens/{pat_id}", {action: "revoke", reason}) -> 204 without body; the grant leaves the list, the others stay in order',
    [["spare grant", gReasonA], ["the over-long reason check", tooLong]],
    (t) =>
      revokesOne(t, "revoke with reason", gReasonA.id, () =>
        octokit.request("POST /orgs/{org}/personal-access-tokens/{pat_id}", { org, pat_id: gReasonA.id, action: "revoke", reason: REVOKE_REASON }),
      ),
  );

  const revokedPlain = await check(
    "orgs.updatePatAccess({pat_id, action: 'revoke'}) with only action (another grant) -> 204 without body; the grant leaves the list",
    [["spare grant", gReasonB]],
    (t) => revokesOne(t, "revoke without reason", gReasonB.id, () => R.orgs.updatePatAccess({ org, pat_id: gReasonB.id, action: "revoke" })),
  );

  // ------------------------------------------------ organization audit log
  // GET /orgs/{org}/audit-log (GitHub Enterprise Cloud). GitHub's
  // `audit-log-event` is not in the vendored subset (vendor-schemas.mjs reads
  // the api.github.com subset in /work/shared/reference, which has no audit
  // log): its fields and types are written out here as GitHub's GHEC
  // description gives them (@octokit/openapi-types-ghec
  // components["schemas"]["audit-log-event"]; every field optional; its
  // numbers are taken as integers, as GitHub's millisecond timestamps and ids
  // are). What the feed must hold beyond that is checked by hand.
  const typed = (type) => ({ type });
  // The fields of one JSON type, by type (the nested ones are written out below).
  const FIELDS_BY_TYPE = {
    integer: "@timestamp actor_id org_id created_at hook_id transport_protocol",
    string:
      "action actor blocked_user business content_type deploy_key_fingerprint _document_id emoji explanation " +
      "fingerprint message name old_user openssh_public_key org previous_visibility repo repository " +
      "target_login team transport_protocol_name user visibility",
    boolean: "active active_was limited_availability read_only repository_public",
    object: "data",
  };
  const arrayOfObjects = { type: "array", items: typed("object") };
  const AUDIT_LOG_EVENT = {
    type: "object",
    properties: {
      ...Object.fromEntries(Object.entries(FIELDS_BY_TYPE).flatMap(([type, names]) => names.split(" ").map((name) => [name, typed(type)]))),
      actor_location: { type: "object", properties: { country_name: typed("string") } },
      config: arrayOfObjects,
      config_was: arrayOfObjects,
      events: arrayOfObjects,
      events_were: arrayOfObjects,
    },
  };
  const auditLogListValidator = S.ajv.compile({ type: "array", items: AUDIT_LOG_EVENT });
  const AUDIT_PHRASE = "action:personal_access_token";

  // octokit.paginate over the feed (it follows rel="next" verbatim, cursors
  // and all), validating every page; returns { items, pages }
  async function auditLog(t, label, perPage, octo = octokit) {
    const params = { org, per_page: perPage, phrase: AUDIT_PHRASE };
    return paginateValidated(t, label, octo, "GET /orgs/{org}/audit-log", params, auditLogListValidator, {
      maxPages: 300,
      schema: " (audit-log-event)",
    });
  }

  // what this run did that the feed must show
  const grantedHere = (approved ? 1 : 0) + (grantedReqs ? grantedReqs.length : 0);
  const revokedHere = (revokedOne ? 1 : 0) + (bulkRevoked ? 2 : 0) + (revokedWithReason ? 1 : 0) + (revokedPlain ? 1 : 0);

  const audit = await check(
    `octokit.paginate("GET /orgs/{org}/audit-log", {per_page: 2, phrase: "${AUDIT_PHRASE}"}) -> every event once (unique _document_id), action personal_access_token.*, integer @timestamp, actor, org; newest first; items are GitHub's audit-log-event; this run's approvals and revocations are there`,
    async (t) => {
      const { items, pages } = await auditLog(t, "audit log per_page=2", 2);
      if (!t.ok(items.length > 0, "the feed must not be empty (this run approved, denied and revoked)", { got: items.length })) return undefined;
      const docIds = items.map((e) => e && e._document_id);
      const dups = docIds.filter((id, i) => docIds.indexOf(id) !== i);
      t.ok(!dups.length, "every event must appear once (duplicate _document_id across pages)", { got: dups });
      const bad = (pred) => items.filter((e) => !pred(e)).slice(0, 3);
      const noId = bad((e) => typeof e._document_id === "string" && e._document_id.length > 0);
      t.ok(!noId.length, "_document_id must be a non-empty string", { got: noId });
      const wrongAction = bad((e) => typeof e.action === "string" && e.action.startsWith("personal_access_token."));
      t.ok(!wrongAction.length, `phrase ${AUDIT_PHRASE}: every action must start with "personal_access_token."`, { got: wrongAction });
      const noTs = bad((e) => Number.isInteger(e["@timestamp"]));
      t.ok(!noTs.length, "@timestamp must be an integer (milliseconds since the epoch)", { got: noTs });
      const noActor = bad((e) => typeof e.actor === "string" && e.actor.length > 0);
      t.ok(!noActor.length, "actor must be a non-empty string", { got: noActor });
      const wrongOrg = bad((e) => e.org === org);
      t.ok(!wrongOrg.length, `org must be "${org}"`, { expected: org, got: wrongOrg });
      for (let i = 0; i + 1 < items.length; i++) {
        if (items[i]["@timestamp"] < items[i + 1]["@timestamp"]) {
          t.fail("events must be newest first (@timestamp descending)", {
            got: `index ${i}: ${items[i]._document_id} @${items[i]["@timestamp"]}, index ${i + 1}: ${items[i + 1]._document_id} @${items[i + 1]["@timestamp"]}`,
          });
          break;
        }
      }
      pages.forEach((p, i) => {
        const n = Array.isArray(p.data) ? p.data.length : -1;
        if (i < pages.length - 1) t.ok(n === 2, `page ${i + 1} must hold exactly per_page (2) events`, { got: n });
        else t.ok(n >= 1 && n <= 2, "the last page must hold 1..2 events", { got: n });
      });
      const count = (action) => items.filter((e) => e.action === `personal_access_token.${action}`).length;
      t.ok(count("access_granted") >= grantedHere, `at least the ${grantedHere} approvals of this run as personal_access_token.access_granted`, {
        expected: `>= ${grantedHere}`,
        got: count("access_granted"),
      });
      t.ok(count("access_revoked") >= revokedHere, `at least the ${revokedHere} revocations of this run as personal_access_token.access_revoked`, {
        expected: `>= ${revokedHere}`,
        got: count("access_revoked"),
      });
      t.ok(count("request_denied") >= (denied ? 1 : 0), "the denial of this run as personal_access_token.request_denied", { got: count("request_denied") });
      t.note(`${items.length} events in ${pages.length} pages: ${[...new Set(items.map((e) => e.action))].map((a) => `${a} x${items.filter((e) => e.action === a).length}`).join(", ")}`);
      return { items, pages };
    },
  );

  await check(
    'the audit log pages by cursor: the raw first page\'s Link has rel="next" with after=<cursor> (absolute, per_page and phrase kept) and no rel="last"; no page has rel="last"; every page but the last has rel="next" with after=',
    [["audit log", audit]],
    async (t) => {
      const res = await expectOk(t, `GET /orgs/{org}/audit-log?per_page=2&phrase=${AUDIT_PHRASE}`, null, 200, () =>
        octokit.request("GET /orgs/{org}/audit-log", { org, per_page: 2, phrase: AUDIT_PHRASE }),
        { validator: auditLogListValidator },
      );
      if (res) {
        const link = res.headers.link;
        const rels = parseLink(link);
        if (t.ok(rels.next, 'page 1 must have rel="next" (the feed has more than 2 events)', { got: link ?? "(no Link header)" })) {
          t.ok(!!qp(rels.next, "after"), 'rel="next" must carry a non-empty after=<cursor>', { got: rels.next });
          t.ok(rels.next.startsWith(`${baseUrl}/`), 'rel="next" must be absolute on base_url', { expected: baseUrl, got: rels.next });
          t.ok(qp(rels.next, "per_page") === "2" && qp(rels.next, "phrase") === AUDIT_PHRASE, 'rel="next" must keep per_page=2 and the phrase', { got: rels.next });
          t.ok(!qp(rels.next, "page"), 'a cursor-paged list has no page= in rel="next"', { got: rels.next });
        }
        t.ok(!rels.last, 'a cursor-paged list has no rel="last"', { got: link });
        t.ok(sameIds(res.data.map((e) => e._document_id), audit.items.slice(0, 2).map((e) => e._document_id)), "page 1 = the first 2 events of the paginated list", {
          expected: audit.items.slice(0, 2).map((e) => e._document_id),
          got: res.data.map((e) => e._document_id),
        });
      }
      audit.pages.forEach((p, i) => {
        const link = p.headers.link;
        const rels = parseLink(link);
        t.ok(!rels.last, `page ${i + 1}: no rel="last"`, { got: link });
        if (i < audit.pages.length - 1) t.ok(rels.next && !!qp(rels.next, "after"), `page ${i + 1}: rel="next" with after=`, { got: link ?? "(no Link header)" });
        else t.ok(!rels.next, 'the last page has no rel="next"', { got: link });
      });
    },
  );

  await check(
    `the audit log with per_page: 100 (octokit.paginate) = the per_page: 2 list (same events, same order)`,
    [["audit log", audit]],
    async (t) => {
      const { items } = await auditLog(t, "audit log per_page=100", 100);
      const want = audit.items.map((e) => e._document_id);
      const got = items.map((e) => e._document_id);
      t.ok(sameIds(got, want), "_document_id sequence must equal the per_page=2 list", { expected: want, got });
    },
  );

  await check(
    "the access_revoked event of the grant revoked with a reason carries that reason and the token's owner as user",
    [["audit log", audit], ["revocation with a reason", revokedWithReason]],
    async (t) => {
      const hits = audit.items.filter((e) => e.action === "personal_access_token.access_revoked" && e.reason === REVOKE_REASON);
      if (!t.ok(hits.length === 1, "exactly one access_revoked event with the reason given", {
        expected: REVOKE_REASON,
        got: audit.items.filter((e) => e.action === "personal_access_token.access_revoked").map((e) => ({ _document_id: e._document_id, user: e.user, reason: e.reason })),
      }))
        return;
      t.ok(hits[0].user === gReasonA.owner.login, "user must be the token's owner", { expected: gReasonA.owner.login, got: hits[0].user });
    },
  );

  await check(
    "a token without organization_administration (narrowed to organization_personal_access_tokens: read) -> GET /orgs/{org}/audit-log is 403 basic-error naming organization_administration=read",
    async (t) => {
      const res = await narrowedToken(t, "tokens: read", { organization_personal_access_tokens: "read" });
      if (!res) return;
      const ro = makeOctokit(baseUrl, { auth: res.data.token });
      const e = await expectError(t, "GET /orgs/{org}/audit-log without organization_administration", null, 403, () =>
        ro.request("GET /orgs/{org}/audit-log", { org, phrase: AUDIT_PHRASE }),
      );
      if (e) acceptedPermissions(t, "GET /orgs/{org}/audit-log", e, "organization_administration=read");
    },
  );

  // ----------------------------------------------- organization webhooks
  // GitHub's org-hook, webhook-config, hook-delivery-item and hook-delivery
  // are not in the vendored subset: their required fields and types are
  // written out here as GitHub's description gives them (the same shapes as
  // @octokit/openapi-types' components), and compiled with the same ajv.
  const DATE_TIME = { type: "string", format: "date-time" };
  const WEBHOOK_CONFIG = {
    type: "object",
    properties: {
      url: { type: "string", format: "uri" },
      content_type: { type: "string" },
      secret: { type: "string" },
      insecure_ssl: { type: ["string", "number"] },
    },
  };
  const ORG_HOOK = {
    type: "object",
    required: ["id", "url", "ping_url", "events", "active", "config", "updated_at", "created_at", "name", "type"],
    properties: {
      id: { type: "integer" },
      url: { type: "string", format: "uri" },
      ping_url: { type: "string", format: "uri" },
      deliveries_url: { type: "string", format: "uri" },
      name: { type: "string" },
      events: { type: "array", items: { type: "string" } },
      active: { type: "boolean" },
      config: WEBHOOK_CONFIG,
      updated_at: DATE_TIME,
      created_at: DATE_TIME,
      type: { type: "string" },
    },
  };
  const DELIVERY_ITEM_PROPS = {
    id: { type: "integer" },
    guid: { type: "string" },
    delivered_at: DATE_TIME,
    redelivery: { type: "boolean" },
    duration: { type: "number" },
    status: { type: "string" },
    status_code: { type: "integer" },
    event: { type: "string" },
    action: { type: ["string", "null"] },
    installation_id: { type: ["integer", "null"] },
    repository_id: { type: ["integer", "null"] },
    throttled_at: { type: ["string", "null"], format: "date-time" },
  };
  const DELIVERY_ITEM_REQUIRED = [
    "id", "guid", "delivered_at", "redelivery", "duration", "status", "status_code", "event", "action", "installation_id", "repository_id",
  ];
  const HOOK_DELIVERY_ITEM = { type: "object", required: DELIVERY_ITEM_REQUIRED, properties: DELIVERY_ITEM_PROPS };
  // GitHub's hook-delivery: the item, the request sent, and the response.
  const HOOK_DELIVERY = {
    type: "object",
    required: [...DELIVERY_ITEM_REQUIRED, "request", "response"],
    properties: {
      ...DELIVERY_ITEM_PROPS,
      url: { type: "string" },
      request: {
        type: "object",
        required: ["headers", "payload"],
        properties: { headers: { type: ["object", "null"] }, payload: { type: ["object", "null"] } },
      },
      response: {
        type: "object",
        required: ["headers", "payload"],
        properties: { headers: { type: ["object", "null"] }, payload: { type: ["string", "null"] } },
      },
    },
  };
  const orgHookValidator = S.ajv.compile(ORG_HOOK);
  const orgHookListValidator = S.ajv.compile({ type: "array", items: ORG_HOOK });
  const webhookConfigValidator = S.ajv.compile(WEBHOOK_CONFIG);
  const deliveryListValidator = S.ajv.compile({ type: "array", items: HOOK_DELIVERY_ITEM });
  const deliveryValidator = S.ajv.compile(HOOK_DELIVERY);
  const validationErrorValidator = S.component("validation-error");
  const emptyObjectValidator = S.ajv.compile({ type: "object", maxProperties: 0 });

  const HOOK_EVENTS = [
    "*",
    "personal_access_token_request",
    "personal_access_token_request_notification",
    "personal_access_token_request_digest",
  ];
  const HOOK_URL = "http://127.0.0.1:9/hook"; // nothing listens: deliveries stay pending
  const HOOK_URL_2 = "http://127.0.0.1:9/hook-moved";
  const MASKED = "********";
  const hooksBase = `${baseUrl}/orgs/${org}/hooks`;

  // What GitHub's org-hook promises beyond the types: its own URLs, name
  // "web", type "Organization", known events, a masked secret.
  function orgHookProblems(t, label, h) {
    if (!h || typeof h !== "object") return t.fail(`${label}: must be an object`, { got: h });
    const url = `${hooksBase}/${h.id}`;
    t.ok(h.url === url, `${label}: url must be the hook's own URL`, { expected: url, got: h.url });
    t.ok(h.ping_url === `${url}/pings`, `${label}: ping_url`, { expected: `${url}/pings`, got: h.ping_url });
    t.ok(h.deliveries_url === `${url}/deliveries`, `${label}: deliveries_url`, { expected: `${url}/deliveries`, got: h.deliveries_url });
    t.ok(h.name === "web", `${label}: name must be "web"`, { got: h.name });
    t.ok(h.type === "Organization", `${label}: type must be "Organization"`, { got: h.type });
    t.ok(Array.isArray(h.events) && h.events.length > 0 && h.events.every((e) => HOOK_EVENTS.includes(e)), `${label}: events`, {
      expected: `non-empty subset of ${HOOK_EVENTS.join(", ")}`,
      got: h.events,
    });
    configProblems(t, `${label} config`, h.config);
    t.ok(ts(h.updated_at) >= ts(h.created_at), `${label}: updated_at must not be before created_at`, { got: [h.created_at, h.updated_at] });
    return true;
  }
  function configProblems(t, label, c) {
    if (!c || typeof c !== "object") return t.fail(`${label}: must be an object`, { got: c });
    t.ok(typeof c.url === "string", `${label}: url must be a string`, { got: c.url });
    t.ok(c.content_type === "json" || c.content_type === "form", `${label}: content_type must be json or form`, { got: c.content_type });
    t.ok(c.insecure_ssl === "0", `${label}: insecure_ssl must be "0" (certificates are verified)`, { got: c.insecure_ssl });
    t.ok(c.secret === undefined || c.secret === MASKED, `${label}: a secret is only ever shown masked`, { expected: MASKED, got: c.secret });
    return true;
  }
  function sameHook(t, label, got, want, keys = ["id", "url", "ping_url", "deliveries_url", "name", "events", "active", "config", "created_at", "type"]) {
    for (const k of keys) {
      t.ok(j(got && got[k]) === j(want && want[k]), `${label}: ${k}`, { expected: want && want[k], got: got && got[k] });
    }
  }
  // the 422 octokit raises: GitHub's validation-error with errors[] naming the field
  async function expectInvalid(t, label, field, fn) {
    let res;
    try {
      res = await fn();
    } catch (e) {
      if (!e || typeof e !== "object" || !("status" in e) || !e.response) {
        t.fail(`${label}: expected an HTTP 422 RequestError`, { got: describeError(e) });
        return undefined;
      }
      t.ok(e.name === "HttpError", `${label}: octokit should throw its RequestError (HttpError)`, { got: e.name });
      t.ok(e.status === 422, `${label}: wrong status`, { expected: 422, got: e.status, excerpt: e.response.data });
      const d = e.response.data;
      schemaProblems(t, `${label} (422 body vs validation-error)`, validationErrorValidator, d);
      t.ok(Array.isArray(d?.errors) && d.errors.length > 0, `${label}: errors[] must say what is wrong`, { got: d });
      if (Array.isArray(d?.errors)) {
        t.ok(d.errors.some((x) => x && x.field === field && typeof x.code === "string"), `${label}: errors[] must name the field "${field}"`, {
          got: d.errors,
        });
      }
      return e;
    }
    t.fail(`${label}: expected octokit to throw HTTP 422`, { expected: 422, got: res.status, excerpt: res.data });
    return undefined;
  }
  function header(headers, name) {
    if (!headers || typeof headers !== "object") return undefined;
    const k = Object.keys(headers).find((x) => x.toLowerCase() === name.toLowerCase());
    return k === undefined ? undefined : headers[k];
  }

  // The demo installation has no organization_hooks; a second app, installed
  // on the same organization with organization_hooks: write, is loaded with
  // `patgate seed` (see hooksFixture) and driven through @octokit/auth-app.
  const hooksApp = await check(
    "fixture: `patgate seed` installs a second app on the org with organization_hooks: write; auth-app (client id as iss) finds it with apps.getAuthenticated / apps.getOrgInstallation",
    async (t) => {
      const keys = generateKeyPairSync("rsa", {
        modulusLength: 2048,
        privateKeyEncoding: { type: "pkcs8", format: "pem" },
        publicKeyEncoding: { type: "spki", format: "pem" },
      });
      const seedPath = join(server.tmp, "octokit-hooks-seed.json");
      writeFileSync(seedPath, JSON.stringify(hooksFixture(org, keys.publicKey), null, 2) + "\n");
      const r = await runBin(["seed", seedPath, "--data-dir", server.tmp]);
      if (!t.ok(r.code === 0, "`patgate seed <hooks fixture>` must exit 0", { got: r })) return undefined;
      const jwtClient = makeOctokit(baseUrl, { authStrategy: createAppAuth, auth: { appId: HOOKS_APP.client_id, privateKey: keys.privateKey } });
      const me = await expectOk(t, "GET /app (hooks app)", "apps/get-authenticated", 200, () => jwtClient.rest.apps.getAuthenticated());
      const inst = await expectOk(t, "GET /orgs/{org}/installation (hooks app)", "apps/get-org-installation", 200, () =>
        jwtClient.rest.apps.getOrgInstallation({ org }),
      );
      if (!me || !inst) return undefined;
      t.ok(me.data.slug === HOOKS_APP.slug, "the app is the seeded one", { expected: HOOKS_APP.slug, got: me.data.slug });
      t.ok(inst.data.id !== installationId, "a different installation than the demo's", { got: inst.data.id });
      t.ok(inst.data.permissions?.organization_hooks === "write", "the installation holds organization_hooks: write", { got: inst.data.permissions });
      const demoInst = await expectOk(t, "GET /app/installations/{demo}", "apps/get-installation", 200, () =>
        R.apps.getInstallation({ installation_id: installationId }),
      );
      t.ok(demoInst && !demoInst.data.permissions?.organization_hooks, "the demo installation must lack organization_hooks (the 403 checks rely on it)", {
        got: demoInst && demoInst.data.permissions,
      });
      if (t.failed) return undefined;
      return { jwtClient, installationId: inst.data.id, octokit: makeOctokit(baseUrl, { authStrategy: createAppAuth, auth: { appId: me.data.id, privateKey: keys.privateKey, installationId: inst.data.id } }) };
    },
  );
  const H = hooksApp && hooksApp.octokit;
  const HR = H && H.rest;

  async function hookIds(t, label) {
    const res = await expectOk(t, `${label}: listWebhooks per_page=100`, null, 200, () => HR.orgs.listWebhooks({ org, per_page: 100 }), {
      validator: orgHookListValidator,
    });
    return res && Array.isArray(res.data) ? res.data.map((h) => h.id) : [];
  }

  const hooksBefore = await check("orgs.listWebhooks({org}) -> 200 JSON array before any hook is created", [["hooks installation", H]], async (t) => {
    const ids = await hookIds(t, "before");
    return t.failed ? undefined : ids;
  });

  // A: json + secret, one event; B: "*" without a secret; C: inactive, two events.
  const created = await check(
    "orgs.createWebhook({org, name: 'web', config, events, active}) x3 -> 201 org-hook (url/ping_url/deliveries_url, type Organization, secret masked), Location = url",
    [["hooks installation", H], ["hooks before", hooksBefore]],
    async (t) => {
      const specs = [
        { label: "A", events: ["personal_access_token_request"], config: { url: HOOK_URL, content_type: "json", secret: "s3cret-a", insecure_ssl: "0" }, active: true },
        { label: "B", events: ["*"], config: { url: HOOK_URL, content_type: "json" } },
        {
          label: "C",
          events: ["personal_access_token_request_notification", "personal_access_token_request_digest"],
          config: { url: HOOK_URL, content_type: "form", secret: "s3cret-c" },
          active: false,
        },
      ];
      const out = {};
      for (const spec of specs) {
        const { label, ...params } = spec;
        const res = await expectOk(t, `POST /orgs/{org}/hooks (${label})`, null, 201, () => HR.orgs.createWebhook({ org, name: "web", ...params }), {
          validator: orgHookValidator,
        });
        if (!res) return undefined;
        const h = res.data;
        orgHookProblems(t, `hook ${label}`, h);
        t.ok(!hooksBefore.includes(h.id) && !Object.values(out).some((o) => o.id === h.id), `hook ${label}: a new id`, { got: h.id });
        t.ok(j(h.events) === j(params.events), `hook ${label}: events as given`, { expected: params.events, got: h.events });
        t.ok(h.active === (params.active ?? true), `hook ${label}: active (default true)`, { expected: params.active ?? true, got: h.active });
        t.ok(h.config?.url === params.config.url, `hook ${label}: config.url as given`, { expected: params.config.url, got: h.config?.url });
        t.ok(h.config?.content_type === params.config.content_type, `hook ${label}: config.content_type as given`, {
          expected: params.config.content_type,
          got: h.config?.content_type,
        });
        const wantSecret = params.config.secret ? MASKED : undefined;
        t.ok(h.config?.secret === wantSecret, `hook ${label}: config.secret is "${MASKED}" when set, absent otherwise`, {
          expected: wantSecret ?? "(absent)",
          got: h.config?.secret ?? "(absent)",
        });
        t.ok(h.created_at === h.updated_at, `hook ${label}: a new hook's updated_at = created_at`, { got: [h.created_at, h.updated_at] });
        t.ok(header(res.headers, "location") === h.url, `hook ${label}: Location header = url`, { expected: h.url, got: header(res.headers, "location") });
        out[label] = h;
      }
      return out;
    },
  );
  const hA = created && created.A;
  const hB = created && created.B;
  const hC = created && created.C;

  const hookList = await check(
    "orgs.listWebhooks({org, per_page: 100}) -> 200, items are org-hooks; the three new hooks are listed as created, oldest first, no Link",
    [["created hooks", hA && hB && hC]],
    async (t) => {
      const res = await expectOk(t, "GET /orgs/{org}/hooks?per_page=100", null, 200, () => HR.orgs.listWebhooks({ org, per_page: 100 }), {
        validator: orgHookListValidator,
      });
      if (!res || !Array.isArray(res.data)) return undefined;
      res.data.forEach((h, i) => orgHookProblems(t, `item ${i}`, h));
      const ids = res.data.map((h) => h.id);
      t.ok(sameIds(ids, [...hooksBefore, hA.id, hB.id, hC.id]), "list = hooks before + A, B, C (oldest first, as patgate documents)", {
        expected: [...hooksBefore, hA.id, hB.id, hC.id],
        got: ids,
      });
      for (const h of [hA, hB, hC]) {
        const item = res.data.find((x) => x.id === h.id);
        if (item) sameHook(t, `listed hook ${h.id}`, item, h, ["id", "url", "ping_url", "deliveries_url", "name", "events", "active", "config", "created_at", "updated_at", "type"]);
      }
      t.ok(!parseLink(res.headers.link).next, "no rel=next on a complete single page", { got: res.headers.link });
      return res.data;
    },
  );

  await check(
    'octokit.paginate(orgs.listWebhooks, {per_page: 1}) equals the per_page=100 list; Link: rel="next" (absolute, per_page kept) on every page but the last, rel="prev" from page 2',
    [["hook list", hookList]],
    async (t) => {
      const pages = [];
      const items = await H.paginate(HR.orgs.listWebhooks, { org, per_page: 1 }, (response, done) => {
        pages.push(response);
        if (pages.length > 50) done();
        return response.data;
      });
      pages.forEach((p, i) => {
        t.ok(p.status === 200, `page ${i + 1} status`, { expected: 200, got: p.status });
        schemaProblems(t, `page ${i + 1}`, orgHookListValidator, p.data);
      });
      t.ok(sameIds(items.map((h) => h.id), hookList.map((h) => h.id)), "paginated ids = per_page=100 ids", {
        expected: hookList.map((h) => h.id),
        got: items.map((h) => h.id),
      });
      t.ok(pages.length === hookList.length, "one page per hook", { expected: hookList.length, got: pages.length });
      pages.forEach((p, i) => {
        const link = p.headers.link;
        const rels = parseLink(link);
        if (i < pages.length - 1) {
          t.ok(rels.next && qp(rels.next, "page") === String(i + 2) && qp(rels.next, "per_page") === "1", `page ${i + 1}: rel="next" -> page=${i + 2}, per_page=1`, {
            got: link,
          });
          t.ok(rels.next && rels.next.startsWith(`${baseUrl}/`), `page ${i + 1}: rel="next" is absolute on base_url`, { expected: baseUrl, got: rels.next });
        } else {
          t.ok(!rels.next, 'the last page has no rel="next"', { got: link });
        }
        if (i > 0) t.ok(rels.prev && qp(rels.prev, "page") === String(i), `page ${i + 1}: rel="prev" -> page=${i}`, { got: link });
        else t.ok(!rels.prev, 'page 1 has no rel="prev"', { got: link });
      });
      if (pages[0]) {
        const last = parseLink(pages[0].headers.link).last;
        t.ok(last && qp(last, "page") === String(pages.length), `page 1: rel="last" -> page=${pages.length}`, { got: pages[0].headers.link });
      }
    },
  );

  await check("orgs.getWebhook({org, hook_id}) -> 200 org-hook equal to the created one", [["created hooks", hA && hB && hC]], async (t) => {
    for (const h of [hA, hB, hC]) {
      const res = await expectOk(t, `GET /orgs/{org}/hooks/${h.id}`, null, 200, () => HR.orgs.getWebhook({ org, hook_id: h.id }), {
        validator: orgHookValidator,
      });
      if (!res) continue;
      orgHookProblems(t, `hook ${h.id}`, res.data);
      sameHook(t, `hook ${h.id}`, res.data, h, ["id", "url", "ping_url", "deliveries_url", "name", "events", "active", "config", "created_at", "updated_at", "type"]);
    }
  });

  const updatedA = await check(
    "orgs.updateWebhook({org, hook_id, events, config: {url}}) -> 200 org-hook: the fields given change, the others (content_type, masked secret, active, created_at) stay; active: true re-enables C",
    [["created hooks", hA && hC]],
    async (t) => {
      await sleep(1100); // so updated_at can move past created_at (whole seconds)
      const events = ["personal_access_token_request", "personal_access_token_request_notification"];
      const res = await expectOk(t, "PATCH /orgs/{org}/hooks/{A}", null, 200, () =>
        HR.orgs.updateWebhook({ org, hook_id: hA.id, events, config: { url: HOOK_URL_2 } }),
        { validator: orgHookValidator },
      );
      if (!res) return undefined;
      const h = res.data;
      orgHookProblems(t, "updated A", h);
      t.ok(j(h.events) === j(events), "events replaced", { expected: events, got: h.events });
      t.ok(h.config?.url === HOOK_URL_2, "config.url changed", { expected: HOOK_URL_2, got: h.config?.url });
      t.ok(h.config?.content_type === hA.config.content_type, "config.content_type unchanged", { expected: hA.config.content_type, got: h.config?.content_type });
      t.ok(h.config?.secret === MASKED, "the secret stays (masked)", { expected: MASKED, got: h.config?.secret });
      t.ok(h.active === hA.active, "active unchanged", { expected: hA.active, got: h.active });
      sameHook(t, "updated A", h, hA, ["id", "url", "ping_url", "deliveries_url", "name", "created_at", "type"]);
      t.ok(ts(h.updated_at) > ts(hA.updated_at), "updated_at moves forward", { expected: `> ${hA.updated_at}`, got: h.updated_at });
      const again = await expectOk(t, "GET /orgs/{org}/hooks/{A} after the update", null, 200, () => HR.orgs.getWebhook({ org, hook_id: hA.id }), {
        validator: orgHookValidator,
      });
      if (again) sameHook(t, "A read back", again.data, h, ["events", "config", "active", "updated_at"]);
      const c = await expectOk(t, "PATCH /orgs/{org}/hooks/{C} active: true", null, 200, () => HR.orgs.updateWebhook({ org, hook_id: hC.id, active: true }), {
        validator: orgHookValidator,
      });
      if (c) {
        t.ok(c.data.active === true, "C active after the update", { got: c.data.active });
        t.ok(j(c.data.events) === j(hC.events) && j(c.data.config) === j(hC.config), "C events and config unchanged", {
          expected: { events: hC.events, config: hC.config },
          got: { events: c.data.events, config: c.data.config },
        });
      }
      return t.failed ? undefined : h;
    },
  );

  await check(
    "orgs.getWebhookConfigForOrg / updateWebhookConfigForOrg -> 200 webhook-config {url, content_type, insecure_ssl, secret masked}; partial updates keep the rest; an empty secret removes it",
    [["updated hook A", updatedA], ["hook B", hB]],
    async (t) => {
      const got = await expectOk(t, "GET /orgs/{org}/hooks/{A}/config", null, 200, () => HR.orgs.getWebhookConfigForOrg({ org, hook_id: hA.id }), {
        validator: webhookConfigValidator,
      });
      if (got) {
        configProblems(t, "config of A", got.data);
        t.ok(j(got.data) === j(updatedA.config), "equals the hook's config", { expected: updatedA.config, got: got.data });
      }
      const form = await expectOk(t, "PATCH /orgs/{org}/hooks/{A}/config content_type=form", null, 200, () =>
        HR.orgs.updateWebhookConfigForOrg({ org, hook_id: hA.id, content_type: "form" }),
        { validator: webhookConfigValidator },
      );
      if (form) {
        configProblems(t, "config of A after the update", form.data);
        t.ok(form.data.content_type === "form", "content_type changed", { got: form.data.content_type });
        t.ok(form.data.url === HOOK_URL_2 && form.data.secret === MASKED, "url and secret stay", { got: form.data });
      }
      const hook = await expectOk(t, "GET /orgs/{org}/hooks/{A} after the config update", null, 200, () => HR.orgs.getWebhook({ org, hook_id: hA.id }), {
        validator: orgHookValidator,
      });
      if (hook && form) t.ok(j(hook.data.config) === j(form.data), "the hook shows the new config", { expected: form.data, got: hook.data.config });
      const set = await expectOk(t, "PATCH /orgs/{org}/hooks/{B}/config secret=…", null, 200, () =>
        HR.orgs.updateWebhookConfigForOrg({ org, hook_id: hB.id, secret: "s3cret-b" }),
        { validator: webhookConfigValidator },
      );
      if (set) t.ok(set.data.secret === MASKED, `a secret set shows as "${MASKED}"`, { got: set.data });
      const cleared = await expectOk(t, "PATCH /orgs/{org}/hooks/{B}/config secret=''", null, 200, () =>
        HR.orgs.updateWebhookConfigForOrg({ org, hook_id: hB.id, secret: "" }),
        { validator: webhookConfigValidator },
      );
      if (cleared) {
        t.ok(cleared.data.secret === undefined, "an empty secret removes it (no secret field)", { got: cleared.data });
        t.ok(cleared.data.url === HOOK_URL && cleared.data.content_type === "json", "url and content_type stay", { got: cleared.data });
      }
    },
  );

  // deliveries of a hook, newest first
  async function deliveries(t, label, hookId, params = {}) {
    const res = await expectOk(t, label, null, 200, () => HR.orgs.listWebhookDeliveries({ org, hook_id: hookId, per_page: 100, ...params }), {
      validator: deliveryListValidator,
    });
    return res && Array.isArray(res.data) ? res.data : undefined;
  }
  function deliveryItemProblems(t, label, d, hookInstallation) {
    t.ok(d.guid.length > 0, `${label}: guid must be non-empty`, { got: d.guid });
    t.ok(d.duration >= 0, `${label}: duration >= 0`, { got: d.duration });
    t.ok(d.status.length > 0, `${label}: status must be non-empty`, { got: d.status });
    if (d.event === "ping") t.ok(d.action === null, `${label}: a ping has action null`, { got: d.action });
    t.ok(d.installation_id === null || d.installation_id === hookInstallation, `${label}: installation_id null or the caller's`, {
      expected: hookInstallation,
      got: d.installation_id,
    });
  }

  const pinged = await check(
    "orgs.pingWebhook({org, hook_id}) -> 204 without body; orgs.listWebhookDeliveries -> 200 hook-delivery-items, newest first, the new ping on top",
    [["hook A", hA]],
    async (t) => {
      const before = await deliveries(t, "GET …/hooks/{A}/deliveries before the ping", hA.id);
      if (!before) return undefined;
      t.ok(before.some((d) => d.event === "ping"), "an active hook is pinged when it is created", { got: before.map((d) => d.event) });
      const res = await expectNoContent(t, "POST /orgs/{org}/hooks/{A}/pings", () => HR.orgs.pingWebhook({ org, hook_id: hA.id }));
      if (!res) return undefined;
      const after = await deliveries(t, "GET …/hooks/{A}/deliveries after the ping", hA.id);
      if (!after) return undefined;
      after.forEach((d, i) => deliveryItemProblems(t, `delivery ${i}`, d, hooksApp.installationId));
      t.ok(after.length === before.length + 1, "one more delivery", { expected: before.length + 1, got: after.length });
      const top = after[0];
      t.ok(top && !before.some((d) => d.id === top.id), "the first item is the new delivery", { got: top });
      t.ok(top && top.event === "ping" && top.redelivery === false, "the new delivery is a ping, not a redelivery", { got: top });
      t.ok(top && before.every((d) => d.id < top.id), "its id is above the earlier deliveries'", { got: top && top.id });
      const all = await H.paginate(HR.orgs.listWebhookDeliveries, { org, hook_id: hA.id, per_page: 1 });
      t.ok(sameIds(all.map((d) => d.id), after.map((d) => d.id)), "octokit.paginate(listWebhookDeliveries, {per_page: 1}) = the per_page=100 list", {
        expected: after.map((d) => d.id),
        got: all.map((d) => d.id),
      });
      return t.failed ? undefined : top;
    },
  );

  const delivery = await check(
    "orgs.getWebhookDelivery({org, hook_id, delivery_id}) -> 200 hook-delivery: the item's fields, request.headers (X-GitHub-Event/-Delivery/-Hook-ID) and request.payload (the ping)",
    [["a ping delivery", pinged]],
    async (t) => {
      const res = await expectOk(t, "GET /orgs/{org}/hooks/{A}/deliveries/{id}", null, 200, () =>
        HR.orgs.getWebhookDelivery({ org, hook_id: hA.id, delivery_id: pinged.id }),
        { validator: deliveryValidator },
      );
      if (!res) return undefined;
      const d = res.data;
      deliveryItemProblems(t, "delivery", d, hooksApp.installationId);
      for (const k of ["id", "guid", "redelivery", "event", "action", "installation_id", "repository_id"]) {
        t.ok(j(d[k]) === j(pinged[k]), `${k} equals the listed item's`, { expected: pinged[k], got: d[k] });
      }
      const hdrs = d.request && d.request.headers;
      t.ok(header(hdrs, "X-GitHub-Event") === "ping", "request.headers X-GitHub-Event = the event", { got: hdrs });
      t.ok(header(hdrs, "X-GitHub-Delivery") === d.guid, "request.headers X-GitHub-Delivery = guid", { expected: d.guid, got: hdrs });
      t.ok(String(header(hdrs, "X-GitHub-Hook-ID")) === String(hA.id), "request.headers X-GitHub-Hook-ID = the hook id", { expected: hA.id, got: hdrs });
      const p = d.request && d.request.payload;
      t.ok(p && p.hook_id === hA.id, "ping payload hook_id = the hook id", { expected: hA.id, got: p && p.hook_id });
      t.ok(p && typeof p.zen === "string" && p.zen.length > 0, "ping payload zen", { got: p && p.zen });
      if (p && p.hook) {
        schemaProblems(t, "ping payload hook (org-hook)", orgHookValidator, p.hook);
        t.ok(p.hook.id === hA.id && p.hook.type === "Organization", "ping payload hook is this org-hook", { got: p.hook });
        t.ok(!p.hook.config || p.hook.config.secret === undefined || p.hook.config.secret === MASKED, "the payload never shows the secret", { got: p.hook.config });
      } else {
        t.fail("ping payload must carry the hook", { got: p });
      }
      t.ok(
        d.response && typeof d.response === "object" && "headers" in d.response && "payload" in d.response,
        "response has headers and payload (GitHub's hook-delivery requires them)",
        { got: d.response, keys: Object.keys(d) },
      );
      return d;
    },
  );

  await check(
    "orgs.redeliverWebhookDelivery({org, hook_id, delivery_id}) -> 202 {}; a new delivery with the same guid and redelivery: true heads the list",
    [["a delivery", delivery]],
    async (t) => {
      const before = await deliveries(t, "deliveries before", hA.id);
      const res = await expectOk(t, "POST /orgs/{org}/hooks/{A}/deliveries/{id}/attempts", null, 202, () =>
        HR.orgs.redeliverWebhookDelivery({ org, hook_id: hA.id, delivery_id: delivery.id }),
        { validator: emptyObjectValidator },
      );
      if (!res || !before) return;
      const after = await deliveries(t, "deliveries after", hA.id);
      if (!after) return;
      t.ok(after.length === before.length + 1, "one more delivery", { expected: before.length + 1, got: after.length });
      const top = after[0];
      t.ok(top && top.guid === delivery.guid && top.redelivery === true && top.id !== delivery.id, "the new first item: same guid, redelivery true, a new id", {
        expected: { guid: delivery.guid, redelivery: true },
        got: top,
      });
      t.ok(top && top.event === delivery.event, "same event", { expected: delivery.event, got: top && top.event });
      if (top) {
        const one = await expectOk(t, "GET …/deliveries/{redelivery}", null, 200, () =>
          HR.orgs.getWebhookDelivery({ org, hook_id: hA.id, delivery_id: top.id }),
          { validator: deliveryValidator },
        );
        if (one) t.ok(one.data.redelivery === true && one.data.guid === delivery.guid, "the redelivery reads back as one", { got: one.data });
      }
      const orig = after.find((d) => d.id === delivery.id);
      t.ok(orig && orig.redelivery === false, "the original delivery stays, not a redelivery", { got: orig });
    },
  );

  await check(
    "invalid bodies -> 422 RequestError with GitHub's validation-error errors[]: unknown event (create, update), bad config.url, insecure_ssl '1'; nothing changes",
    [["updated hook A", updatedA], ["hooks before", hooksBefore]],
    async (t) => {
      const before = await hookIds(t, "before");
      await expectInvalid(t, "createWebhook events: ['push']", "events", () =>
        HR.orgs.createWebhook({ org, name: "web", config: { url: HOOK_URL }, events: ["push"] }),
      );
      await expectInvalid(t, "createWebhook config.url 'not a url'", "url", () =>
        HR.orgs.createWebhook({ org, name: "web", config: { url: "not a url" }, events: ["*"] }),
      );
      const hookNow = await expectOk(t, "GET hook A", null, 200, () => HR.orgs.getWebhook({ org, hook_id: hA.id }), { validator: orgHookValidator });
      await expectInvalid(t, "updateWebhook events: ['personal_access_token_requests']", "events", () =>
        HR.orgs.updateWebhook({ org, hook_id: hA.id, events: ["personal_access_token_requests"] }),
      );
      await expectInvalid(t, "updateWebhookConfigForOrg insecure_ssl: '1'", "insecure_ssl", () =>
        HR.orgs.updateWebhookConfigForOrg({ org, hook_id: hA.id, insecure_ssl: "1" }),
      );
      const hookAfter = await expectOk(t, "GET hook A again", null, 200, () => HR.orgs.getWebhook({ org, hook_id: hA.id }), { validator: orgHookValidator });
      if (hookNow && hookAfter) t.ok(j(hookAfter.data) === j(hookNow.data), "hook A unchanged", { expected: hookNow.data, got: hookAfter.data });
      const after = await hookIds(t, "after");
      t.ok(sameIds(after, before), "no hook created", { expected: before, got: after });
    },
  );

  const missingHook = hookList && hookList.length ? Math.max(...hookList.map((h) => h.id)) + 1_000_000 : undefined;
  await check(
    `unknown hook / delivery / org -> 404 basic-error from every hook operation (orgs.listWebhooks({org: '${UNKNOWN_ORG}'}) too)`,
    [["hook list", hookList], ["a delivery", delivery], ["hook B", hB]],
    async (t) => {
      const hook_id = missingHook;
      const calls = [
        ["getWebhook", () => HR.orgs.getWebhook({ org, hook_id })],
        ["updateWebhook", () => HR.orgs.updateWebhook({ org, hook_id, active: false })],
        ["deleteWebhook", () => HR.orgs.deleteWebhook({ org, hook_id })],
        ["getWebhookConfigForOrg", () => HR.orgs.getWebhookConfigForOrg({ org, hook_id })],
        ["updateWebhookConfigForOrg", () => HR.orgs.updateWebhookConfigForOrg({ org, hook_id, content_type: "json" })],
        ["pingWebhook", () => HR.orgs.pingWebhook({ org, hook_id })],
        ["listWebhookDeliveries", () => HR.orgs.listWebhookDeliveries({ org, hook_id })],
        ["getWebhookDelivery (unknown hook)", () => HR.orgs.getWebhookDelivery({ org, hook_id, delivery_id: delivery.id })],
        ["getWebhookDelivery (unknown delivery)", () => HR.orgs.getWebhookDelivery({ org, hook_id: hA.id, delivery_id: delivery.id + 1_000_000 })],
        ["getWebhookDelivery (another hook's delivery)", () => HR.orgs.getWebhookDelivery({ org, hook_id: hB.id, delivery_id: delivery.id })],
        ["redeliverWebhookDelivery (unknown delivery)", () => HR.orgs.redeliverWebhookDelivery({ org, hook_id: hA.id, delivery_id: delivery.id + 1_000_000 })],
        ["redeliverWebhookDelivery (another hook's delivery)", () => HR.orgs.redeliverWebhookDelivery({ org, hook_id: hB.id, delivery_id: delivery.id })],
        [`listWebhooks (org ${UNKNOWN_ORG})`, () => HR.orgs.listWebhooks({ org: UNKNOWN_ORG })],
        [`createWebhook (org ${UNKNOWN_ORG})`, () => HR.orgs.createWebhook({ org: UNKNOWN_ORG, name: "web", config: { url: HOOK_URL }, events: ["*"] })],
      ];
      for (const [label, fn] of calls) await expectError(t, label, null, 404, fn);
    },
  );

  await check(
    "the demo installation (no organization_hooks) -> 403 basic-error with X-Accepted-GitHub-Permissions organization_hooks=read on reads, =write on changes; nothing changes",
    [["hook A", hA], ["hooks before", hooksBefore]],
    async (t) => {
      const before = await hookIds(t, "before");
      const e1 = await expectError(t, "listWebhooks (demo installation)", null, 403, () => R.orgs.listWebhooks({ org }));
      if (e1) acceptedPermissions(t, "listWebhooks", e1, "organization_hooks=read");
      const e2 = await expectError(t, "getWebhook (demo installation)", null, 403, () => R.orgs.getWebhook({ org, hook_id: hA.id }));
      if (e2) acceptedPermissions(t, "getWebhook", e2, "organization_hooks=read");
      const e3 = await expectError(t, "createWebhook (demo installation)", null, 403, () =>
        R.orgs.createWebhook({ org, name: "web", config: { url: HOOK_URL }, events: ["*"] }),
      );
      if (e3) acceptedPermissions(t, "createWebhook", e3, "organization_hooks=write");
      const e4 = await expectError(t, "deleteWebhook (demo installation)", null, 403, () => R.orgs.deleteWebhook({ org, hook_id: hA.id }));
      if (e4) acceptedPermissions(t, "deleteWebhook", e4, "organization_hooks=write");
      const after = await hookIds(t, "after");
      t.ok(sameIds(after, before), "hook list unchanged", { expected: before, got: after });
    },
  );

  await check(
    "a hooks-installation token narrowed to organization_hooks: read -> reads 200; create / update / config update / ping / redeliver / delete 403 naming organization_hooks=write",
    [["hooks installation", hooksApp], ["hook A", hA], ["a delivery", delivery]],
    async (t) => {
      const tok = await expectOk(t, "POST /app/installations/{hooks}/access_tokens (organization_hooks: read)", "apps/create-installation-access-token", 201, () =>
        hooksApp.jwtClient.rest.apps.createInstallationAccessToken({ installation_id: hooksApp.installationId, permissions: { organization_hooks: "read" } }),
      );
      if (!tok || typeof tok.data?.token !== "string") return;
      const ro = makeOctokit(baseUrl, { auth: tok.data.token }).rest;
      await expectOk(t, "listWebhooks (read)", null, 200, () => ro.orgs.listWebhooks({ org }), { validator: orgHookListValidator });
      await expectOk(t, "getWebhook (read)", null, 200, () => ro.orgs.getWebhook({ org, hook_id: hA.id }), { validator: orgHookValidator });
      await expectOk(t, "getWebhookConfigForOrg (read)", null, 200, () => ro.orgs.getWebhookConfigForOrg({ org, hook_id: hA.id }), {
        validator: webhookConfigValidator,
      });
      const list = await expectOk(t, "listWebhookDeliveries (read)", null, 200, () => ro.orgs.listWebhookDeliveries({ org, hook_id: hA.id }), {
        validator: deliveryListValidator,
      });
      await expectOk(t, "getWebhookDelivery (read)", null, 200, () => ro.orgs.getWebhookDelivery({ org, hook_id: hA.id, delivery_id: delivery.id }), {
        validator: deliveryValidator,
      });
      const writes = [
        ["createWebhook", () => ro.orgs.createWebhook({ org, name: "web", config: { url: HOOK_URL }, events: ["*"] })],
        ["updateWebhook", () => ro.orgs.updateWebhook({ org, hook_id: hA.id, active: false })],
        ["updateWebhookConfigForOrg", () => ro.orgs.updateWebhookConfigForOrg({ org, hook_id: hA.id, content_type: "json" })],
        ["pingWebhook", () => ro.orgs.pingWebhook({ org, hook_id: hA.id })],
        ["redeliverWebhookDelivery", () => ro.orgs.redeliverWebhookDelivery({ org, hook_id: hA.id, delivery_id: delivery.id })],
        ["deleteWebhook", () => ro.orgs.deleteWebhook({ org, hook_id: hA.id })],
      ];
      for (const [label, fn] of writes) {
        const e = await expectError(t, `${label} (read-only token)`, null, 403, fn);
        if (e) acceptedPermissions(t, label, e, "organization_hooks=write");
      }
      const again = await expectOk(t, "listWebhookDeliveries after the 403s", null, 200, () => HR.orgs.listWebhookDeliveries({ org, hook_id: hA.id, per_page: 100 }), {
        validator: deliveryListValidator,
      });
      if (list && again) t.ok(again.data.length === list.data.length, "no delivery queued by the refused ping / redelivery", { expected: list.data.length, got: again.data.length });
      const hook = await expectOk(t, "getWebhook after the 403s", null, 200, () => HR.orgs.getWebhook({ org, hook_id: hA.id }), { validator: orgHookValidator });
      if (hook) t.ok(hook.data.active === true && hook.data.config?.content_type === "form", "hook A unchanged (active, content_type form)", { got: hook.data });
    },
  );

  await check(
    "orgs.deleteWebhook({org, hook_id}) -> 204 without body; the hook and its deliveries are gone (get / deliveries / delete again 404), the others stay",
    [["hook list", hookList], ["hook C", hC]],
    async (t) => {
      const res = await expectNoContent(t, "DELETE /orgs/{org}/hooks/{C}", () => HR.orgs.deleteWebhook({ org, hook_id: hC.id }));
      if (!res) return;
      await expectError(t, "getWebhook (deleted)", null, 404, () => HR.orgs.getWebhook({ org, hook_id: hC.id }));
      await expectError(t, "listWebhookDeliveries (deleted)", null, 404, () => HR.orgs.listWebhookDeliveries({ org, hook_id: hC.id }));
      await expectError(t, "deleteWebhook again", null, 404, () => HR.orgs.deleteWebhook({ org, hook_id: hC.id }));
      const ids = await hookIds(t, "after the delete");
      const expected = hookList.map((h) => h.id).filter((id) => id !== hC.id);
      t.ok(sameIds(ids, expected), "list = list before minus the deleted hook", { expected, got: ids });
    },
  );

  // the remaining hooks go too, so the checks below see the organization as it was
  await check("orgs.deleteWebhook for the other hooks created here -> 204; the list is back to what it was", [["hooks before", hooksBefore], ["created hooks", hA && hB]], async (t) => {
    for (const h of [hA, hB]) await expectNoContent(t, `DELETE /orgs/{org}/hooks/${h.id}`, () => HR.orgs.deleteWebhook({ org, hook_id: h.id }));
    const ids = await hookIds(t, "after");
    t.ok(sameIds(ids, hooksBefore), "list = list before the hooks were created", { expected: hooksBefore, got: ids });
  });

  // ------------------------------------------ revocation and suspension
  await check(
    "apps.revokeInstallationAccessToken() -> 204 with no body; the revoked token gets 401 at once, another token of the installation still works",
    async (t) => {
      const fresh = async (label) => {
        const res = await expectOk(t, `POST /app/installations/{id}/access_tokens (${label})`, "apps/create-installation-access-token", 201, () =>
          R.apps.createInstallationAccessToken({ installation_id: installationId }),
        );
        return res && res.data && typeof res.data.token === "string" ? makeOctokit(baseUrl, { auth: res.data.token }) : undefined;
      };
      const doomed = await fresh("to revoke");
      const kept = await fresh("to keep");
      if (!doomed || !kept) return;
      await expectOk(t, "listPatGrantRequests before the revocation", LIST, 200, () => doomed.rest.orgs.listPatGrantRequests({ org, per_page: 1 }));
      await expectNoContent(t, "DELETE /installation/token", () => doomed.rest.apps.revokeInstallationAccessToken());
      const e = await expectError(t, "listPatGrantRequests with the revoked token", LIST, 401, () =>
        doomed.rest.orgs.listPatGrantRequests({ org, per_page: 1 }),
      );
      if (e) t.ok(e.response.data.message === "Bad credentials", "401 message", { expected: "Bad credentials", got: e.response.data.message });
      await expectError(t, "DELETE /installation/token again", "apps/revoke-installation-access-token", 401, () =>
        doomed.rest.apps.revokeInstallationAccessToken(),
      );
      await expectOk(t, "listPatGrantRequests with another token", LIST, 200, () => kept.rest.orgs.listPatGrantRequests({ org, per_page: 1 }));
    },
  );

  await check(
    "apps.suspendInstallation() -> 204; the installation's tokens get 403 at once; apps.unsuspendInstallation() -> 204 restores them; an unknown installation is 404",
    async (t) => {
      await expectOk(t, "listPatGrantRequests before the suspension", LIST, 200, () => R.orgs.listPatGrantRequests({ org, per_page: 1 }));
      const suspended = await expectNoContent(t, "PUT /app/installations/{id}/suspended", () =>
        R.apps.suspendInstallation({ installation_id: installationId }),
      );
      try {
        const e = await expectError(t, "listPatGrantRequests while suspended", LIST, 403, () => R.orgs.listPatGrantRequests({ org, per_page: 1 }));
        if (e) {
          t.ok(e.response.data.message === "This installation has been suspended", "403 message", {
            expected: "This installation has been suspended",
            got: e.response.data.message,
          });
        }
        const shown = await expectOk(t, "GET /app/installations/{id} while suspended", "apps/get-installation", 200, () =>
          R.apps.getInstallation({ installation_id: installationId }),
        );
        if (shown) t.ok(typeof shown.data.suspended_at === "string", "suspended_at must be set", { got: shown.data.suspended_at });
      } finally {
        if (suspended) {
          await expectNoContent(t, "DELETE /app/installations/{id}/suspended", () =>
            R.apps.unsuspendInstallation({ installation_id: installationId }),
          );
        }
      }
      await expectOk(t, "listPatGrantRequests after unsuspending", LIST, 200, () => R.orgs.listPatGrantRequests({ org, per_page: 1 }));
      await expectError(t, "PUT /app/installations/999999/suspended", "apps/suspend-installation", 404, () =>
        R.apps.suspendInstallation({ installation_id: 999999 }),
      );
      await expectError(t, "DELETE /app/installations/999999/suspended", "apps/unsuspend-installation", 404, () =>
        R.apps.unsuspendInstallation({ installation_id: 999999 }),
      );
    },
  );
}

async function main() {
  console.log(`# patgate binary: ${BIN}`);
  const server = await startServer();
  SERVER = server;
  try {
    const started = !server.error;
    emit(
      started,
      `server starts: ${BIN} ${server.args.join(" ")} writes demo.json and answers GET /`,
      started ? [] : [server.error, ...server.log.slice(-30).map((l) => `server: ${l}`)],
    );
    if (started) {
      console.log(`# base_url ${server.demo.base_url}, GET / -> ${server.rootStatus}`);
      await run(server);
    }
  } catch (e) {
    emit(false, "conformance run finished without an internal error", [describeError(e)]);
  } finally {
    await stopServer(server);
    if (server.exited && !/signal SIG(TERM|KILL)|code 0/.test(server.exited) && !server.error) {
      console.log(`# server ${server.exited}`);
    }
    for (const w of warnings.slice(0, 10)) console.log(`# octokit warning: ${w}`);
    for (const v of reportedViolations.values()) {
      if (v.again) console.log(`# the schema violation reported by "${v.check}" recurred in ${v.again} later response(s)`);
    }
    if ((failed && server.log.length) || process.env.PATGATE_SHOW_LOG) {
      console.log(`# server log (last 25 of ${server.log.length} lines):`);
      for (const l of server.log.slice(-25)) console.log(`#   ${l.slice(0, 300)}`);
    }
    if (process.env.PATGATE_KEEP_TMP) {
      writeFileSync(join(server.tmp, "server.log"), server.log.join("\n") + "\n");
      console.log(`# kept ${server.tmp}`);
    } else {
      rmSync(server.tmp, { recursive: true, force: true });
    }
  }
  if (failedNames.length) console.log(`# failed: ${failedNames.length}`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

await main();
