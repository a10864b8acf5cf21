#!/usr/bin/env node
// A tiny in-memory stand-in for `patgate demo`, written from the wire contract
// (github-pat-requests-api.md). It exists only to self-test conformance.mjs
// while the real server is not available:
//
//   PATGATE_BIN=selftest/mock-patgate.mjs node conformance.mjs   # expect 0 failed
//
// MOCK_BUGS=a,b,... injects deliberate deviations so the harness can be seen
// to catch them (see BUGS below).

import { createPrivateKey, generateKeyPairSync, randomBytes, verify } from "node:crypto";
import { createServer } from "node:http";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const BUGS = new Set((process.env.MOCK_BUGS || "").split(",").filter(Boolean));
// known bug switches: nullreason-missing, owner-one-only, link-relative,
// bulk-partial, review-again-404, bulk-empty-body, grant-field-missing,
// grant-bulk-partial, grant-revoke-again-204, grant-no-accepted-header,
// hook-secret-unmasked, hook-bad-event-accepted, token-empty-perms-empty,
// token-level-message, link-last-early-only, revoke-reason-unchecked,
// audit-log-last, audit-cursor-inclusive, version-header-ignored

const argv = process.argv.slice(2);
const opt = (n) => argv[argv.indexOf(n) + 1];
// `seed FILE --data-dir DIR`: the running mock picks the file up from DIR
// (only apps and installations are read; see seededApps).
if (argv[0] === "seed") {
  const { copyFileSync } = await import("node:fs");
  copyFileSync(argv[1], join(opt("--data-dir"), "mock-seed.json"));
  console.log("seeded");
  process.exit(0);
}
if (argv[0] !== "demo") {
  console.log("usage: mock-patgate demo --data-dir DIR --bind HOST:PORT");
  process.exit(argv[0] === "--help" ? 0 : 2);
}
const dataDir = opt("--data-dir");
const [host, portS] = opt("--bind").split(":");
const port = Number(portS);
const BASE = `http://${host}:${port}`;
mkdirSync(dataDir, { recursive: true });

const { privateKey, publicKey } = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs1", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
});
const keyPath = join(dataDir, "demo-app.pem");
writeFileSync(keyPath, privateKey);
createPrivateKey(privateKey);

const ORG = "acme-demo";
const ORG_ID = 4242;
const APP_ID = 1001;
const INSTALLATION_ID = 5005;
const APP_PERMS = {
  organization_personal_access_token_requests: "write",
  organization_personal_access_tokens: "write",
  organization_administration: "write",
  members: "read",
};

const user = (login, id) => ({
  login,
  id,
  node_id: `U_${id}`,
  avatar_url: `${BASE}/avatars/${login}`,
  gravatar_id: "",
  url: `${BASE}/users/${login}`,
  html_url: `${BASE}/${login}`,
  followers_url: `${BASE}/users/${login}/followers`,
  following_url: `${BASE}/users/${login}/following{/other_user}`,
  gists_url: `${BASE}/users/${login}/gists{/gist_id}`,
  starred_url: `${BASE}/users/${login}/starred{/owner}{/repo}`,
  subscriptions_url: `${BASE}/users/${login}/subscriptions`,
  organizations_url: `${BASE}/users/${login}/orgs`,
  repos_url: `${BASE}/users/${login}/repos`,
  events_url: `${BASE}/users/${login}/events{/privacy}`,
  received_events_url: `${BASE}/users/${login}/received_events`,
  type: "User",
  site_admin: false,
});
const orgUser = { ...user(ORG, ORG_ID), type: "Organization" };
const repo = (name, id) => {
  const u = `${BASE}/repos/${ORG}/${name}`;
  const r = { id, node_id: `R_${id}`, name, full_name: `${ORG}/${name}`, owner: orgUser, private: true, html_url: `${BASE}/${ORG}/${name}`, description: null, fork: false, url: u };
  for (const k of ["archive", "assignees", "blobs", "branches", "collaborators", "comments", "commits", "compare", "contents", "git_commits", "git_refs", "git_tags", "issue_comment", "issue_events", "issues", "keys", "labels", "milestones", "notifications", "pulls", "releases", "statuses", "trees"]) r[`${k}_url`] = `${u}/${k}{/x}`;
  for (const k of ["contributors", "deployments", "downloads", "events", "forks", "hooks", "languages", "merges", "stargazers", "subscribers", "subscription", "tags", "teams"]) r[`${k}_url`] = `${u}/${k}`;
  return r;
};
const REPOS = ["api", "web", "infra", "docs", "mobile"].map((n, i) => repo(n, 9000 + i));
const USERS = ["alice", "bob", "carol", "dave", "erin"].map((l, i) => user(l, 100 + i));
const PERMS = [
  { repository: { contents: "read", metadata: "read" } },
  { repository: { issues: "write", metadata: "read" } },
  { organization: { members: "read" }, repository: { metadata: "read" } },
  { repository: { pull_requests: "write", metadata: "read" } },
  { organization: { organization_projects: "admin" } },
];
const SEL = ["subset", "all", "none"];

