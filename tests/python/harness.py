"""Plumbing for conformance.py: the report, the server process, Link parsing, a watchdog.

Nothing here knows PyGithub or githubkit; conformance.py holds the checks.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
STARTUP_TIMEOUT_S = 60
WATCHDOG_S = 120

_MISSING = object()


# ===================================================================== report
def short(value: Any, limit: int = 400) -> str:
    """JSON-ish one-line rendering of a value, cut at `limit` characters."""
    try:
        s = json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        s = repr(value)
    return s if len(s) <= limit else f"{s[:limit]}…({len(s)} chars)"


class Problems:
    """What one check found wrong; notes are shown but do not fail the check."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def fail(self, message: str, *, expected: Any = _MISSING, got: Any = _MISSING, excerpt: Any = _MISSING) -> bool:
        parts = [message]
        for label, value in (("expected", expected), ("got", got), ("excerpt", excerpt)):
            if value is not _MISSING:
                parts.append(
                    f"{label}: {value if isinstance(value, str) else short(value, 600 if label == 'excerpt' else 400)}"
                )
        self.items.append("\n  ".join(parts))
        return False

    def ok(self, cond: Any, message: str, **extra: Any) -> bool:
        if not cond:
            self.fail(message, **extra)
        return bool(cond)

    def note(self, message: str) -> None:
        self.items.append(f"(note) {message}")

    @property
    def failed(self) -> bool:
        return any(not p.startswith("(note)") for p in self.items)


