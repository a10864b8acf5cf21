// A reviewer's whole flow against the real server, through a client generated from the
// committed OpenAPI document: app JWT, installation token, list and filter pending requests
// page by page, review them one at a time and in bulk, list and revoke grants, and read
// GitHub's error bodies. One "ok - …" / "not ok - …" line per check, then "N passed, M failed".

import { resolve } from "node:path";
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "../generated/schema.js";
import {
  allPassed,
  check,
  cleanUp,
  demoKey,
  failOutsideCheck,
  killServer,
  newServer,
  PACKAGE_DIR,
  parseLink,
  startDemo,
  stopServer,
  summary,
  trace,
  type Check,
  type DemoInfo,
} from "./harness.js";
import { appJwt } from "./jwt.js";

type Schemas = components["schemas"];
type PatGrantRequest = Schemas["PatGrantRequest"];
type PatGrant = Schemas["PatGrant"];
type BasicError = Schemas["BasicError"];
type ValidationError = Schemas["ValidationError"];
type Api = Client<paths>;
type ReviewBody = NonNullable<paths[typeof REQUEST]["post"]["requestBody"]>["content"]["application/json"];

// The operations the flow calls. Every status it expects goes through `documented`, so the
// type-check also fails when the document stops declaring that status for the operation.
const ACCESS_TOKENS = "/app/installations/{installation_id}/access_tokens";
const REQUESTS = "/orgs/{org}/personal-access-token-requests";
const REQUEST = "/orgs/{org}/personal-access-token-requests/{pat_request_id}";
const VERDICT = "/orgs/{org}/personal-access-token-intake/requests/{pat_request_id}";
const GRANTS = "/orgs/{org}/personal-access-tokens";
const GRANT = "/orgs/{org}/personal-access-tokens/{pat_id}";

type Responses<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends { responses: infer R } ? R : never;
/** `status`, which the document must declare among the operation's responses. */
function documented<P extends keyof paths, M extends keyof paths[P]>(_path: P, _method: M, status: keyof Responses<P, M> & number): number {
  return status;
}

const BIN = process.env["PATGATE_BIN"]
  ? resolve(process.cwd(), process.env["PATGATE_BIN"])
  : resolve(PACKAGE_DIR, "../../target/debug/patgate");
const WATCHDOG_MS = 120_000;
const DENY_REASON = "Too broad: ask for the repositories you need";
/** GitHub's codes for the items of a 422 body's `errors`. */
const GITHUB_ERROR_CODES = ["missing", "missing_field", "invalid", "already_exists", "unprocessable", "custom"];

const tracer: Middleware = {
  onResponse({ request, response }) {
    const url = new URL(request.url);
    trace.push(`${request.method} ${url.pathname}${url.search} -> ${response.status}`);
  },
};

/** A client that sends `credential` (an app JWT or an installation token) as a bearer token. */
function api(baseUrl: string, credential: string): Api {
  const client = createClient<paths>({
    baseUrl,
    headers: { Authorization: `Bearer ${credential}`, "User-Agent": "patgate-typescript-client" },
    // The document declares the list filters `owner` and `token_id` as style form with
    // explode false: one comma-separated value, as GitHub takes them.
    querySerializer: { array: { style: "form", explode: false } },
  });
  client.use(tracer);
  return client;
}

/** An installation token for `installationId`, from an app JWT signed with the app's key. */
async function installationToken(t: Check, baseUrl: string, iss: number, installationId: number, key: string) {
  const app = api(baseUrl, appJwt(iss, key));
  const r = await app.POST(ACCESS_TOKENS, {
    params: { path: { installation_id: installationId } },
  });
  if (!t.status(`POST ${ACCESS_TOKENS}`, r, documented(ACCESS_TOKENS, "post", 201)) || r.data === undefined) return undefined;
  const { token, expires_at } = r.data;
  t.expect(token.startsWith("ghs_"), "an installation token starts with ghs_", `${token.slice(0, 6)}… (${token.length} chars)`);
  t.expect(Date.parse(expires_at) > Date.now(), "expires_at is in the future", expires_at);
  return r.data;
}

interface Pages<T> {
  items: T[];
  /** Every `next` URL followed, in order. */
  nexts: string[];
}