const requests = [];
const t0 = Date.parse("2025-01-01T00:00:00Z");
for (let i = 0; i < 50; i++) {
  const sel = SEL[i % 3];
  requests.push({
    id: 3000 + i,
    reason: i % 4 === 0 ? null : `need access #${i}`,
    owner: USERS[i % 5],
    repository_selection: sel,
    repositories_url: `${BASE}/organizations/${ORG_ID}/personal-access-token-requests/${3000 + i}/repositories`,
    permissions: PERMS[i % 5],
    created_at: new Date(t0 + i * 3600_000).toISOString().replace(/\.\d{3}Z$/, "Z"),
    token_id: 7000 + (i % 17),
    token_name: `token-${i % 17}`,
    token_expired: false,
    token_expires_at: i % 2 ? null : "2026-12-31T00:00:00Z",
    token_last_used_at: null,
    _repos: sel === "subset" ? [REPOS[i % 5], REPOS[(i + 1) % 5]] : [],
    _state: "pending",
  });
}

// GitHub's organization audit log (GET /orgs/{org}/audit-log): newest first,
// paged by `after` cursors (`<@timestamp>_<id>`), no rel="last"
const auditEvents = [];
let nextEventId = 1;
function audit(action, actor, owner, extra = {}, at = Date.now()) {
  auditEvents.push({ _id: nextEventId++, "@timestamp": at, action: `personal_access_token.${action}`, actor, user: owner.login, ...extra });
}
for (const r of requests) audit("request_created", r.owner.login, r.owner, {}, Date.parse(r.created_at));

// grants: created when a request is approved (GET /orgs/{org}/personal-access-tokens)
const grants = [];
let nextGrantId = 1;
const nowSeconds = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
function grantFrom(r) {
  const id = nextGrantId++;
  grants.push({
    id,
    owner: r.owner,
    repository_selection: r.repository_selection,
    repositories_url: `${BASE}/organizations/${ORG_ID}/personal-access-tokens/${id}/repositories`,
    permissions: r.permissions,
    access_granted_at: nowSeconds(),
    token_id: r.token_id,
    token_name: r.token_name,
    token_expired: r.token_expired,
    token_expires_at: r.token_expires_at,
    token_last_used_at: r.token_last_used_at,
    _repos: r._repos,
    _state: "active",
  });
}

const tokens = new Map(); // token -> permissions
let suspendedAt = null; // the installation's suspension, if any
const installation = () => ({
  id: INSTALLATION_ID,
  account: orgUser,
  repository_selection: "all",
  access_tokens_url: `${BASE}/app/installations/${INSTALLATION_ID}/access_tokens`,
  repositories_url: `${BASE}/installation/repositories`,
  html_url: `${BASE}/organizations/${ORG}/settings/installations/${INSTALLATION_ID}`,
  app_id: APP_ID,
  app_slug: "patgate-demo",
  target_id: ORG_ID,
  target_type: "Organization",
  permissions: APP_PERMS,
  events: ["personal_access_token_request"],
  created_at: "2025-01-01T00:00:00Z",
  updated_at: "2025-01-01T00:00:00Z",
  single_file_name: null,
  suspended_by: null,
  suspended_at: suspendedAt,
});