class Trace(logging.Handler):
    """Every HTTP exchange both clients make, as (method, url, status), so a failing
    check can show which requests it made. githubkit reports through an httpx event hook
    (`on_response`); PyGithub through its own DEBUG log line (logger `github.Requester`),
    which carries verb, scheme, host, url, …, status."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.entries: list[tuple[str, str, Any]] = []
        # PyGithub logs host without port; the base URL the run uses replaces scheme://host.
        self.pygithub_base = ""

    def on_response(self, response: Any) -> None:  # httpx response hook (githubkit)
        self.entries.append((response.request.method, str(response.request.url), response.status_code))

    def emit(self, record: logging.LogRecord) -> None:  # PyGithub's Requester log
        args = record.args
        if isinstance(args, tuple) and len(args) >= 7:
            verb, scheme, host, url, _h, _i, status = args[:7]
            where = (
                f"{self.pygithub_base}{url}"
                if self.pygithub_base and str(url).startswith("/")
                else f"{scheme}://{host}{url}"
            )
            self.entries.append((str(verb), where, status))

    def install_pygithub(self) -> None:
        log = logging.getLogger("github.Requester")
        log.setLevel(logging.DEBUG)
        log.addHandler(self)
        log.propagate = False


class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0
        self.failed_names: list[str] = []
        self.trace = Trace()
        self.lock = threading.Lock()
        self.describe_error: Callable[[BaseException], str] = lambda e: f"{type(e).__name__}: {e}"

    def emit(self, ok: bool, name: str, details: list[str] | None = None) -> None:
        with self.lock:
            if ok:
                self.passed += 1
            else:
                self.failed += 1
                self.failed_names.append(name)
            print(f"{'ok' if ok else 'not ok'} - {name}", flush=True)
            for d in details or []:
                for line in str(d).split("\n"):
                    print(f"  # {line}", flush=True)

    def check(self, name: str, fn: Callable[[Problems], Any], needs: list[tuple[str, Any]] | None = None) -> Any:
        """Runs fn(t); a problem recorded on t or an exception fails the check. A missing
        prerequisite (None / False) fails it without running it: never silently skipped.
        fn's return value is handed on even when the check failed, so one server bug does
        not hide the checks after it; fn returns None when it has nothing usable."""
        missing = [n for n, v in (needs or []) if v is None or v is False]
        if missing:
            self.emit(False, name, [f"not run: prerequisite missing ({', '.join(missing)})"])
            return None
        t = Problems()
        start = len(self.trace.entries)
        value = None
        try:
            value = fn(t)
        except Exception as e:  # noqa: BLE001 - every exception is a finding
            t.fail(f"unexpected exception: {self.describe_error(e)}")
        details = list(t.items)
        if t.failed:
            reqs = self.trace.entries[start:]
            shown = reqs[-6:]
            if reqs:
                more = f", last {len(shown)}" if len(reqs) > len(shown) else ""
                details.append(f"requests ({len(reqs)}{more}): " + "; ".join(f"{m} {u} -> {s}" for m, u, s in shown))
        self.emit(not t.failed, name, details if t.failed else [d for d in details if d.startswith("(note)")])
        return value

    def summary(self) -> None:
        if self.failed_names:
            print(f"# failed: {len(self.failed_names)}", flush=True)
        print(f"{self.passed} passed, {self.failed} failed", flush=True)


# ==================================================================== links
LINK_RE = re.compile(r'<([^<>]*)>\s*;\s*rel="([^"]+)"')


def parse_link(header: str | None) -> dict[str, str]:
    rels: dict[str, str] = {}
    for url, rel in LINK_RE.findall(header or ""):
        for r in rel.split():
            rels[r] = url
    return rels


def query_param(url: str, name: str) -> str | None:
    values = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).get(name)
    return values[0] if values else None


def check_page_links(t: Problems, label: str, link: str | None, page: int, per_page: int, total: int) -> None:
    """GitHub's Link for `page` of a list of `total` items: `next` and `last`
    (page=ceil(total/per_page)) unless on the last page, `prev` and `first` unless on
    page 1, no header at all when everything fits on one page; every URL keeps per_page."""
    last = max(1, math.ceil(total / per_page))
    rels = parse_link(link)
    where = f"{label} page {page} (per_page {per_page}, {total} items, {last} pages)"
    if last == 1 and page == 1:
        t.ok(not link, f"{where}: a single page has no Link header", got=link)
        return
    if page < last:
        t.ok(
            "next" in rels and query_param(rels["next"], "page") == str(page + 1),
            f'{where}: rel="next" must be page={page + 1}',
            got=link,
        )
        t.ok(
            "last" in rels and query_param(rels["last"], "page") == str(last),
            f'{where}: rel="last" must be page={last} = ceil({total}/{per_page}) ({last - page} pages ahead)',
            got=link if link else "(no Link header)",
        )
    else:
        t.ok(
            "next" not in rels and "last" not in rels,
            f'{where}: the last page has no rel="next" / rel="last"',
            got=link,
        )
    if page > 1:
        t.ok(
            "prev" in rels and query_param(rels["prev"], "page") == str(min(page - 1, last)),
            f'{where}: rel="prev" must be page={page - 1}',
            got=link,
        )
        t.ok(
            "first" in rels and query_param(rels["first"], "page") == "1",
            f'{where}: rel="first" must be page=1',
            got=link,
        )
    else:
        t.ok("prev" not in rels and "first" not in rels, f'{where}: page 1 has no rel="prev" / rel="first"', got=link)
    for rel, url in rels.items():
        t.ok(
            query_param(url, "per_page") == str(per_page),
            f'{where}: rel="{rel}" must keep per_page={per_page}',
            got=url,
        )


# ================================================================== server
class Server:
    def __init__(self, binary: Path) -> None:
        self.binary = binary
        self.tmp = Path(tempfile.mkdtemp(prefix="patgate-python-"))
        self.port = free_port()
        self.args = ["demo", "--data-dir", str(self.tmp), "--bind", f"127.0.0.1:{self.port}"]
        self.proc: subprocess.Popen[bytes] | None = None
        self.log: list[str] = []
        self.listening: str | None = None
        self.demo: dict[str, Any] | None = None
        self.root_status: int | None = None
        self.error: str | None = None
        self._lock = threading.Lock()

    def _pump(self, stream: Any, is_stdout: bool) -> None:
        first = True
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lock:
                self.log.append(line)
                if len(self.log) > 2000:
                    del self.log[:-2000]
            if is_stdout and first:
                first = False
                m = re.match(r"listening on (http://\S+)", line)
                if m:
                    self.listening = m.group(1)
        stream.close()

    def start(self) -> None:
        """Starts `BIN demo --data-dir TMP --bind 127.0.0.1:PORT` (the approach of
        tests/octokit/conformance.mjs) and waits for the first stdout line
        `listening on http://…`, for TMP/demo.json with a base_url, and for GET / to answer."""
        if not self.binary.exists():
            self.error = f"server binary not found: {self.binary} (run `cargo build`, or set PATGATE_BIN)"
            return
        self.proc = subprocess.Popen(
            [str(self.binary), *self.args],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=server_env(),
        )
        for stream, is_stdout in ((self.proc.stdout, True), (self.proc.stderr, False)):
            threading.Thread(target=self._pump, args=(stream, is_stdout), daemon=True).start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        last_err = "no `listening on http://…` line on stdout yet"
        demo_path = self.tmp / "demo.json"
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                self.error = f"server exited with code {code} before it was ready ({last_err})"
                return
            if self.listening and demo_path.exists():
                try:
                    demo = json.loads(demo_path.read_text())
                    if not isinstance(demo.get("base_url"), str):
                        raise ValueError(f"demo.json has no base_url: {short(demo)}")
                    with urllib.request.urlopen(demo["base_url"].rstrip("/") + "/", timeout=2) as r:
                        self.root_status = r.status
                    self.demo = demo
                    return
                except Exception as e:  # noqa: BLE001 - keep polling until the deadline
                    last_err = f"{type(e).__name__}: {e}"
            elif self.listening:
                last_err = "demo.json not written yet"
            time.sleep(0.2)
        self.error = f"server not ready after {STARTUP_TIMEOUT_S}s ({last_err})"

    def stop(self) -> None:
        p = self.proc
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            try:
                p.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass

    def kill_now(self) -> None:
        p = self.proc
        if p is not None and p.poll() is None:
            p.kill()

    def cleanup(self) -> None:
        if os.environ.get("PATGATE_KEEP_TMP"):
            (self.tmp / "server.log").write_text("\n".join(self.log) + "\n")
            print(f"# kept {self.tmp}", flush=True)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def server_env() -> dict[str, str]:
    """The caller's environment, with expiry sweeps off unless PATGATE_EXPIRY_INTERVAL is set:
    the first sweep runs at start-up alongside the first requests (it expires the demo's 3
    requests whose token expired), and a list that shrinks between two reads of one check
    would be a false failure."""
    env = os.environ.copy()
    env.setdefault("PATGATE_EXPIRY_INTERVAL", "0")
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_watchdog(report: Report, server: Server, seconds: int = WATCHDOG_S) -> None:
    """Ends the whole run (failed) if it takes longer than `seconds`: a hanging server or
    client never hangs `make test`."""

    def fire() -> None:
        report.emit(
            False, f"whole run finished within {seconds}s", ["watchdog fired; the server or a client probably hangs"]
        )
        report.summary()
        server.kill_now()
        sys.stdout.flush()
        os._exit(1)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
