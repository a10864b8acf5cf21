// What the flow needs around the client: the checks and their report, the server it starts,
// and the Link header.

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** This package's folder (the compiled files run from its dist/). */
export const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const REPO_ROOT = resolve(PACKAGE_DIR, "../..");

// ===================================================================== report
let passed = 0;
let failed = 0;

/** Every HTTP exchange, so that a failing check can show the requests it made. */
export const trace: string[] = [];

function excerpt(value: unknown, max = 400): string {
  let s: string | undefined;
  try {
    s = JSON.stringify(value);
  } catch {
    s = undefined;
  }
  s ??= String(value);
  return s.length > max ? `${s.slice(0, max)}…(${s.length} chars)` : s;
}

/** The problems one check found; it passes when there are none. */
export class Check {
  readonly problems: string[] = [];

  fail(message: string, got?: unknown): false {
    this.problems.push(got === undefined ? message : `${message}\n  got: ${excerpt(got)}`);
    return false;
  }

  expect(cond: boolean, message: string, got?: unknown): boolean {
    return cond ? true : this.fail(message, got);
  }

  /** The response's status is `want`; otherwise records the status and the error body. */
  status(label: string, result: { response: Response; error?: unknown }, want: number): boolean {
    const got = result.response.status;
    if (got === want) return true;
    return this.fail(`${label}: expected HTTP ${want}, got ${got}`, result.error);
  }
}

function emit(ok: boolean, name: string, details: string[]): void {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? "ok" : "not ok"} - ${name}`);
  for (const d of details) for (const line of d.split("\n")) console.log(`  # ${line}`);
}

/**
 * Runs one check and prints its line. The value `fn` returns is handed to later checks even
 * when this one failed, so one server bug does not hide the rest; a check whose inputs are
 * missing fails (it is never skipped silently).
 */
export async function check<T>(name: string, needs: Record<string, unknown>, fn: (t: Check) => Promise<T>): Promise<T | undefined> {
  const missing = Object.entries(needs)
    .filter(([, v]) => v === undefined || v === null)
    .map(([k]) => k);
  if (missing.length > 0) {
    emit(false, name, [`not run: an earlier check did not produce ${missing.join(", ")}`]);
    return undefined;
  }
  const t = new Check();
  const traceStart = trace.length;
  let value: T | undefined;
  try {
    value = await fn(t);
  } catch (e) {
    t.fail(`unexpected exception: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }
  const details = [...t.problems];
  if (details.length > 0) {
    const requests = trace.slice(traceStart);
    if (requests.length > 0) details.push(`requests: ${requests.slice(-6).join("; ")}`);
  }
  emit(details.length === 0, name, details);
  return value;
}

/** Whether every check so far passed (and there was one). */
export function allPassed(): boolean {
  return failed === 0 && passed > 0;
}

/** Prints the last line: "N passed, M failed". */
export function summary(): void {
  console.log(`${passed} passed, ${failed} failed`);
}

export function failOutsideCheck(name: string, details: string[]): void {
  emit(false, name, details);
}

// ======================================================================= link
/** The URLs of a `Link` header by relation (`next`, `prev`, `first`, `last`). */
export function parseLink(header: string | null): Record<string, string> {
  const rels: Record<string, string> = {};
  for (const m of (header ?? "").matchAll(/<([^<>]*)>\s*;\s*rel="([^"]+)"/g)) {
    const [, url, names] = m;
    if (url === undefined || names === undefined) continue;
    for (const rel of names.split(/\s+/)) rels[rel] = url;
  }
  return rels;
}

// ===================================================================== server
/** What `patgate demo` writes to DATA_DIR/demo.json. */
export interface DemoInfo {
  base_url: string;
  org: string;
  app_id: number;
  client_id: string;
  installation_id: number;
  private_key_path: string;
  issuer_app_id: number;
  issuer_installation_id: number;
}

export interface Server {
  dataDir: string;
  child: ChildProcess | undefined;
  log: string[];
  exited: string | undefined;
}

const STARTUP_TIMEOUT_MS = 60_000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return await new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      srv.close(() => res(port));
    });
  });
}

/**
 * Starts `BIN demo` on a free port with a fresh data dir, and waits until it has written
 * demo.json and answers `GET /`.
 */
export async function startDemo(bin: string, server: Server): Promise<DemoInfo> {
  if (!existsSync(bin)) throw new Error(`server binary not found: ${bin} (build it with cargo build, or set PATGATE_BIN)`);
  const port = await freePort();
  const args = ["demo", "--data-dir", server.dataDir, "--bind", `127.0.0.1:${port}`];
  const child = spawn(bin, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
  server.child = child;
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) if (line.length > 0) server.log.push(line);
    if (server.log.length > 2000) server.log.splice(0, server.log.length - 2000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  child.on("error", (e) => {
    server.exited = `could not start: ${e.message}`;
  });
  child.on("exit", (code, signal) => {
    server.exited ??= `exited with code ${code} signal ${signal}`;
  });

  const demoPath = join(server.dataDir, "demo.json");
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let last = "demo.json not written yet";
  while (Date.now() < deadline) {
    if (server.exited !== undefined) throw new Error(`server ${server.exited} before it was ready (${last})`);
    if (existsSync(demoPath)) {
      try {
        const demo = JSON.parse(readFileSync(demoPath, "utf8")) as DemoInfo;
        const res = await fetch(`${demo.base_url.replace(/\/+$/, "")}/`, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        return demo;
      } catch (e) {
        last = e instanceof Error ? e.message : String(e);
      }
    }
    await sleep(200);
  }
  throw new Error(`server not ready after ${STARTUP_TIMEOUT_MS / 1000}s (${last})`);
}

export function newServer(): Server {
  return { dataDir: mkdtempSync(join(tmpdir(), "patgate-ts-")), child: undefined, log: [], exited: undefined };
}

export async function stopServer(server: Server): Promise<void> {
  const child = server.child;
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  if ((await Promise.race([gone.then(() => "exited"), sleep(5000).then(() => "timeout")])) === "timeout") {
    child.kill("SIGKILL");
    await Promise.race([gone, sleep(2000)]);
  }
}

/** Kills the server at once; for exits that cannot wait. */
export function killServer(server: Server): void {
  const child = server.child;
  if (child !== undefined && child.exitCode === null) child.kill("SIGKILL");
}

/** Removes the data dir, or keeps it (with the server log) when PATGATE_KEEP_TMP=1. */
export function cleanUp(server: Server, showLog: boolean): void {
  if (showLog && server.log.length > 0) {
    console.log("  # server log (last 40 lines):");
    for (const line of server.log.slice(-40)) console.log(`  #   ${line}`);
  }
  if (process.env["PATGATE_KEEP_TMP"] === "1") {
    writeFileSync(join(server.dataDir, "server.log"), `${server.log.join("\n")}\n`);
    console.log(`  # data dir kept: ${server.dataDir}`);
  } else {
    rmSync(server.dataDir, { recursive: true, force: true });
  }
}

/** The demo app's private key (demo.json's path is relative to the data dir when not absolute). */
export function demoKey(demo: DemoInfo, dataDir: string): string {
  const p = demo.private_key_path;
  return readFileSync(isAbsolute(p) ? p : join(dataDir, p), "utf8");
}