function send(res, status, body, headers = {}) {
  const h = { ...headers };
  if (body !== undefined) h["content-type"] = "application/json; charset=utf-8";
  res.writeHead(status, h);
  res.end(body === undefined ? undefined : JSON.stringify(body));
}
const err = (res, status, message, extra = {}) =>
  send(res, status, { message, documentation_url: "https://docs.github.com/rest/orgs/personal-access-tokens", status: String(status), ...extra });

// apps loaded with `seed` (one installation each on ORG): { id, slug, client_id, key, inst: { id, permissions } }
function seededApps() {
  const f = join(dataDir, "mock-seed.json");
  if (!existsSync(f)) return [];
  const seed = JSON.parse(readFileSync(f, "utf8"));
  return (seed.apps || []).map((a, i) => {
    const inst = (seed.installations || []).find((x) => x.app === a.slug);
    return { id: APP_ID + 1 + i, slug: a.slug, name: a.name, client_id: a.client_id, key: a.public_key_pem, inst: inst && { id: INSTALLATION_ID + 1 + i, permissions: inst.permissions } };
  });
}
const demoApp = { id: APP_ID, slug: "patgate-demo", name: "patgate demo", client_id: "demo", key: publicKey, inst: { id: INSTALLATION_ID, permissions: APP_PERMS } };
// the app a JWT is signed by, or null
function verifyJwt(tok) {
  const parts = tok.split(".");
  if (parts.length !== 3) return null;
  const p = JSON.parse(Buffer.from(parts[1], "base64url").toString());
  const app = [demoApp, ...seededApps()].find((a) => String(p.iss) === String(a.id) || String(p.iss) === a.client_id);
  if (!app) return null;
  const ok = verify("RSA-SHA256", Buffer.from(`${parts[0]}.${parts[1]}`), app.key, Buffer.from(parts[2], "base64url"));
  return ok ? app : null;
}

function paginate(req, res, url, items) {
  const per = Math.min(Number(url.searchParams.get("per_page") || 30), 100);
  const page = Number(url.searchParams.get("page") || 1);
  const last = Math.max(1, Math.ceil(items.length / per));
  const mk = (p) => {
    const u = new URL(url.pathname + url.search, BUGS.has("link-relative") ? "http://api.github.com" : BASE);
    u.searchParams.set("page", String(p));
    u.searchParams.set("per_page", String(per));
    return `<${u}>`;
  };
  const links = [];
  if (page > 1) links.push(`${mk(page - 1)}; rel="prev"`);
  if (page < last) links.push(`${mk(page + 1)}; rel="next"`);
  if (page < last && (page <= 2 || !BUGS.has("link-last-early-only"))) links.push(`${mk(last)}; rel="last"`);
  if (page > 1) links.push(`${mk(1)}; rel="first"`);
  const body = items.slice((page - 1) * per, page * per);
  send(res, 200, body, links.length ? { link: links.join(", ") } : {});
}
const pub = (r) => {
  const { _repos, _state, ...rest } = r;
  if (BUGS.has("nullreason-missing") && rest.reason === null) delete rest.reason;
  if (BUGS.has("grant-field-missing") && "access_granted_at" in rest) delete rest.token_last_used_at;
  return rest;
};
const list = (q) => (q ? q.split(",").filter(Boolean) : null);

// shared list filters / order of the request and grant lists
function filtered(url, items, dateField) {
  const owners = list(url.searchParams.get("owner"));
  if (owners) items = items.filter((r) => (BUGS.has("owner-one-only") ? owners.slice(0, 1) : owners).includes(r.owner.login));
  const tids = list(url.searchParams.get("token_id"));
  if (tids) items = items.filter((r) => tids.includes(String(r.token_id)));
  const repoQ = url.searchParams.get("repository");
  if (repoQ) items = items.filter((r) => r.repository_selection === "all" || r._repos.some((x) => x.name === repoQ));
  const perm = url.searchParams.get("permission");
  if (perm) {
    const i = perm.lastIndexOf("_");
    const k = perm.slice(0, i);
    const l = perm.slice(i + 1);
    items = items.filter((r) => Object.values(r.permissions).some((c) => c[k] === l));
  }
  items.sort((a, b) => Date.parse(b[dateField]) - Date.parse(a[dateField]) || b.id - a.id);
  if (url.searchParams.get("direction") === "asc") items.reverse();
  return items;
}

