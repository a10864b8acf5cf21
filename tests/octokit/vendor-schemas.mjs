#!/usr/bin/env node
// Extracts the response-body schemas patgate must honour from GitHub's OpenAPI
// description (the subset kept in /work/shared/reference) into
// ./github-schemas.json, converted from OpenAPI 3.0 flavour to plain JSON
// Schema (draft-07) that ajv can compile:
//
//   * `nullable: true`   -> "null" added to `type` (and to `enum`), or
//                           `anyOf: [{type: "null"}, <schema>]` when the node
//                           has no plain `type` (allOf/anyOf/oneOf/$ref).
//   * a `oneOf` whose branches are each nullable would reject null (null would
//     match several branches), so null is hoisted out of the branches to the
//     parent (same set of accepted values, as GitHub intends).
//   * `$ref: '#/components/schemas/x'` -> `#/definitions/x` inside the
//     definitions, and the absolute form `<$id>#/definitions/x` inside the
//     per-operation response schemas.
//   * annotation-only OpenAPI keys that ajv's strict mode rejects (`example`,
//     `x-*`) are dropped.  Nothing else is touched: `required`, `enum`,
//     `format`, `additionalProperties` stay exactly as GitHub has them.
//
// Usage: node vendor-schemas.mjs [path/to/github-openapi-pat-subset.json]
// The output is committed; conformance.mjs never reads outside this folder.

import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const SRC =
  process.argv[2] || "/work/shared/reference/github-openapi-pat-subset.json";
const OUT = join(HERE, "github-schemas.json");
const SCHEMA_ID = "https://patgate.invalid/github-schemas.json";

const api = JSON.parse(readFileSync(SRC, "utf8"));
const components = api.components || {};
const schemas = components.schemas || {};

// The component schemas the conformance check validates against directly.
// Their transitive $ref closure is added below.
const ROOTS = [
  "organization-programmatic-access-grant-request",
  "organization-programmatic-access-grant",
  "minimal-repository",
  "simple-user",
  "installation-token",
  "installation",
  "integration",
  "basic-error",
  "validation-error",
  "validation-error-simple",
];

// Operations whose responses are vendored (by operationId).
const OPERATIONS = [
  "orgs/list-pat-grant-requests",
  "orgs/review-pat-grant-requests-in-bulk",
  "orgs/review-pat-grant-request",
  "orgs/list-pat-grant-request-repositories",
  "orgs/list-pat-grants",
  "orgs/update-pat-accesses",
  "orgs/update-pat-access",
  "orgs/list-pat-grant-repositories",
  "apps/create-installation-access-token",
  "apps/get-installation",
  "apps/get-org-installation",
  "apps/list-installations",
  "apps/get-authenticated",
];

function fail(msg) {
  console.error(`vendor-schemas: ${msg}`);
  process.exit(1);
}

function resolveLocal(ref) {
  const m = /^#\/components\/([a-zA-Z]+)\/(.+)$/.exec(ref);
  if (!m) fail(`unsupported $ref ${ref}`);
  const target = (components[m[1]] || {})[m[2]];
  if (!target) fail(`dangling $ref ${ref}`);
  return { kind: m[1], name: m[2], target };
}

// ---------------------------------------------------------------- closure
function collectRefs(node, acc) {
  if (Array.isArray(node)) {
    for (const x of node) collectRefs(x, acc);
  } else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (k === "$ref" && typeof v === "string") acc.add(v);
      else collectRefs(v, acc);
    }
  }
  return acc;
}

const wanted = new Set();
function want(name) {
  if (wanted.has(name)) return;
  if (!schemas[name]) {
    if (name === "integration") return; // "integration if present"
    fail(`component schema ${name} not found in ${SRC}`);
  }
  wanted.add(name);
  for (const ref of collectRefs(schemas[name], new Set())) {
    const r = resolveLocal(ref);
    if (r.kind !== "schemas") fail(`schema ${name} refs non-schema ${ref}`);
    want(r.name);
  }
}
for (const r of ROOTS) want(r);

// ------------------------------------------------------------- conversion
const DROP = (k) => k === "example" || k === "examples" || k.startsWith("x-");
const MAP_KEYS = new Set(["properties", "patternProperties", "definitions"]);

function isNullable(node) {
  return !!node && typeof node === "object" && node.nullable === true;
}