/**
 * Every page of a list, following the `Link` header's `next` until there is none: the page
 * number is read from the `next` URL and passed back through the typed client.
 */
async function allPages<T>(
  t: Check,
  label: string,
  ok: number,
  fetchPage: (page: number) => Promise<{ data?: T[]; error?: unknown; response: Response }>,
): Promise<Pages<T>> {
  const out: Pages<T> = { items: [], nexts: [] };
  let page = 1;
  for (;;) {
    const r = await fetchPage(page);
    if (!t.status(`${label} page ${page}`, r, ok) || r.data === undefined) return out;
    out.items.push(...r.data);
    const next = parseLink(r.response.headers.get("link"))["next"];
    if (next === undefined) return out;
    out.nexts.push(next);
    const nextPage = Number(new URL(next).searchParams.get("page"));
    if (!t.expect(Number.isInteger(nextPage) && nextPage === page + 1, `${label}: rel="next" names page ${page + 1}`, next)) return out;
    if (!t.expect(out.nexts.length < 50, `${label}: more than 50 pages`)) return out;
    page = nextPage;
  }
}

function pendingRequests(t: Check, client: Api, org: string, perPage: number, owner?: string[]) {
  return allPages<PatGrantRequest>(t, `GET ${REQUESTS}`, documented(REQUESTS, "get", 200), (page) =>
    client.GET(REQUESTS, {
      params: { path: { org }, query: { per_page: perPage, page, ...(owner === undefined ? {} : { owner }) } },
    }),
  );
}

function activeGrants(t: Check, client: Api, org: string) {
  return allPages<PatGrant>(t, `GET ${GRANTS}`, documented(GRANTS, "get", 200), (page) =>
    client.GET(GRANTS, { params: { path: { org }, query: { per_page: 100, page } } }),
  );
}

const ids = (items: { id: number }[]) => items.map((x) => x.id);
const sameList = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** The fields every GitHub error body has: message, documentation_url, status as a string. */
function errorBodyProblems(t: Check, label: string, body: BasicError | ValidationError | undefined, status: number) {
  if (!t.expect(body !== undefined && typeof body === "object", `${label}: the error body is a JSON object`, body) || body === undefined) return;
  t.expect(typeof body.message === "string" && body.message.length > 0, `${label}: message is a non-empty string`, body);
  t.expect(typeof body.documentation_url === "string" && body.documentation_url.startsWith("https://"), `${label}: documentation_url is a URL`, body);
  t.expect(body.status === String(status), `${label}: status is "${status}", a string`, body);
}