async function body(req) {
  let s = "";
  for await (const c of req) s += c;
  return s ? JSON.parse(s) : {};
}

// GitHub's narrowing of an installation token: no permissions, or {}, is
// everything the installation holds; more than it holds is a 422 (null returned).
const LEVELS = { read: 1, write: 2, admin: 3 };
function narrow(res, held, asked) {
  if (asked == null) return held;
  if (Object.keys(asked).length === 0) return BUGS.has("token-empty-perms-empty") ? {} : held;
  const refuse = (message) => {
    err(res, 422, message, { errors: [{ resource: "InstallationToken", field: "permissions", code: "invalid" }] });
    return null;
  };
  const NOT_GRANTED = "The permissions requested are not granted to this installation.";
  if (Object.keys(asked).some((k) => !(k in held))) return refuse(NOT_GRANTED);
  if (Object.keys(asked).some((k) => !(LEVELS[asked[k]] <= LEVELS[held[k]])))
    return refuse(BUGS.has("token-level-message") ? NOT_GRANTED : "The level of access for permissions requested are not granted to this installation.");
  return asked;
}
const selection = (b) => ((b.repositories && b.repositories.length) || (b.repository_ids && b.repository_ids.length) ? "selected" : "all");

function auditRoute(req, res, url, m, perms) {
  if (m[1].toLowerCase() !== ORG) return err(res, 404, "Not Found");
  if (!perms.organization_administration)
    return send(res, 403, { message: "Resource not accessible by integration", documentation_url: "https://docs.github.com/rest", status: "403" },
      { "x-accepted-github-permissions": "organization_administration=read" });
  const actionQ = /(?:^|\s)action:(\S+)/.exec(url.searchParams.get("phrase") || "")?.[1];
  let items = auditEvents.filter((e) => !actionQ || e.action === actionQ || e.action.startsWith(`${actionQ}.`));
  items.sort((a, b) => b["@timestamp"] - a["@timestamp"] || b._id - a._id);
  const after = url.searchParams.get("after");
  if (after) {
    const [ts, id] = after.split("_").map(Number);
    items = items.filter((e) => e["@timestamp"] < ts || (e["@timestamp"] === ts && (BUGS.has("audit-cursor-inclusive") ? e._id <= id : e._id < id)));
  }
  const per = Math.min(Number(url.searchParams.get("per_page") || 30), 100);
  const page = items.slice(0, per);
  const mk = (cursor) => {
    const u = new URL(url.pathname + url.search, BASE);
    u.searchParams.set("after", cursor);
    u.searchParams.set("before", "");
    return `<${u}>`;
  };
  const links = [];
  const lastE = page[page.length - 1];
  if (items.length > per) links.push(`${mk(`${lastE["@timestamp"]}_${lastE._id}`)}; rel="next"`);
  if (BUGS.has("audit-log-last") && items.length > per) links.push(`${mk("")}; rel="last"`);
  const body = page.map(({ _id, ...e }) => ({ ...e, _document_id: `mock-${_id}`, created_at: e["@timestamp"], org: ORG }));
  return send(res, 200, body, links.length ? { link: links.join(", ") } : {});
}