function convert(node, refPrefix) {
  if (Array.isArray(node)) return node.map((x) => convert(x, refPrefix));
  if (!node || typeof node !== "object") return node;

  let src = node;
  // oneOf with more than one nullable branch: hoist null to the parent.
  if (Array.isArray(src.oneOf) && src.oneOf.filter(isNullable).length > 1) {
    src = {
      ...src,
      nullable: true,
      oneOf: src.oneOf.map((b) => {
        if (!isNullable(b)) return b;
        const { nullable, ...rest } = b;
        return rest;
      }),
    };
  }

  const out = {};
  for (const [k, v] of Object.entries(src)) {
    if (DROP(k) || k === "nullable") continue;
    if (MAP_KEYS.has(k) && v && typeof v === "object" && !Array.isArray(v)) {
      out[k] = Object.fromEntries(
        Object.entries(v).map(([pk, pv]) => [pk, convert(pv, refPrefix)]),
      );
    } else if (k === "$ref") {
      const r = resolveLocal(v);
      if (r.kind !== "schemas") fail(`schema refs non-schema ${v}`);
      if (!wanted.has(r.name)) want(r.name);
      out.$ref = `${refPrefix}#/definitions/${r.name}`;
    } else if (k === "enum" || k === "required" || k === "default") {
      out[k] = v;
    } else {
      out[k] = convert(v, refPrefix);
    }
  }

  // $ref with siblings: keep the ref's meaning unambiguous for ajv.
  if (out.$ref && Object.keys(out).some((k) => !["$ref", "title", "description"].includes(k))) {
    const { $ref, title, description, ...rest } = out;
    for (const k of Object.keys(out)) delete out[k];
    Object.assign(out, title ? { title } : {}, description ? { description } : {}, {
      allOf: [{ $ref }, rest],
    });
  }

  if (src.nullable === true) {
    const composite = out.$ref || out.allOf || out.anyOf || out.oneOf || out.not;
    if (!composite && typeof out.type === "string") {
      out.type = [out.type, "null"];
      if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
    } else if (!composite && Array.isArray(out.type)) {
      if (!out.type.includes("null")) out.type = [...out.type, "null"];
      if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
    } else if (composite || out.type !== undefined) {
      const { title, description, ...rest } = out;
      for (const k of Object.keys(out)) delete out[k];
      Object.assign(out, title ? { title } : {}, description ? { description } : {}, {
        anyOf: [{ type: "null" }, rest],
      });
    }
    // nullable without any type constraint already accepts null.
  }
  return out;
}

// ------------------------------------------------------------- operations
function findOperation(operationId) {
  for (const [path, item] of Object.entries(api.paths || {})) {
    for (const [method, op] of Object.entries(item)) {
      if (op && op.operationId === operationId) return { path, method, op };
    }
  }
  return null;
}

const operations = {};
for (const operationId of OPERATIONS) {
  const found = findOperation(operationId);
  if (!found) fail(`operation ${operationId} not found`);
  const responses = {};
  for (const [status, resp0] of Object.entries(found.op.responses || {})) {
    let resp = resp0;
    let component = null;
    if (resp.$ref) {
      const r = resolveLocal(resp.$ref);
      component = r.name;
      resp = r.target;
    }
    const media = resp.content && resp.content["application/json"];
    if (media && media.schema) {
      // mark the referenced component schemas as wanted before converting
      for (const ref of collectRefs(media.schema, new Set())) want(resolveLocal(ref).name);
    }
    responses[status] = {
      description: resp.description || null,
      response_component: component,
      // null = GitHub documents no body for this status (e.g. 204)
      schema: media && media.schema ? convert(media.schema, SCHEMA_ID) : null,
    };
  }
  operations[operationId] = {
    method: found.method.toUpperCase(),
    path: found.path,
    octokit: ((api.octokit_methods || {})[`${found.method.toUpperCase()} ${found.path}`] || {}).octokit || null,
    responses,
  };
}

const definitions = {};
for (const name of [...wanted].sort()) definitions[name] = convert(schemas[name], "");
// convert() may have discovered more names (it calls want()); loop to fixpoint.
for (;;) {
  const missing = [...wanted].filter((n) => !(n in definitions));
  if (!missing.length) break;
  for (const n of missing) definitions[n] = convert(schemas[n], "");
}
const sortedDefs = Object.fromEntries(Object.keys(definitions).sort().map((k) => [k, definitions[k]]));

const doc = {
  $comment:
    "GENERATED by vendor-schemas.mjs from GitHub's REST OpenAPI description (subset). Do not edit by hand; re-run `node vendor-schemas.mjs`.",
  source: {
    file: "github-openapi-pat-subset.json",
    rest_source: (api._meta || {}).rest_source || null,
    openapi: (api._meta || {}).openapi || null,
  },
  schema_id: SCHEMA_ID,
  conversion: [
    "nullable: true -> type [T, 'null'] (+ null in enum), or anyOf [{type: null}, S] for $ref/allOf/anyOf/oneOf",
    "oneOf with several nullable branches -> null hoisted to the parent",
    "$ref #/components/schemas/X -> #/definitions/X (operations: <schema_id>#/definitions/X)",
    "dropped keys: example, examples, x-*",
  ],
  definitions: sortedDefs,
  operations,
};

writeFileSync(OUT, JSON.stringify(doc, null, 2) + "\n");
console.log(
  `wrote ${OUT}: ${Object.keys(sortedDefs).length} definitions (${Object.keys(sortedDefs).join(", ")}), ${Object.keys(operations).length} operations`,
);
