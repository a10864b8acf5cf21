#!/usr/bin/env python3
"""Conformance check: unmodified PyGithub and githubkit clients against patgate.

    make test-python            # builds, makes target/python-venv, runs this
    target/python-venv/bin/python tests/python/conformance.py

It starts `PATGATE_BIN demo --data-dir <tmp> --bind 127.0.0.1:<free port>` (default
target/debug/patgate), reads <tmp>/demo.json, and drives the server with
- PyGithub: GithubIntegration + Auth.AppAuth for the installation token, then Github +
  Auth.Token and PaginatedList (PyGithub has no typed methods for these endpoints);
- githubkit: GitHub(AppAuthStrategy).with_auth(as_installation(...)) and the typed
  github.rest.orgs.*pat* methods, whose response models parse every body (a schema check).

Output: one "ok - name" / "not ok - name" line per check (details on following lines
starting with "  # "), then "N passed, M failed" alone on the last line. Exit code 1
when anything failed.

Environment: PATGATE_BIN (server binary), PATGATE_KEEP_TMP=1 (keep the data dir and write
server.log into it), PATGATE_SHOW_LOG=1 (always print the tail of the server log).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    REPO_ROOT,
    Problems,
    Report,
    Server,
    check_page_links,
    short,
    start_watchdog,
)

try:
    import pydantic
    from github import Auth, Github, GithubException, GithubIntegration, UnknownObjectException
    from github.GithubObject import NonCompletableGithubObject
    from github.PaginatedList import PaginatedList
    from githubkit import AppAuthStrategy, GitHub
    from githubkit.exception import RequestFailed
except ImportError as e:  # pragma: no cover - reported, not a traceback
    print(
        f"not ok - the Python clients are installed ({e}; run `make test-python`, or "
        "pip install -r tests/python/requirements.txt)"
    )
    print("0 passed, 1 failed")
    sys.exit(1)

BIN = Path(os.environ["PATGATE_BIN"]).resolve() if os.environ.get("PATGATE_BIN") else REPO_ROOT / "target/debug/patgate"
UNKNOWN_ORG = "no-such-org"
TIMEOUT = 20
REQUESTS = "/orgs/{org}/personal-access-token-requests"
GRANTS = "/orgs/{org}/personal-access-tokens"
CATEGORIES = ("organization", "repository", "other")

R = Report()


# ================================================================= helpers
def describe_error(e: BaseException) -> str:
    if isinstance(e, RequestFailed):
        return (
            f"githubkit RequestFailed: HTTP {e.response.status_code} from {e.request.method} "
            f"{e.request.url}: {e.response.text[:500]}"
        )
    if isinstance(e, GithubException):
        return f"PyGithub {type(e).__name__}: HTTP {e.status}: {short(e.data, 500)}"
    if isinstance(e, pydantic.ValidationError):
        return "githubkit's response model does not parse the body: " + schema_errors(e)
    tb = traceback.extract_tb(e.__traceback__)
    here = [f for f in tb if f.filename.endswith(("conformance.py", "harness.py"))]
    where = f" (at {Path(here[-1].filename).name}:{here[-1].lineno})" if here else ""
    return f"{type(e).__name__}: {e}{where}"


def schema_errors(e: pydantic.ValidationError, limit: int = 6) -> str:
    """pydantic's errors, one per field path (list indexes folded), with the value found."""
    seen: dict[str, str] = {}
    for err in e.errors():
        loc = ".".join("*" if isinstance(p, int) else str(p) for p in err["loc"])
        if loc not in seen:
            seen[loc] = f"{loc or '/'}: {err['msg']} (got {short(err.get('input'), 160)})"
    shown = list(seen.values())[:limit]
    more = f"; … {len(seen) - limit} more" if len(seen) > limit else ""
    return f"{e.error_count()} error(s): " + "; ".join(shown) + more


R.describe_error = describe_error


class RawItem(NonCompletableGithubObject):
    """Any JSON object, kept as raw_data: PyGithub 2.10 has no class for PAT requests,
    grants or their repositories, so they are listed through PaginatedList with this."""

    def _initAttributes(self) -> None:
        pass

    def _useAttributes(self, attributes: Any) -> None:
        pass


def parsed(t: Problems, label: str, response: Any) -> Any:
    """githubkit's own model parsing of a response (the schema check); None if it fails."""
    try:
        return response.parsed_data
    except pydantic.ValidationError as e:
        t.fail(
            f"{label}: githubkit's response model does not parse the body",
            got=schema_errors(e),
            excerpt=response.text[:600],
        )
        return None


def expect_failed(t: Problems, label: str, status: int, fn: Callable[[], Any]) -> Any:
    """fn (a githubkit call) must raise RequestFailed with `status`, whose body parses as
    the error model githubkit maps that status to and carries a non-empty message."""
    try:
        res = fn()
    except RequestFailed as e:
        t.ok(
            e.response.status_code == status,
            f"{label}: wrong status",
            expected=status,
            got=e.response.status_code,
            excerpt=e.response.text[:400],
        )
        model = parsed(t, f"{label} ({e.response.status_code} body)", e.response)
        want = {404: "BasicError", 422: "ValidationError"}.get(status)
        if model is not None and want:
            t.ok(
                type(model).__name__ == want,
                f"{label}: githubkit maps a {status} of this operation to {want}",
                got=type(model).__name__,
            )
        try:
            body = e.response.json()
        except ValueError:
            body = None
        t.ok(
            isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"],
            f"{label}: the error body must be a JSON object with a non-empty message",
            got=e.response.text[:300],
        )
        return e
    except Exception as e:  # noqa: BLE001
        t.fail(f"{label}: expected githubkit to raise RequestFailed (HTTP {status})", got=describe_error(e))
        return None
    t.fail(
        f"{label}: expected githubkit to raise RequestFailed (HTTP {status})",
        got=f"HTTP {res.status_code}",
        excerpt=res.text[:300],
    )
    return None


def ids(items: list[Any]) -> list[int]:
    return [i["id"] if isinstance(i, dict) else i.id for i in items]