async function grantRoutes(req, res, url, m, perms) {
  if (m[1].toLowerCase() !== ORG) return err(res, 404, "Not Found");
  const level = perms.organization_personal_access_tokens;
  const forbidden = (need) =>
    send(
      res,
      403,
      { message: "Resource not accessible by integration", documentation_url: "https://docs.github.com/rest", status: "403" },
      BUGS.has("grant-no-accepted-header") ? {} : { "x-accepted-github-permissions": `organization_personal_access_tokens=${need}` },
    );
  const invalid = (field, message = "Validation Failed") =>
    err(res, 422, message, { errors: [{ resource: "PersonalAccessToken", field, code: "invalid" }] });
  if (req.method === "GET" && !m[2]) {
    if (!level) return forbidden("read");
    return paginate(req, res, url, filtered(url, grants.filter((g) => g._state === "active"), "access_granted_at").map(pub));
  }
  if (req.method === "GET" && m[3]) {
    if (!level) return forbidden("read");
    const g = grants.find((x) => x.id === Number(m[2]));
    if (!g) return err(res, 404, "Not Found");
    return paginate(req, res, url, g._repos);
  }
  if (req.method !== "POST" || m[3]) return err(res, 404, "Not Found");
  if (level !== "write") return forbidden("write");
  const b = await body(req);
  if (b.action !== "revoke") return invalid("action");
  if (b.reason != null && (typeof b.reason !== "string" || [...b.reason].length > 1024) && !BUGS.has("revoke-reason-unchecked")) return invalid("reason");
  const ids = m[2] ? [Number(m[2])] : b.pat_ids;
  if (!Array.isArray(ids) || ids.length < 1 || ids.length > 100) return invalid("pat_ids");
  const found = ids.map((id) => grants.find((x) => x.id === id));
  if (m[2] && !found[0]) return err(res, 404, "Not Found");
  const bad = found.filter((g) => !g || g._state !== "active");
  const again = BUGS.has("grant-revoke-again-204") && m[2];
  if (bad.length && !BUGS.has("grant-bulk-partial") && !again) return invalid(m[2] ? "pat_id" : "pat_ids", "This token's access is no longer active");
  for (const g of found) {
    if (g && g._state === "active") {
      g._state = "revoked";
      audit("access_revoked", "patgate-demo[bot]", g.owner, b.reason ? { reason: b.reason } : {});
    }
  }
  return m[2] ? send(res, 204) : send(res, 202, {});
}