async function run(demo: DemoInfo, dataDir: string): Promise<void> {
  const baseUrl = demo.base_url.replace(/\/+$/, "");
  const org = demo.org;

  const key = await check("demo.json names the org, both apps, their installations and the key", {}, async (t) => {
    t.expect(/^http:\/\/127\.0\.0\.1:\d+$/.test(baseUrl), "base_url is the bound address", demo.base_url);
    t.expect(org.length > 0, "org is set", org);
    for (const n of ["app_id", "installation_id", "issuer_app_id", "issuer_installation_id"] as const) {
      t.expect(Number.isInteger(demo[n]) && demo[n] > 0, `${n} is a positive integer`, demo[n]);
    }
    const pem = demoKey(demo, dataDir);
    return t.expect(/-----BEGIN (RSA )?PRIVATE KEY-----/.test(pem), "the key is a PEM private key") ? pem : undefined;
  });
  if (key === undefined) return;

  /** A client with the installation token of app `appId`, whose permissions must include
   *  write on each of `writes` (permission, then what it allows). */
  const clientOf = async (t: Check, appId: number, installationId: number, writes: [string, string][]) => {
    const data = await installationToken(t, baseUrl, appId, installationId, key);
    if (data === undefined) return undefined;
    // The document declares `permissions` as an object without listing its keys.
    const p: Record<string, unknown> = data.permissions;
    for (const [permission, allows] of writes) t.expect(p[permission] === "write", `the token may ${allows}`, p);
    return api(baseUrl, data.token);
  };

  // ------------------------------------------------------------------ tokens
  const reviewer = await check(
    "POST /app/installations/{installation_id}/access_tokens with an app JWT -> 201, a ghs_ token for the reviewer's permissions",
    {},
    (t) =>
      clientOf(t, demo.app_id, demo.installation_id, [
        ["organization_personal_access_token_requests", "review requests"],
        ["organization_personal_access_tokens", "revoke grants"],
      ]),
  );

  // --------------------------------------------------------------- requests
  const pending = await check(
    "GET /orgs/{org}/personal-access-token-requests?per_page=100 -> 200, the demo's 50 pending requests, newest first",
    { reviewer },
    async (t) => {
      // The first expiry sweep runs as the server starts, beside the first requests: wait
      // for it to expire the 3 requests whose token already expired.
      let { items } = await pendingRequests(t, reviewer!, org, 100);
      for (let waited = 0; items.some((r) => r.token_expired) && waited < 5000; waited += 250) {
        await new Promise((r) => setTimeout(r, 250));
        ({ items } = await pendingRequests(t, reviewer!, org, 100));
      }
      t.expect(items.length === 50, "the demo leaves 50 requests pending", items.length);
      t.expect(new Set(ids(items)).size === items.length, "no request is listed twice", ids(items));
      const sorted = [...items].sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at));
      t.expect(sameList(ids(items), ids(sorted)), "ordered by created_at, newest first", items.map((r) => r.created_at));
      for (const r of items) {
        if (!t.expect(r.token_expired === false, "a pending request's token has not expired", r)) break;
        if (!t.expect(["none", "all", "subset"].includes(r.repository_selection), "repository_selection is none, all or subset", r)) break;
        if (!t.expect(r.repositories_url.startsWith(`${baseUrl}/orgs/${org}/`), "repositories_url points at this server", r.repositories_url)) break;
      }
      return items;
    },
  );

  const owners = ["alice", "bob"];
  await check(
    `GET …/personal-access-token-requests?owner=${owners.join(",")}&per_page=4, following Link rel="next" -> exactly their requests, page by page`,
    { reviewer, pending },
    async (t) => {
      const { items, nexts } = await pendingRequests(t, reviewer!, org, 4, owners);
      const expected = pending!.filter((r) => owners.includes(r.owner.login));
      t.expect(expected.length > 8, "the demo has more than two pages of requests from these owners", expected.length);
      t.expect(sameList(ids(items), ids(expected)), "the pages hold exactly the owners' pending requests, in the list's order", {
        expected: ids(expected),
        got: ids(items),
      });
      t.expect(nexts.length === Math.ceil(expected.length / 4) - 1, `rel="next" leads through every page of 4`, nexts.length);
      for (const next of nexts) {
        const q = new URL(next).searchParams;
        t.expect(q.get("owner") === owners.join(",") && q.get("per_page") === "4", `rel="next" keeps the filter and per_page`, next);
      }
    },
  );

  // ---------------------------------------------------------------- reviews
  const [approved, denied, bulkA, bulkB] = pending ?? [];
  const reviewedIds = [approved, denied, bulkA, bulkB].map((r) => r?.id);

  /** Reviews request `id` with `body` as the reviewer: the documented 204 (`what`). */
  async function reviewOne(t: Check, what: string, id: number, body: ReviewBody) {
    const r = await reviewer!.POST(REQUEST, { params: { path: { org, pat_request_id: id } }, body });
    t.status(what, r, documented(REQUEST, "post", 204));
  }

  await check("POST …/personal-access-token-requests/{pat_request_id} {action: approve} -> 204", { reviewer, approved }, (t) =>
    reviewOne(t, "approve", approved!.id, { action: "approve" }),
  );

  await check("POST …/personal-access-token-requests/{pat_request_id} {action: deny, reason} -> 204", { reviewer, denied }, (t) =>
    reviewOne(t, "deny", denied!.id, { action: "deny", reason: DENY_REASON }),
  );

  await check(
    "POST …/personal-access-token-requests {pat_request_ids: [two], action: approve} -> 202 {}",
    { reviewer, bulkA, bulkB },
    async (t) => {
      const r = await reviewer!.POST(REQUESTS, {
        params: { path: { org } },
        body: { pat_request_ids: [bulkA!.id, bulkB!.id], action: "approve" },
      });
      if (t.status("bulk review", r, documented(REQUESTS, "post", 202))) {
        t.expect(r.data !== undefined && typeof r.data === "object" && Object.keys(r.data).length === 0, "the body is {}", r.data);
      }
    },
  );

  await check("the four reviewed requests leave the pending list, the other 46 stay in order", { reviewer, pending }, async (t) => {
    const { items } = await pendingRequests(t, reviewer!, org, 100);
    const expected = pending!.filter((r) => !reviewedIds.includes(r.id));
    t.expect(sameList(ids(items), ids(expected)), "pending list after the reviews", { expected: ids(expected), got: ids(items) });
  });

  // The token issuer reads the verdicts: the reason reaches the owner, the approvals are grants.
  const issuer = await check(
    "the issuer app's installation token (POST /app/installations/{installation_id}/access_tokens) -> 201",
    {},
    (t) => clientOf(t, demo.issuer_app_id, demo.issuer_installation_id, [["organization_personal_access_token_intake", "file requests"]]),
  );

  async function verdict(t: Check, id: number) {
    const r = await issuer!.GET(VERDICT, {
      params: { path: { org, pat_request_id: id } },
    });
    return t.status(`GET …/personal-access-token-intake/requests/${id}`, r, documented(VERDICT, "get", 200)) ? r.data : undefined;
  }

  await check("GET …/personal-access-token-intake/requests/{pat_request_id} -> 200, denied with the reviewer's reason", { issuer, denied }, async (t) => {
    const v = await verdict(t, denied!.id);
    if (v === undefined) return;
    t.expect(v.status === "denied", "status is denied", v);
    t.expect(v.review_reason === DENY_REASON, "review_reason is the reason sent", v);
    t.expect(v.grant_id === null || v.grant_id === undefined, "a denial has no grant", v);
    t.expect(v.token_id === denied!.token_id, "token_id is the request's", v);
  });

  const grantIds = await check(
    "GET …/personal-access-token-intake/requests/{pat_request_id} -> 200, the three approvals each have a grant",
    { issuer, approved, bulkA, bulkB },
    async (t) => {
      const out = new Map<number, number>();
      for (const req of [approved!, bulkA!, bulkB!]) {
        const v = await verdict(t, req.id);
        if (v === undefined) continue;
        t.expect(v.status === "approved", `request ${req.id}: status is approved`, v);
        if (t.expect(typeof v.grant_id === "number", `request ${req.id}: grant_id is set`, v) && typeof v.grant_id === "number") {
          out.set(req.id, v.grant_id);
        }
      }
      return out.size === 3 ? out : undefined;
    },
  );

  // ----------------------------------------------------------------- grants
  const grants = await check(
    "GET /orgs/{org}/personal-access-tokens -> 200, the demo's 12 grants and one per approval, with the request's token and owner",
    { reviewer, grantIds },
    async (t) => {
      const { items } = await activeGrants(t, reviewer!, org);
      t.expect(items.length === 15, "12 demo grants + 3 approvals", items.length);
      for (const req of [approved!, bulkA!, bulkB!]) {
        const g = items.find((x) => x.id === grantIds!.get(req.id));
        if (!t.expect(g !== undefined, `the grant of request ${req.id} is listed`, ids(items)) || g === undefined) continue;
        t.expect(g.token_id === req.token_id, `grant ${g.id}: token_id is the request's`, { grant: g.token_id, request: req.token_id });
        t.expect(g.token_name === req.token_name, `grant ${g.id}: token_name is the request's`, g);
        t.expect(g.owner.login === req.owner.login, `grant ${g.id}: owner is the request's`, g.owner);
        t.expect(g.repository_selection === req.repository_selection, `grant ${g.id}: repository_selection is the request's`, g);
        t.expect(!Number.isNaN(Date.parse(g.access_granted_at)), `grant ${g.id}: access_granted_at is a timestamp`, g.access_granted_at);
      }
      return items;
    },
  );

  const revoked = grants?.find((g) => g.id === grantIds?.get(approved?.id ?? -1));
  await check("POST /orgs/{org}/personal-access-tokens/{pat_id} {action: revoke} -> 204, the grant leaves the list", { reviewer, grants, revoked }, async (t) => {
    const r = await reviewer!.POST(GRANT, {
      params: { path: { org, pat_id: revoked!.id } },
      body: { action: "revoke" },
    });
    if (!t.status("revoke", r, documented(GRANT, "post", 204))) return;
    const { items } = await activeGrants(t, reviewer!, org);
    const expected = grants!.filter((g) => g.id !== revoked!.id);
    t.expect(sameList(ids(items), ids(expected)), "the other grants stay, in order", { expected: ids(expected), got: ids(items) });
  });

  // ----------------------------------------------------------------- errors
  const unknownId = pending === undefined ? undefined : Math.max(...ids(pending)) + 1_000_000;
  await check("reviewing an unknown request -> 404 with GitHub's basic-error body", { reviewer, unknownId }, async (t) => {
    const r = await reviewer!.POST(REQUEST, {
      params: { path: { org, pat_request_id: unknownId! } },
      body: { action: "approve" },
    });
    if (!t.status("review unknown", r, documented(REQUEST, "post", 404))) return;
    const body: BasicError | ValidationError | undefined = r.error;
    errorBodyProblems(t, "404", body, 404);
    t.expect(body?.message === "Not Found", 'message is "Not Found"', body);
    t.expect(body !== undefined && !("errors" in body), "a 404 has no errors[]", body);
  });

  await check(
    "denying the denied request again -> 422 with GitHub's validation-error body, and the first reason stays",
    { reviewer, issuer, denied },
    async (t) => {
      const r = await reviewer!.POST(REQUEST, {
        params: { path: { org, pat_request_id: denied!.id } },
        body: { action: "deny", reason: "A second opinion" },
      });
      if (!t.status("deny again", r, documented(REQUEST, "post", 422))) return;
      const body: BasicError | ValidationError | undefined = r.error;
      errorBodyProblems(t, "422", body, 422);
      if (body === undefined || !("errors" in body)) {
        t.fail("a 422 body has errors[]", body);
      } else {
        t.expect(body.errors.length > 0, "errors[] names what failed", body);
        for (const e of body.errors) {
          t.expect(
            typeof e.resource === "string" && typeof e.field === "string" && GITHUB_ERROR_CODES.includes(e.code),
            "each error has resource, field and one of GitHub's codes",
            e,
          );
        }
      }
      const v = await verdict(t, denied!.id);
      t.expect(v?.status === "denied" && v.review_reason === DENY_REASON, "the request keeps its first verdict and reason", v);
    },
  );

  await check("revoking the revoked grant again -> 422 with GitHub's validation-error body", { reviewer, revoked }, async (t) => {
    const r = await reviewer!.POST(GRANT, {
      params: { path: { org, pat_id: revoked!.id } },
      body: { action: "revoke" },
    });
    if (!t.status("revoke again", r, documented(GRANT, "post", 422))) return;
    const body: BasicError | ValidationError | undefined = r.error;
    errorBodyProblems(t, "422", body, 422);
    t.expect(body !== undefined && "errors" in body && body.errors.length > 0, "errors[] names what failed", body);
  });
}

async function main(): Promise<number> {
  const server = newServer();
  const watchdog = setTimeout(() => {
    failOutsideCheck(`the flow finished within ${WATCHDOG_MS / 1000}s`, ["the watchdog fired; the server probably hangs"]);
    summary();
    killServer(server);
    process.exit(1);
  }, WATCHDOG_MS);
  watchdog.unref();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      killServer(server);
      process.exit(130);
    });
  }

  let demo: DemoInfo | undefined;
  try {
    demo = await startDemo(BIN, server);
  } catch (e) {
    failOutsideCheck(`the server starts (${BIN} demo)`, [e instanceof Error ? e.message : String(e)]);
  }
  if (demo !== undefined) await run(demo, server.dataDir);
  await stopServer(server);
  const ok = allPassed();
  cleanUp(server, !ok || process.env["PATGATE_SHOW_LOG"] === "1");
  summary();
  clearTimeout(watchdog);
  return ok ? 0 : 1;
}

process.exitCode = await main();