def same(t: Problems, label: str, expected: list[Any], got: list[Any]) -> bool:
    if expected == got:
        return True
    e, g = set(expected), set(got)
    return t.fail(
        label,
        expected=f"{len(expected)} ids {short(expected, 300)}",
        got=f"{len(got)} ids {short(got, 300)}; missing {sorted(e - g)[:10]}, unexpected {sorted(g - e)[:10]}",
    )


def same_less(t: Problems, label: str, before: list[int], gone: list[int], after: list[int]) -> bool:
    """`after` must be `before` without the ids `gone`, in order."""
    return same(t, label, [i for i in before if i not in gone], after)


def no_content(t: Problems, res: Any) -> bool:
    """A 204 without a body."""
    t.ok(res.status_code == 204 and not res.content, "204 with no body", got=f"{res.status_code} {res.text[:200]}")
    return res.status_code == 204


def accepted_as(label: str) -> Callable[[Problems, Any], bool]:
    """Checks a 202 whose body (`{}`) parses (as `label`)."""

    def accepted(t: Problems, res: Any) -> bool:
        t.ok(res.status_code == 202, "status", expected=202, got=res.status_code)
        parsed(t, label, res)
        t.ok(res.json() == {}, "202 body must be {}", got=res.text[:200])
        return res.status_code == 202

    return accepted


def perms_of(item: dict[str, Any]) -> list[tuple[str, str]]:
    p = item.get("permissions") or {}
    return [(k, v) for c in CATEGORIES for k, v in (p.get(c) or {}).items()]