// organization webhooks (GET/POST /orgs/{org}/hooks, …/{id}, …/config, …/pings, …/deliveries[/{id}[/attempts]])
const HOOK_EVENTS = ["*", "personal_access_token_request", "personal_access_token_request_notification", "personal_access_token_request_digest"];
const hooks = [];
const hookDeliveries = [];
let nextHookId = 1;
let nextDeliveryId = 1;
const showHook = (h) => {
  const url = `${BASE}/orgs/${ORG}/hooks/${h.id}`;
  const config = { url: h.url, content_type: h.content_type, insecure_ssl: "0" };
  if (h.secret) config.secret = BUGS.has("hook-secret-unmasked") ? h.secret : "********";
  return { id: h.id, url, ping_url: `${url}/pings`, deliveries_url: `${url}/deliveries`, name: "web", events: h.events, active: h.active, config, updated_at: h.updated_at, created_at: h.created_at, type: "Organization" };
};
function queuePing(h, installation, guid, redelivery = false) {
  const d = { id: nextDeliveryId++, guid: guid || randomBytes(16).toString("hex"), delivered_at: nowSeconds(), redelivery, duration: 0, status: "pending", status_code: 0,
    event: "ping", action: null, installation_id: installation, repository_id: null, _hook: h.id };
  hookDeliveries.push(d);
  return d;
}
async function hookRoutes(req, res, url, m, perms) {
  const [, orgName, idS, sub, deliveryS, attempts] = m;
  if (orgName.toLowerCase() !== ORG) return err(res, 404, "Not Found");
  const read = req.method === "GET";
  const level = perms.organization_hooks;
  if (!level || (!read && level === "read"))
    return send(res, 403, { message: "Resource not accessible by integration", documentation_url: "https://docs.github.com/rest", status: "403" },
      { "x-accepted-github-permissions": `organization_hooks=${read ? "read" : "write"}` });
  const invalid = (field) => err(res, 422, "Validation Failed", { errors: [{ resource: "Hook", field, code: "invalid" }] });
  const b = read || req.method === "DELETE" ? {} : await body(req);
  const config = (c, creating) => {
    if (c.url !== undefined && !/^https?:\/\/[^\s/@]+(\/\S*)?$/.test(c.url)) return "url";
    if (creating && c.url === undefined) return "url";
    if (c.content_type !== undefined && !["json", "form"].includes(c.content_type)) return "content_type";
    if (c.insecure_ssl !== undefined && String(c.insecure_ssl) !== "0") return "insecure_ssl";
    return null;
  };
  const badEvents = (ev) =>
    !BUGS.has("hook-bad-event-accepted") && ev !== undefined && (!Array.isArray(ev) || !ev.length || ev.some((e) => !HOOK_EVENTS.includes(e)));
  if (!idS) {
    if (read) return paginate(req, res, url, hooks.map(showHook));
    if (req.method !== "POST") return err(res, 404, "Not Found");
    const bad = config(b.config || {}, true);
    if (bad) return invalid(bad);
    if (badEvents(b.events)) return invalid("events");
    const now = nowSeconds();
    const h = { id: nextHookId++, url: b.config.url, content_type: b.config.content_type || "json", secret: b.config.secret || null,
      events: b.events || ["personal_access_token_request"], active: b.active ?? true, created_at: now, updated_at: now };
    hooks.push(h);
    if (h.active) queuePing(h, perms._installation ?? INSTALLATION_ID);
    return send(res, 201, showHook(h), { location: showHook(h).url });
  }
  const h = hooks.find((x) => x.id === Number(idS));
  if (!h) return err(res, 404, "Not Found");
  const setConfig = (c) => {
    if (c.url !== undefined) h.url = c.url;
    if (c.content_type !== undefined) h.content_type = c.content_type;
    if (c.secret !== undefined) h.secret = c.secret || null;
    h.updated_at = nowSeconds();
  };
  if (!sub) {
    if (read) return send(res, 200, showHook(h));
    if (req.method === "DELETE") {
      hooks.splice(hooks.indexOf(h), 1);
      return send(res, 204);
    }
    if (req.method !== "PATCH") return err(res, 404, "Not Found");
    const bad = config(b.config || {}, false);
    if (bad) return invalid(bad);
    if (badEvents(b.events)) return invalid("events");
    if (b.events) h.events = b.events;
    if (b.active !== undefined) h.active = b.active;
    setConfig(b.config || {});
    return send(res, 200, showHook(h));
  }
  if (sub === "config") {
    if (read) return send(res, 200, showHook(h).config);
    const bad = config(b, false);
    if (bad) return invalid(bad);
    setConfig(b);
    return send(res, 200, showHook(h).config);
  }
  if (sub === "pings") {
    if (req.method !== "POST") return err(res, 404, "Not Found");
    queuePing(h, perms._installation ?? INSTALLATION_ID);
    return send(res, 204);
  }
  const mine = hookDeliveries.filter((d) => d._hook === h.id).sort((a, b2) => b2.id - a.id);
  const pub = ({ _hook, ...d }) => d;
  if (!deliveryS) return read ? paginate(req, res, url, mine.map(pub)) : err(res, 404, "Not Found");
  const d = mine.find((x) => x.id === Number(deliveryS));
  if (!d) return err(res, 404, "Not Found");
  if (attempts) {
    if (req.method !== "POST") return err(res, 404, "Not Found");
    queuePing(h, d.installation_id, d.guid, true);
    return send(res, 202, {});
  }
  if (!read) return err(res, 404, "Not Found");
  const headers = { "X-GitHub-Event": d.event, "X-GitHub-Delivery": d.guid, "X-GitHub-Hook-ID": String(h.id) };
  return send(res, 200, { ...pub(d), request: { headers, payload: { zen: "Keep it logically awesome.", hook_id: h.id, hook: showHook(h) } }, response: { headers: null, payload: null } });
}