def parse_time(s: Any) -> float:
    try:
        return dt.datetime.fromisoformat(str(s).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return math.nan


def pages_needed(n: int, per_page: int) -> int:
    return max(1, math.ceil(n / per_page))


# ================================================================== the run
def run(server: Server) -> None:
    demo = server.demo or {}
    base = str(demo.get("base_url", "")).rstrip("/")
    org = demo.get("org")
    app_id = demo.get("app_id")
    inst_id = demo.get("installation_id")
    R.trace.pygithub_base = base

    def c_demo(t: Problems) -> str | None:
        t.ok(
            base.startswith("http://") and base.endswith(f":{server.port}"),
            "base_url must be http://…:<the --bind port>",
            expected=server.port,
            got=demo.get("base_url"),
        )
        t.ok(
            server.listening and server.listening.rstrip("/").endswith(f":{server.port}"),
            'first stdout line must be "listening on http://<bound address>"',
            got=server.listening,
        )
        t.ok(isinstance(org, str) and org, "org must be a non-empty string", got=org)
        t.ok(isinstance(app_id, int) and app_id > 0, "app_id must be a positive integer", got=app_id)
        t.ok(isinstance(inst_id, int) and inst_id > 0, "installation_id must be a positive integer", got=inst_id)
        p = Path(str(demo.get("private_key_path", "")))
        p = p if p.is_absolute() else server.tmp / p
        if not t.ok(p.is_file(), "private_key_path must name an existing file", got=demo.get("private_key_path")):
            return None
        key = p.read_text()
        return key if t.ok("PRIVATE KEY-----" in key, "the private key must be PEM", got=key[:40]) else None

    key = R.check(
        "demo.json names base_url (the --bind port), org, app_id, installation_id and a readable private_key_path",
        c_demo,
    )
    if not key:
        R.emit(
            False, "the PyGithub and githubkit checks", ["not run: prerequisite missing (demo.json with a private key)"]
        )
        return

    # ------------------------------------------------------------ PyGithub
    gi = GithubIntegration(
        auth=Auth.AppAuth(app_id, key),
        base_url=base,
        timeout=TIMEOUT,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )

    def pygithub(token: str, per_page: int) -> Github:
        # seconds_between_* = 0: PyGithub's politeness delays would only slow the run down.
        return Github(
            auth=Auth.Token(token),
            base_url=base,
            per_page=per_page,
            timeout=TIMEOUT,
            retry=None,
            seconds_between_requests=0,
            seconds_between_writes=0,
        )

    def plist(gh: Github, path: str) -> PaginatedList:
        return PaginatedList(RawItem, gh.requester, path.format(org=org))

    def c_installation(t: Problems) -> dict[str, str] | None:
        inst = gi.get_app_installation(inst_id)
        t.ok(inst.id == inst_id, "installation id", expected=inst_id, got=inst.id)
        account = (inst.raw_data.get("account") or {}).get("login")
        t.ok(account == org, "account.login must be the demo org", expected=org, got=account)
        perms = inst.permissions
        return (
            perms
            if t.ok(isinstance(perms, dict) and perms, "permissions must be a non-empty object", got=perms)
            else None
        )

    inst_perms = R.check(
        "PyGithub: GithubIntegration(auth=Auth.AppAuth(app_id, key)).get_app_installation(id) -> the demo "
        "installation on the org, with its permissions",
        c_installation,
    )

    def c_token(t: Problems) -> str | None:
        auth = gi.get_access_token(inst_id)  # POST …/access_tokens with {"permissions": {}}
        token = auth.token
        t.ok(
            isinstance(token, str) and token.startswith("ghs_"),
            "the token must be a ghs_ installation token",
            got=str(token)[:12],
        )
        exp = auth.expires_at
        now = dt.datetime.now(dt.timezone.utc)
        t.ok(
            isinstance(exp, dt.datetime) and now < exp <= now + dt.timedelta(hours=1, minutes=1),
            "expires_at must be within the next hour",
            got=str(exp),
        )
        t.ok(
            auth.permissions == inst_perms,
            'the token asked with {"permissions": {}} must carry ALL the '
            "installation's permissions (GitHub reads an empty object as no narrowing)",
            expected=inst_perms,
            got=auth.permissions,
        )
        return token if isinstance(token, str) else None

    token = R.check(
        'PyGithub: GithubIntegration.get_access_token(id), which sends {"permissions": {}} -> 201, a ghs_ '
        "token whose permissions equal the installation's",
        c_token,
        needs=[("installation", inst_perms)],
    )
    if token and inst_perms:
        # The list checks below must not all fail for the one bug above: when the token asked
        # with {"permissions": {}} lacks permissions, they use one asked for them explicitly.
        try:
            if gi.get_access_token(inst_id).permissions != inst_perms:
                token = gi.get_access_token(inst_id, permissions=inst_perms).token
                print(
                    "# PyGithub list checks use a token asked with the installation's permissions spelled out",
                    flush=True,
                )
        except Exception as e:  # noqa: BLE001 - the checks using the token will report it
            print(f"# could not get a second PyGithub token: {describe_error(e)}", flush=True)

    def c_narrowed(t: Problems) -> None:
        want = {"organization_personal_access_token_requests": "read"}
        auth = gi.get_access_token(inst_id, permissions=want)
        t.ok(
            auth.permissions == want,
            "the narrowed token's permissions must be exactly the ones asked",
            expected=want,
            got=auth.permissions,
        )
        first = plist(pygithub(auth.token, 1), REQUESTS).get_page(0)
        t.ok(
            len(first) == 1, "the narrowed token can list requests (one item on page 1 with per_page=1)", got=len(first)
        )

    R.check(
        "PyGithub: get_access_token(id, permissions={organization_personal_access_token_requests: read}) -> "
        "exactly that permission; the token lists requests",
        c_narrowed,
    )

    # ------------------------------------------------------------ githubkit
    hooks = {"request": [], "response": [R.trace.on_response]}
    app_gh = GitHub(AppAuthStrategy(app_id, key), base_url=base, timeout=TIMEOUT, auto_retry=False, event_hooks=hooks)
    gh = app_gh.with_auth(app_gh.auth.as_installation(inst_id))
    orgs = gh.rest.orgs

    def c_kit_app(t: Problems) -> bool:
        app = parsed(t, "GET /app", app_gh.rest.apps.get_authenticated())
        if app is not None:
            t.ok(app.id == app_id, "GET /app: id must be demo.json's app_id", expected=app_id, got=app.id)
        inst = parsed(t, "GET /app/installations/{id}", app_gh.rest.apps.get_installation(inst_id))
        if inst is not None:
            t.ok(inst.id == inst_id, "installation id", expected=inst_id, got=inst.id)
        res = app_gh.rest.apps.create_installation_access_token(inst_id)
        t.ok(
            res.status_code == 201,
            "POST /app/installations/{id}/access_tokens status",
            expected=201,
            got=res.status_code,
        )
        tok = parsed(t, "POST /app/installations/{id}/access_tokens", res)
        if tok is not None and inst_perms is not None:
            got = res.json().get("permissions")
            t.ok(
                got == inst_perms,
                "a token asked for without permissions carries all the installation's",
                expected=inst_perms,
                got=got,
            )
        return not t.failed

    R.check(
        "githubkit: GitHub(AppAuthStrategy(app_id, key)): rest.apps.get_authenticated / get_installation / "
        "create_installation_access_token parse as githubkit's models",
        c_kit_app,
    )

    def full_list(t: Problems, label: str, fn: Callable[..., Any], **kw: Any) -> list[dict[str, Any]] | None:
        res = fn(org, per_page=100, **kw)
        t.ok(res.status_code == 200, f"{label}: status", expected=200, got=res.status_code)
        if parsed(t, label, res) is None:
            return None
        data = res.json()
        if not t.ok(isinstance(data, list), f"{label}: body must be a JSON array", got=res.text[:200]):
            return None
        t.ok(len(data) < 100, f"{label}: the demo list must fit on one page of 100 for this check", got=len(data))
        t.ok(
            not res.headers.get("link"),
            f"{label}: one page holds everything, so no Link header",
            got=res.headers.get("link"),
        )
        return data

    def unique_list(
        t: Problems, label: str, fn: Callable[..., Any], at_least: int, why: str
    ) -> list[dict[str, Any]] | None:
        """full_list, holding at least `at_least` items (`why`), each id once."""
        data = full_list(t, label, fn)
        if data is not None:
            t.ok(len(data) >= at_least, why, got=len(data))
            t.ok(len(set(ids(data))) == len(data), "ids must be unique", got=ids(data))
        return data

    def c_req_list(t: Problems) -> list[dict[str, Any]] | None:
        data = unique_list(
            t,
            "list_pat_grant_requests(per_page=100)",
            orgs.list_pat_grant_requests,
            13,
            "the demo needs at least 13 pending requests (page 12+ with per_page=1)",
        )
        if data is None:
            return None
        times = [parse_time(r.get("created_at")) for r in data]
        t.ok(
            all(a >= b for a, b in zip(times, times[1:])),
            "default order is created_at descending",
            got=[r.get("created_at") for r in data[:6]],
        )
        return data

    reqs = R.check(
        "githubkit: rest.orgs.list_pat_grant_requests(org, per_page=100) -> 200, parsed_data parses as "
        "list[OrganizationProgrammaticAccessGrantRequest], created_at descending",
        c_req_list,
    )

    def c_grant_list(t: Problems) -> list[dict[str, Any]] | None:
        label, why = "list_pat_grants(per_page=100)", "the demo needs at least 6 grants"
        return unique_list(t, label, orgs.list_pat_grants, 6, why)

    grants = R.check(
        "githubkit: rest.orgs.list_pat_grants(org, per_page=100) -> 200, parsed_data parses as "
        "list[OrganizationProgrammaticAccessGrant]",
        c_grant_list,
    )

    def paginate(t: Problems, label: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> tuple[list[Any], list[Any]]:
        """github.rest.paginate(fn, ...) to the end; every page's model is parsed by githubkit."""
        pages: list[Any] = []

        def keep(res: Any) -> list[Any]:
            pages.append(res)
            return res.parsed_data

        items: list[Any] = []
        for item in gh.rest.paginate(fn, keep, *args, **kw):
            items.append(item)
            if len(pages) > 120:
                t.fail(
                    f'{label}: still following rel="next" after 120 pages; stopped', got=pages[-1].headers.get("link")
                )
                break
        for i, p in enumerate(pages):
            t.ok(p.status_code == 200, f"{label}: page {i + 1} status", expected=200, got=p.status_code)
        return items, pages

    def c_paginate(
        fn: Callable[..., Any], full: list[dict[str, Any]], per_page: int, label: str
    ) -> Callable[[Problems], Any]:
        def body(t: Problems) -> None:
            items, pages = paginate(t, label, fn, org, per_page=per_page)
            same(t, f"{label}: the ids must equal the per_page=100 list, in order", ids(full), ids(items))
            t.ok(
                len(pages) == pages_needed(len(full), per_page),
                f"{label}: number of pages fetched",
                expected=pages_needed(len(full), per_page),
                got=len(pages),
            )

        return body

    R.check(
        'githubkit: rest.paginate(list_pat_grant_requests, org, per_page=3) follows rel="next" to the end: same '
        "requests in the same order as per_page=100, ceil(n/3) pages, each parses",
        c_paginate(orgs.list_pat_grant_requests, reqs or [], 3, "paginate requests per_page=3"),
        needs=[("request list", reqs)],
    )
    R.check(
        "githubkit: rest.paginate(list_pat_grants, org, per_page=5) to the end == the per_page=100 grant list",
        c_paginate(orgs.list_pat_grants, grants or [], 5, "paginate grants per_page=5"),
        needs=[("grant list", grants)],
    )

    def c_legacy(t: Problems) -> None:
        # GitHub.paginate is githubkit's older paginator: page=1, 2, … until a page is empty,
        # so a page past the end must be 200 [] (as on GitHub), not an error.
        for label, fn, full in (
            ("requests", orgs.list_pat_grant_requests, reqs),
            ("grants", orgs.list_pat_grants, grants),
        ):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                items = list(gh.paginate(fn, per_page=7, org=org))
            same(t, f"{label}: github.paginate(per_page=7) must equal the per_page=100 list", ids(full), ids(items))
            past = pages_needed(len(full), 7) + 1
            res = fn(org, per_page=7, page=past)
            t.ok(
                res.status_code == 200 and res.json() == [],
                f"{label}: page {past} (past the end) must be 200 []",
                got=f"{res.status_code} {res.text[:200]}",
            )

    R.check(
        "githubkit: the legacy github.paginate(fn, per_page=7, org=org) (page numbers until an empty page) == the "
        "per_page=100 lists; a page past the end is 200 []",
        c_legacy,
        needs=[("request list", reqs), ("grant list", grants)],
    )

    # --------------------------------------------------------- repositories
    def subset_repos(t: Problems, items: list[dict[str, Any]], fn: Callable[..., Any]) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for it in items:
            if it.get("repository_selection") == "subset":
                res = fn(org, it["id"], per_page=100)
                if parsed(t, f"repositories of {it['id']}", res) is not None:
                    out[it["id"]] = [r["name"] for r in res.json()]
        return out

    def c_repos(kind: str, items: list[dict[str, Any]], fn: Callable[..., Any]) -> Callable[[Problems], Any]:
        def body(t: Problems) -> dict[int, list[str]] | None:
            repos = subset_repos(t, items, fn)
            if not t.ok(repos, f"the demo needs a {kind} with repository_selection subset"):
                return None
            empty = [i for i, names in repos.items() if not names]
            t.ok(not empty, f"every subset {kind} lists at least one repository", got=empty)
            return repos

        return body

    req_repos = R.check(
        "githubkit: rest.orgs.list_pat_grant_request_repositories for every subset request -> 200, "
        "parsed_data parses as list[MinimalRepository]",
        c_repos("request", reqs or [], orgs.list_pat_grant_request_repositories),
        needs=[("request list", reqs)],
    )
    grant_repos = R.check(
        "githubkit: rest.orgs.list_pat_grant_repositories for every subset grant -> 200, parses as "
        "list[MinimalRepository]",
        c_repos("grant", grants or [], orgs.list_pat_grant_repositories),
        needs=[("grant list", grants)],
    )

    # ----------------------------------------------------------------- Link
    def c_links(
        fn: Callable[..., Any], args: tuple[Any, ...], full: list[Any], plan: list[tuple[int, list[int]]], label: str
    ) -> Callable[[Problems], Any]:
        def body(t: Problems) -> None:
            total = len(full)
            for per_page, pages in plan:
                for page in pages:
                    res = fn(*args, per_page=per_page, page=page)
                    if not t.ok(
                        res.status_code == 200, f"{label} page {page} per_page {per_page}: status", got=res.status_code
                    ):
                        continue
                    want = ids(full)[(page - 1) * per_page : page * per_page]
                    same(
                        t,
                        f"{label} page {page} (per_page {per_page}): the items must be that slice of the full list",
                        want,
                        ids(res.json()),
                    )
                    check_page_links(t, label, res.headers.get("link"), page, per_page, total)

        return body

    def plan_for(total: int) -> list[tuple[int, list[int]]]:
        last1 = total
        p1 = sorted({1, max(1, last1 // 2), min(12, last1), max(1, last1 - 1), last1})
        last3 = pages_needed(total, 3)
        p3 = sorted({1, max(1, (last3 + 1) // 2), last3})
        return [(1, p1), (3, p3)]

    def check_links(
        path: str, fn: Callable[..., Any], items: list[dict[str, Any]] | None, what: str, more: str
    ) -> None:
        """The Link check of the list at `path` (`more` ends its name); failed, not run, without `items`."""
        if items is None:
            R.emit(
                False,
                f'Link on GET {path}: rel="last" on page 1, a middle page and page 12+',
                [f"not run: prerequisite missing ({what[:-1]} list)"],
            )
            return
        plan = plan_for(len(items))
        R.check(
            f'Link on GET {path} (githubkit): rel="last" = ceil(total/per_page) on page 1, a middle page and page '
            f"12+ (per_page=1: pages {plan[0][1]}; per_page=3: {plan[1][1]}){more}",
            c_links(fn, (org,), items, plan, what),
        )

    more = "; next / prev / first right; each page the right slice"
    check_links(REQUESTS, orgs.list_pat_grant_requests, reqs, "requests", more)
    check_links(GRANTS, orgs.list_pat_grants, grants, "grants", "")

    first_subset_req = next(iter(req_repos), None) if req_repos else None
    first_subset_grant = next(iter(grant_repos), None) if grant_repos else None

    def c_repo_links(t: Problems) -> None:
        for label, fn, item_id, repos in (
            ("request repositories", orgs.list_pat_grant_request_repositories, first_subset_req, req_repos),
            ("grant repositories", orgs.list_pat_grant_repositories, first_subset_grant, grant_repos),
        ):
            names = repos[item_id]
            full = parsed(t, label, fn(org, item_id, per_page=100))
            if full is None:
                continue
            total = len(names)
            c_links(fn, (org, item_id), full, [(1, list(range(1, total + 1)))], label)(t)

    R.check(
        "Link on the repositories lists (per_page=1, every page) of a subset request and a subset grant",
        c_repo_links,
        needs=[("subset request", first_subset_req), ("subset grant", first_subset_grant)],
    )

    # ------------------------------------------------------ PyGithub paging
    def c_py_iterate(path: str, full: list[dict[str, Any]], per_pages: tuple[int, ...]) -> Callable[[Problems], Any]:
        def body(t: Problems) -> None:
            for pp in per_pages:
                got = [x.raw_data for x in plist(pygithub(token, pp), path)]
                same(
                    t,
                    f"Github(per_page={pp}) PaginatedList over {path}: ids must equal the githubkit per_page=100 list",
                    ids(full),
                    ids(got),
                )
                t.ok(
                    got == full,
                    f"Github(per_page={pp}): the items must equal the per_page=100 items field for field",
                    got=next((g for g, f in zip(got, full) if g != f), None),
                )

        return body

    def c_py_total(path: str, full: list[dict[str, Any]]) -> Callable[[Problems], Any]:
        def body(t: Problems) -> None:
            # PyGithub reads totalCount from page 1 fetched with per_page=1: the page number in
            # rel="last" is the item count (None of these lists has total_count).
            for pp in (100, 5, 1):
                n = plist(pygithub(token, pp), path).totalCount
                t.ok(
                    n == len(full),
                    f"Github(per_page={pp}) PaginatedList({path}).totalCount must be the number of "
                    f'items, read from rel="last" of page 1 at per_page=1 ({len(full)} pages)',
                    expected=len(full),
                    got=n,
                )
            one = pygithub(token, 1)
            k = min(11, len(full) - 1)
            page = [x.raw_data["id"] for x in plist(one, path).get_page(k)]
            t.ok(
                page == [full[k]["id"]],
                f"Github(per_page=1) get_page({k}) (page {k + 1}) must be item {k + 1}",
                expected=[full[k]["id"]],
                got=page,
            )

        return body

    def c_py_reversed(path: str, full: list[dict[str, Any]], pp: int) -> Callable[[Problems], Any]:
        def body(t: Problems) -> None:
            got = [x.raw_data["id"] for x in reversed(plist(pygithub(token, pp), path))]
            same(
                t,
                f"reversed(PaginatedList) with Github(per_page={pp}) must be the list backwards (PyGithub jumps to "
                'rel="last" and follows rel="prev")',
                list(reversed(ids(full))),
                got,
            )

        return body

    for what, path, full, iter_pp, rev_pp in (
        ("requests", REQUESTS, reqs, (5, 1), 3),
        ("grants", GRANTS, grants, (3, 1), 1),
    ):
        need = [("PyGithub token", token), (f"{what} list", full)]
        R.check(
            f"PyGithub: PaginatedList over GET {path} with Github(per_page={iter_pp[0]}) and (per_page=1), iterated to "
            "the end == the per_page=100 list",
            c_py_iterate(path, full or [], iter_pp),
            needs=need,
        )
        R.check(
            f'PyGithub: PaginatedList(GET {path}).totalCount == the number of {what} (from rel="last" at '
            "per_page=1, > 10 pages), for Github(per_page=100 / 5 / 1); get_page(11) with per_page=1",
            c_py_total(path, full or []),
            needs=need,
        )
        R.check(
            f"PyGithub: reversed(PaginatedList(GET {path})) with Github(per_page={rev_pp}) == the list backwards",
            c_py_reversed(path, full or [], rev_pp),
            needs=need,
        )

    def c_py_repos(t: Problems) -> None:
        for label, path, repos, item_id in (
            ("request", REQUESTS + "/{id}/repositories", req_repos, first_subset_req),
            ("grant", GRANTS + "/{id}/repositories", grant_repos, first_subset_grant),
        ):
            p = path.replace("{id}", str(item_id))
            names = [x.raw_data["name"] for x in plist(pygithub(token, 1), p)]
            t.ok(
                names == repos[item_id],
                f"{label} {item_id}: Github(per_page=1) over {p} == githubkit's list",
                expected=repos[item_id],
                got=names,
            )
            n = plist(pygithub(token, 30), p).totalCount
            t.ok(n == len(repos[item_id]), f"{label} {item_id}: totalCount of {p}", expected=len(repos[item_id]), got=n)

    R.check(
        "PyGithub: the repositories of a subset request and of a subset grant, paged with per_page=1 and counted "
        "with totalCount, equal githubkit's lists",
        c_py_repos,
        needs=[("PyGithub token", token), ("subset request", first_subset_req), ("subset grant", first_subset_grant)],
    )

    def c_py_unknown(t: Problems) -> None:
        for path in (REQUESTS, GRANTS):
            p = path.format(org=UNKNOWN_ORG)
            try:
                got = list(PaginatedList(RawItem, pygithub(token, 30).requester, p))
                t.fail(f"GET {p}: expected PyGithub's UnknownObjectException (404)", got=f"{len(got)} items")
            except UnknownObjectException as e:
                t.ok(
                    e.status == 404 and isinstance(e.data, dict) and e.data.get("message"),
                    f"GET {p}: 404 with a message",
                    got=f"{e.status} {short(e.data)}",
                )

    R.check(
        f"PyGithub: iterating a PaginatedList for org '{UNKNOWN_ORG}' raises UnknownObjectException (404 with a "
        "message), for requests and grants",
        c_py_unknown,
        needs=[("PyGithub token", token)],
    )

    # ------------------------------------------------------------- filters
    def c_filter(
        fn: Callable[..., Any],
        full: list[dict[str, Any]],
        label: str,
        kw: dict[str, Any],
        expected: list[int],
        note: str = "",
    ) -> Callable[[Problems], Any]:
        def body(t: Problems) -> None:
            items, pages = paginate(t, label, fn, org, per_page=5, **kw)
            if note:
                t.note(note)
            t.ok(
                0 < len(expected) < len(full),
                f"{label}: the demo should make this filter select some but not all items",
                got=f"{len(expected)} of {len(full)}",
            )
            same(
                t,
                f"{label} (githubkit sends {pages[0].raw_request.url.query.decode() if pages else '?'}; paged with "
                "per_page=5): the ids must equal the client-side filter of the full list, in order",
                expected,
                ids(items),
            )
            t.ok(
                len(pages) == pages_needed(len(expected), 5),
                f'{label}: pages followed (the filter must survive in rel="next")',
                expected=pages_needed(len(expected), 5),
                got=len(pages),
            )

        return body

    def filter_checks(
        what: str,
        fn: Callable[..., Any],
        full: list[dict[str, Any]] | None,
        repos: dict[int, list[str]] | None,
        order_field: str,
    ) -> None:
        need = [(f"{what} list", full)]
        full = full or []

        def check_filter(
            call: str,
            key: str,
            value: Any,
            expected: list[int],
            needs: list[Any],
            sent: Any = None,
            counted: bool = False,
        ) -> None:
            """The check that `fn(key=sent)` (`sent` defaults to `value`) lists `expected`; `call` ends its name."""
            note = f"{key}={value}: {len(expected)} of {len(full)}" if counted else ""
            kw = {key: value if sent is None else sent}
            R.check(
                f"githubkit: {fn.__name__}({call}",
                c_filter(fn, full, f"{what} {key}={value}", kw, expected, note=note),
                needs=needs,
            )

        owners = sorted({i["owner"]["login"] for i in full if i.get("owner")})
        pick = [owners[0], owners[-1]] if len(owners) >= 2 else owners
        check_filter(
            "owner=[two logins]) (sent as owner[]=a&owner[]=b) == the client-side filter",
            "owner",
            pick,
            [i["id"] for i in full if i["owner"]["login"] in pick],
            need,
        )

        repo = None
        if repos:
            counts: dict[str, int] = {}
            for names in repos.values():
                for n in names:
                    counts[n] = counts.get(n, 0) + 1
            repo = min(counts, key=lambda n: (counts[n] == len(repos), -counts[n], n))
        exp_repo = [
            i["id"]
            for i in full
            if i["repository_selection"] == "all"
            or (i["repository_selection"] == "subset" and repo in (repos or {}).get(i["id"], []))
        ]
        check_filter(
            "repository=<name>) == the client-side filter (subset items listing it, and "
            "items with repository_selection all, as docs/API-DESIGN.md documents)",
            "repository",
            repo,
            exp_repo,
            need + [("subset repositories", repos)],
            counted=True,
        )

        levels: dict[str, set[str]] = {}
        counts2: dict[tuple[str, str], int] = {}
        for i in full:
            for k, v in perms_of(i):
                levels.setdefault(k, set()).add(v)
                counts2[(k, v)] = counts2.get((k, v), 0) + 1
        cands = sorted(counts2, key=lambda kv: (len(levels[kv[0]]) != 1, counts2[kv] >= len(full), -counts2[kv], kv))
        perm = f"{cands[0][0]}_{cands[0][1]}" if cands else None
        exp_perm = [i["id"] for i in full if cands and cands[0] in perms_of(i)]
        check_filter(
            "permission=<key>_<level>) == the items asking for exactly that permission",
            "permission",
            perm,
            exp_perm,
            need + [("a permission", perm)],
            counted=True,
        )

        toks = [full[0]["token_id"], full[-1]["token_id"]] if len(full) >= 2 else []
        check_filter(
            "token_id=[two ids as strings]) (sent as token_id[]=…) == the client-side filter",
            "token_id",
            toks,
            [i["id"] for i in full if i["token_id"] in toks],
            need,
            sent=[str(x) for x in toks],
        )

        def c_direction(t: Problems) -> None:
            items, _ = paginate(t, f"{what} direction=asc", fn, org, per_page=5, direction="asc", sort="created_at")
            got = ids(items)
            t.ok(sorted(got) == sorted(ids(full)), "direction=asc must list the same items", got=short(got, 200))
            times = [parse_time(i[order_field]) for i in full]
            if len(set(times)) == len(times):
                same(
                    t,
                    f"with distinct {order_field}, asc must be the exact reverse of the default (desc)",
                    list(reversed(ids(full))),
                    got,
                )
            else:
                t.note(f"{order_field} not distinct; only the set is compared")
            desc, _ = paginate(t, f"{what} direction=desc", fn, org, per_page=5, direction="desc")
            same(t, "direction=desc must equal the default order", ids(full), ids(desc))

        R.check(
            f"githubkit: {fn.__name__}(sort='created_at', direction='asc' / 'desc') -> the same items, reversed / in "
            "the default order",
            c_direction,
            needs=need,
        )

    filter_checks("requests", orgs.list_pat_grant_requests, reqs, req_repos, "created_at")
    filter_checks("grants", orgs.list_pat_grants, grants, grant_repos, "access_granted_at")

    def c_kit_unknown(t: Problems) -> None:
        expect_failed(
            t, f"list_pat_grant_requests('{UNKNOWN_ORG}')", 404, lambda: orgs.list_pat_grant_requests(UNKNOWN_ORG)
        )
        expect_failed(t, f"list_pat_grants('{UNKNOWN_ORG}')", 404, lambda: orgs.list_pat_grants(UNKNOWN_ORG))
        some = reqs[0]["id"] if reqs else 1
        expect_failed(
            t,
            f"review_pat_grant_request('{UNKNOWN_ORG}', {some})",
            404,
            lambda: orgs.review_pat_grant_request(UNKNOWN_ORG, some, action="deny"),
        )
        expect_failed(
            t,
            f"review_pat_grant_requests_in_bulk('{UNKNOWN_ORG}')",
            404,
            lambda: orgs.review_pat_grant_requests_in_bulk(UNKNOWN_ORG, pat_request_ids=[some], action="deny"),
        )
        g = grants[0]["id"] if grants else 1
        expect_failed(
            t,
            f"update_pat_access('{UNKNOWN_ORG}', {g})",
            404,
            lambda: orgs.update_pat_access(UNKNOWN_ORG, g, action="revoke"),
        )
        missing = max(ids(reqs or [{"id": 0}])) + 1_000_000
        expect_failed(
            t,
            f"review_pat_grant_request(org, {missing}) (unknown request)",
            404,
            lambda: orgs.review_pat_grant_request(org, missing, action="approve"),
        )
        expect_failed(
            t,
            f"list_pat_grant_request_repositories(org, {missing})",
            404,
            lambda: orgs.list_pat_grant_request_repositories(org, missing),
        )

    R.check(
        f"githubkit: org '{UNKNOWN_ORG}' (list requests, list grants, review, bulk review, revoke) and an unknown "
        "request id -> RequestFailed 404 whose body parses as BasicError",
        c_kit_unknown,
        needs=[("request list", reqs), ("grant list", grants)],
    )

    # -------------------------------------------------------------- reviews
    def pending_ids(t: Problems) -> list[int]:
        items, _ = paginate(t, "pending requests", orgs.list_pat_grant_requests, org, per_page=100)
        return ids(items)

    def grant_items(t: Problems) -> list[dict[str, Any]]:
        res = orgs.list_pat_grants(org, per_page=100)
        parsed(t, "list_pat_grants", res)
        return res.json()

    req_by_id = {r["id"]: r for r in reqs or []}
    approve_id = None
    if req_repos:
        approve_id = next(iter(req_repos))  # a subset request: its grant must list the same repositories
    elif reqs:
        approve_id = reqs[0]["id"]
    rest = [r["id"] for r in reqs or [] if r["id"] != approve_id]
    deny_id, bulk_ids = (rest[0], rest[1:3]) if len(rest) >= 3 else (None, [])
    reason = "Too broad (python conformance)"

    def c_approve(t: Problems) -> dict[str, Any] | None:
        before_p, before_g = pending_ids(t), grant_items(t)
        res = orgs.review_pat_grant_request(org, approve_id, action="approve")
        no_content(t, res)
        after = pending_ids(t)
        same_less(t, "pending list after = before minus the approved request", before_p, [approve_id], after)
        req = req_by_id[approve_id]
        now_g = grant_items(t)
        new = [g for g in now_g if g["id"] not in ids(before_g)]
        if not t.ok(
            len(new) == 1 and new[0]["token_id"] == req["token_id"],
            "exactly one new grant, for the request's token_id",
            expected={"token_id": req["token_id"]},
            got=[{"id": g["id"], "token_id": g["token_id"]} for g in new],
        ):
            return None
        g = new[0]
        for f in ("repository_selection", "permissions", "token_name"):
            t.ok(g.get(f) == req.get(f), f"the grant's {f} must be the request's", expected=req.get(f), got=g.get(f))
        t.ok(
            g["owner"]["login"] == req["owner"]["login"], "the grant's owner is the request's", got=g["owner"]["login"]
        )
        t.ok(
            ids(now_g)[0] == g["id"], "the new grant heads the list (access_granted_at descending)", got=ids(now_g)[:3]
        )
        if req_repos and approve_id in req_repos:
            names = [r["name"] for r in orgs.list_pat_grant_repositories(org, g["id"], per_page=100).json()]
            t.ok(
                names == req_repos[approve_id],
                "the new grant's repositories are the request's",
                expected=req_repos[approve_id],
                got=names,
            )
        return g

    new_grant = R.check(
        "githubkit: review_pat_grant_request(org, id, action='approve') -> 204; the request leaves the "
        "pending list and one grant appears for its token (same selection, permissions, repositories)",
        c_approve,
        needs=[("request list", reqs), ("a request to approve", approve_id), ("grant list", grants)],
    )

    Answered = Callable[[Problems, Any], bool]

    def removes(
        t: Problems, act: Callable[[], Any], answered: Answered, listed: Callable[[Problems], list[int]]
    ) -> tuple[bool, list[int], list[int]]:
        """`act()`, its answer checked by `answered`; with the ids `listed` before and after."""
        before = listed(t)
        ok = answered(t, act())
        return ok, before, listed(t)

    def denial(t: Problems, deny: Callable[[], Any], answered: Answered, gone: list[int], label: str) -> bool:
        """`deny()` answers as `answered` checks; the requests `gone` leave the pending list (`label`); no grant
        appears."""
        before_g = grant_items(t)
        ok, before, after = removes(t, deny, answered, pending_ids)
        same_less(t, label, before, gone, after)
        same(t, "a denial creates no grant", ids(before_g), ids(grant_items(t)))
        return ok

    def c_deny(t: Problems) -> bool:
        deny = partial(orgs.review_pat_grant_request, org, deny_id, action="deny", reason=reason)
        return denial(t, deny, no_content, [deny_id], "pending list after = before minus the denied request")

    denied = R.check(
        "githubkit: review_pat_grant_request(org, id, action='deny', reason=…) -> 204; the request leaves the "
        "pending list, no grant appears",
        c_deny,
        needs=[("a request to deny", deny_id)],
    )

    def c_bulk_deny(t: Problems) -> bool:
        deny = partial(orgs.review_pat_grant_requests_in_bulk, org, pat_request_ids=bulk_ids, action="deny")
        answered = accepted_as("bulk review 202")
        return denial(t, partial(deny, reason=reason), answered, bulk_ids, "pending list after = before minus both")

    bulk_denied = R.check(
        "githubkit: review_pat_grant_requests_in_bulk(org, pat_request_ids=[a, b], action='deny', "
        "reason=…) -> 202 {} (parses); both leave the pending list, no grant appears",
        c_bulk_deny,
        needs=[("two requests to deny", len(bulk_ids) == 2 or None)],
    )

    def c_again(t: Problems) -> None:
        before_p, before_g = pending_ids(t), grant_items(t)
        expect_failed(
            t, "approve the denied request", 422, lambda: orgs.review_pat_grant_request(org, deny_id, action="approve")
        )
        expect_failed(
            t,
            "deny the approved request",
            422,
            lambda: orgs.review_pat_grant_request(org, approve_id, action="deny", reason=reason),
        )
        expect_failed(
            t,
            "bulk-approve a bulk-denied request",
            422,
            lambda: orgs.review_pat_grant_requests_in_bulk(org, pat_request_ids=[bulk_ids[0]], action="approve"),
        )
        same(t, "pending list unchanged", before_p, pending_ids(t))
        same(t, "grant list unchanged", ids(before_g), ids(grant_items(t)))

    R.check(
        "githubkit: a second review of a reviewed request (approve the denied one, deny the approved one, bulk-approve "
        "a bulk-denied one) -> RequestFailed 422 whose body parses as ValidationError; nothing changes",
        c_again,
        needs=[("approved", new_grant), ("denied", denied), ("bulk denied", bulk_denied)],
    )

    # --------------------------------------------------------- revocations
    orig = ids(grants or [])
    revoke_id, bulk_revoke = (orig[0], orig[1:3]) if len(orig) >= 3 else (None, [])

    def revocation(
        t: Problems, revoke: Callable[[], Any], answered: Answered, gone: list[int], label: str, again: str
    ) -> bool:
        """`revoke()` answers as `answered` checks; the grants `gone` leave the list (`label`); revoking again
        (`again`) is a 422."""
        ok, before, after = removes(t, revoke, answered, lambda t: ids(grant_items(t)))
        same_less(t, label, before, gone, after)
        expect_failed(t, again, 422, revoke)
        return ok

    def c_revoke(t: Problems) -> bool:
        revoke = partial(orgs.update_pat_access, org, revoke_id, action="revoke")
        label = "grant list after = before minus the revoked grant"
        return revocation(t, revoke, no_content, [revoke_id], label, "revoke it again")

    revoked = R.check(
        "githubkit: update_pat_access(org, pat_id, action='revoke') -> 204; the grant leaves the list; "
        "revoking it again -> 422",
        c_revoke,
        needs=[("a grant to revoke", revoke_id)],
    )

    def c_bulk_revoke(t: Problems) -> bool:
        revoke = partial(orgs.update_pat_accesses, org, action="revoke", pat_ids=bulk_revoke)
        answered = accepted_as("bulk revoke 202")
        label = "grant list after = before minus both"
        return revocation(t, revoke, answered, bulk_revoke, label, "bulk-revoke them again")

    bulk_revoked = R.check(
        "githubkit: update_pat_accesses(org, action='revoke', pat_ids=[a, b]) -> 202 {} (parses); both "
        "leave the list; again -> 422",
        c_bulk_revoke,
        needs=[("two grants to revoke", len(bulk_revoke) == 2 or None)],
    )

    # ------------------------------------------------------- after changes
    def c_after(t: Problems) -> None:
        want_reqs = [i for i in ids(reqs or []) if i not in {approve_id, deny_id, *bulk_ids}]
        want_grants = [new_grant["id"]] + [i for i in orig if i not in {revoke_id, *bulk_revoke}]
        for path, want in ((REQUESTS, want_reqs), (GRANTS, want_grants)):
            kit = pending_ids(t) if path == REQUESTS else ids(grant_items(t))
            same(t, f"githubkit: GET {path} after the reviews and revocations", want, kit)
            py = [x.raw_data["id"] for x in plist(pygithub(token, 3), path)]
            same(t, f"PyGithub Github(per_page=3): GET {path} after the reviews and revocations", want, py)
            n = plist(pygithub(token, 100), path).totalCount
            t.ok(n == len(want), f"PyGithub totalCount of GET {path} after the changes", expected=len(want), got=n)

    R.check(
        "after the reviews and revocations: requests = initial - 4, grants = initial + 1 - 3, in order, seen alike by "
        "githubkit and PyGithub (iteration and totalCount)",
        c_after,
        needs=[
            ("PyGithub token", token),
            ("approved", new_grant),
            ("denied", denied),
            ("bulk denied", bulk_denied),
            ("revoked", revoked),
            ("bulk revoked", bulk_revoked),
        ],
    )


def main() -> int:
    print(f"# patgate binary: {BIN}", flush=True)
    started_at = time.monotonic()
    server = Server(BIN)
    start_watchdog(R, server)
    R.trace.install_pygithub()
    try:
        server.start()
        ok = server.error is None
        R.emit(
            ok,
            f'server starts: {BIN.name} {" ".join(server.args)} prints "listening on http://…", writes '
            "demo.json and answers GET /",
            [] if ok else [server.error or "", *[f"server: {line}" for line in server.log[-30:]]],
        )
        if ok:
            print(
                f"# base_url {server.demo['base_url'] if server.demo else '?'}, GET / -> {server.root_status}",
                flush=True,
            )
            run(server)
        else:
            R.emit(False, "the PyGithub and githubkit checks", ["not run: prerequisite missing (a running server)"])
    except Exception as e:  # noqa: BLE001
        R.emit(False, "conformance run finished without an internal error", [describe_error(e), traceback.format_exc()])
    finally:
        server.stop()
        if (R.failed and server.log) or os.environ.get("PATGATE_SHOW_LOG"):
            print(f"# server log (last 25 of {len(server.log)} lines):", flush=True)
            for line in server.log[-25:]:
                print(f"#   {line[:300]}", flush=True)
        server.cleanup()
    print(f"# {len(R.trace.entries)} HTTP requests in {time.monotonic() - started_at:.1f}s", flush=True)
    R.summary()
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