createServer(async (req, res) => {
  const url = new URL(req.url, BASE);
  // GitHub also serves /organizations/{numeric id}/… (the form its repositories_url uses)
  const p = url.pathname.replace(new RegExp(`^/organizations/${ORG_ID}/`), `/orgs/${ORG}/`);
  const auth = req.headers.authorization || "";
  const [scheme, cred] = auth.split(" ");
  try {
    const version = req.headers["x-github-api-version"];
    if (version !== undefined && !["2022-11-28", "2026-03-10"].includes(version) && !BUGS.has("version-header-ignored"))
      return send(res, 400, {
        message: "Bad Request",
        errors: `The version you specified in the "X-GitHub-API-Version" request header, "${version}", is not a supported version. The following versions are currently supported: "2026-03-10" (most recent) and "2022-11-28".`,
        documentation_url: "https://docs.github.com/rest",
        status: "400",
      });
    if (p === "/") return send(res, 200, { current_user_url: `${BASE}/user` });
    let m;
    if (p.startsWith("/app") || /^\/orgs\/[^/]+\/installation$/.test(p)) {
      const jwtApp = scheme?.toLowerCase() === "bearer" ? verifyJwt(cred || "") : null;
      if (!jwtApp) return err(res, 401, "A JSON web token could not be decoded");
      if (jwtApp !== demoApp) {
        const a = jwtApp;
        const inst = { ...installation(), id: a.inst.id, app_id: a.id, app_slug: a.slug, permissions: a.inst.permissions, events: [], suspended_at: null,
          access_tokens_url: `${BASE}/app/installations/${a.inst.id}/access_tokens`, html_url: `${BASE}/organizations/${ORG}/settings/installations/${a.inst.id}` };
        if (p === "/app")
          return send(res, 200, { id: a.id, slug: a.slug, node_id: `A_${a.id}`, owner: orgUser, name: a.name, description: null, external_url: BASE,
            html_url: `${BASE}/apps/${a.slug}`, created_at: "2025-01-01T00:00:00Z", updated_at: "2025-01-01T00:00:00Z", permissions: a.inst.permissions, events: [] });
        if ((m = /^\/orgs\/([^/]+)\/installation$/.exec(p))) return m[1].toLowerCase() === ORG ? send(res, 200, inst) : err(res, 404, "Not Found");
        if (p === `/app/installations/${a.inst.id}/access_tokens` && req.method === "POST") {
          const b = await body(req);
          const perms = narrow(res, a.inst.permissions, b.permissions);
          if (!perms) return;
          const tok = `ghs_${randomBytes(18).toString("hex")}`;
          tokens.set(tok, { ...perms, _installation: a.inst.id });
          return send(res, 201, { token: tok, expires_at: new Date(Date.now() + 3600_000).toISOString(), permissions: perms, repository_selection: selection(b) });
        }
        return err(res, 404, "Not Found");
      }
      if (p === "/app")
        return send(res, 200, {
          id: APP_ID, slug: "patgate-demo", node_id: "A_1", owner: orgUser, name: "patgate demo", description: null,
          external_url: BASE, html_url: `${BASE}/apps/patgate-demo`, created_at: "2025-01-01T00:00:00Z", updated_at: "2025-01-01T00:00:00Z",
          permissions: APP_PERMS, events: ["personal_access_token_request"],
        });
      if ((m = /^\/app\/installations\/(\d+)\/suspended$/.exec(p)) && ["PUT", "DELETE"].includes(req.method)) {
        if (Number(m[1]) !== INSTALLATION_ID) return err(res, 404, "Not Found");
        suspendedAt = req.method === "PUT" ? suspendedAt || new Date().toISOString().replace(/\.\d+Z$/, "Z") : null;
        return send(res, 204);
      }
      if (p === "/app/installations") return send(res, 200, [installation()]);
      if (p === `/app/installations/${INSTALLATION_ID}`) return send(res, 200, installation());
      if ((m = /^\/orgs\/([^/]+)\/installation$/.exec(p))) return m[1].toLowerCase() === ORG ? send(res, 200, installation()) : err(res, 404, "Not Found");
      if (p === `/app/installations/${INSTALLATION_ID}/access_tokens` && req.method === "POST") {
        if (suspendedAt) return err(res, 403, "This installation has been suspended");
        const b = await body(req);
        const perms = narrow(res, APP_PERMS, b.permissions);
        if (!perms) return;
        const tok = `ghs_${randomBytes(18).toString("hex")}`;
        tokens.set(tok, perms);
        return send(res, 201, { token: tok, expires_at: new Date(Date.now() + 3600_000).toISOString(), permissions: perms, repository_selection: selection(b) });
      }
      return err(res, 404, "Not Found");
    }
    const perms = tokens.get(cred);
    if (!perms) return err(res, 401, "Bad credentials");
    if (suspendedAt && !perms._installation) return err(res, 403, "This installation has been suspended");
    if ((m = /^\/orgs\/([^/]+)\/hooks(?:\/(\d+)(?:\/(config|pings|deliveries)(?:\/(\d+)(\/attempts)?)?)?)?$/.exec(p))) return hookRoutes(req, res, url, m, perms);
    if (p === "/installation/token" && req.method === "DELETE") {
      tokens.delete(cred);
      return send(res, 204);
    }
    if ((m = /^\/orgs\/([^/]+)\/personal-access-tokens(?:\/(\d+)(\/repositories)?)?$/.exec(p))) return grantRoutes(req, res, url, m, perms);
    if ((m = /^\/orgs\/([^/]+)\/audit-log$/.exec(p)) && req.method === "GET") return auditRoute(req, res, url, m, perms);
    if (!(m = /^\/orgs\/([^/]+)\/personal-access-token-requests(?:\/(\d+)(\/repositories)?)?$/.exec(p))) return err(res, 404, "Not Found");
    if (m[1].toLowerCase() !== ORG) return err(res, 404, "Not Found");
    const level = perms.organization_personal_access_token_requests;
    const forbidden = () => err(res, 403, "Resource not accessible by integration");
    if (req.method === "GET" && !m[2]) {
      if (!level) return forbidden();
      const items = filtered(url, requests.filter((r) => r._state === "pending"), "created_at");
      return paginate(req, res, url, items.map(pub));
    }
    if (req.method === "GET" && m[3]) {
      if (!level) return forbidden();
      const r = requests.find((x) => x.id === Number(m[2]));
      if (!r) return err(res, 404, "Not Found");
      return paginate(req, res, url, r._repos);
    }
    if (req.method === "POST") {
      if (level !== "write") return forbidden();
      const b = await body(req);
      if (!["approve", "deny"].includes(b.action)) return err(res, 422, "Invalid request.", { errors: [{ resource: "PatRequest", field: "action", code: "invalid" }] });
      const ids = m[2] ? [Number(m[2])] : b.pat_request_ids;
      if (!Array.isArray(ids) || ids.length < 1 || ids.length > 100) return err(res, 422, "Invalid request.", { errors: [{ field: "pat_request_ids", code: "invalid" }] });
      const found = ids.map((id) => requests.find((x) => x.id === id));
      if (m[2] && !found[0]) return err(res, 404, "Not Found");
      const notPending = found.filter((r) => !r || r._state !== "pending");
      if (notPending.length && !BUGS.has("bulk-partial")) {
        if (BUGS.has("review-again-404")) return err(res, 404, "Not Found");
        return err(res, 422, "Validation Failed", { errors: [{ resource: "PatRequest", field: "pat_request_ids", code: "invalid" }] });
      }
      for (const r of found) {
        if (r && r._state === "pending") {
          r._state = b.action === "approve" ? "approved" : "denied";
          if (r._state === "approved") grantFrom(r);
          audit(r._state === "approved" ? "access_granted" : "request_denied", "patgate-demo[bot]", r.owner);
        }
      }
      if (m[2]) return send(res, 204);
      return BUGS.has("bulk-empty-body") ? send(res, 202) : send(res, 202, {});
    }
    return err(res, 404, "Not Found");
  } catch (e) {
    return err(res, 500, String(e));
  }
}).listen(port, host, () => {
  writeFileSync(
    join(dataDir, "demo.json"),
    JSON.stringify({ base_url: BASE, org: ORG, app_id: APP_ID, installation_id: INSTALLATION_ID, private_key_path: keyPath }, null, 2),
  );
  console.log(`mock patgate listening on ${BASE}`);
});
