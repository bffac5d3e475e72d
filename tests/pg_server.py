"""A PostgreSQL server for the store tests: PANTRY_TEST_DATABASE_URL, or a throwaway cluster.

`server_url()` is the URL of a database the tests may create schemas in:
- PANTRY_TEST_DATABASE_URL when it is set (CI: `.ci/run` starts a cluster and sets it);
- otherwise a throwaway cluster started here (initdb + pg_ctl from Debian's
  /usr/lib/postgresql/<version>/bin, or PATH), in a temp folder, on a free loopback port, trust
  auth on loopback only, fsync off; run as the `postgres` user (`runuser`) when we are root,
  since PostgreSQL refuses to run as root. `stop()` stops it and removes its folder.
When neither is possible, `server_url()` raises `Unavailable` with the reason; the fixture
skips on it, or fails when PANTRY_REQUIRE_POSTGRES is set.

`fresh_schema_url(base)` makes an empty schema and returns a URL whose `search_path` is it,
so each test gets an empty database of its own on one server.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg
from psycopg import conninfo


class Unavailable(RuntimeError):
    """No PostgreSQL server can be had here (the reason is the message)."""


_state: dict[str, object] = {}


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4])
                   if Path(p).parts[4].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _runuser() -> str | None:
    return shutil.which("runuser") or next((p for p in ("/usr/sbin/runuser", "/sbin/runuser") if os.path.exists(p)),
                                           None)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(cmd: list[str], as_user: str | None, **kw) -> subprocess.CompletedProcess:
    if as_user:
        cmd = [_runuser() or "runuser", "-u", as_user, "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)


def _start_cluster() -> str:
    bindir = _bin_dir()
    if bindir is None:
        raise Unavailable("no PostgreSQL server binaries (initdb) found: install Debian's postgresql "
                          "or set PANTRY_TEST_DATABASE_URL")
    as_user = None
    if os.geteuid() == 0:
        if _runuser() is None:
            raise Unavailable("running as root without runuser: cannot start PostgreSQL as another user")
        try:
            import pwd
            pw = pwd.getpwnam("postgres")
        except KeyError:
            raise Unavailable("running as root and there is no 'postgres' user to run the server as") from None
        as_user = "postgres"
    root = Path(tempfile.mkdtemp(prefix="pantry-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if as_user:
        for p in (root, sock):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    r = _run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
              "--locale=C.UTF-8", "--no-sync"], as_user)
    if r.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise Unavailable(f"initdb failed: {(r.stderr or r.stdout).strip().splitlines()[-1:]}")
    port = _free_port()
    opts = (f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=100")
    r = _run([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-o", opts, "-w", "-t", "60",
              "start"], as_user)
    if r.returncode != 0:
        log = (root / "log").read_text(errors="replace")[-500:] if (root / "log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise Unavailable(f"pg_ctl start failed: {(r.stderr or r.stdout).strip()[-300:]} {log}")
    _state.update(root=root, bindir=bindir, as_user=as_user, data=data)
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE pantry_test")
    return f"postgresql://postgres@127.0.0.1:{port}/pantry_test"


def server_url() -> str:
    """The base URL (cached for the session); `Unavailable` when no server can be had."""
    if "url" in _state:
        return str(_state["url"])
    if "error" in _state:
        raise Unavailable(str(_state["error"]))
    try:
        url = os.environ.get("PANTRY_TEST_DATABASE_URL", "").strip()
        if url:
            try:
                psycopg.connect(url, connect_timeout=10).close()
            except psycopg.Error as e:
                raise Unavailable(f"PANTRY_TEST_DATABASE_URL cannot be reached: {str(e).strip()[:300]}") from None
        else:
            url = _start_cluster()
    except Unavailable as e:
        _state["error"] = str(e)
        raise
    _state["url"] = url
    return url


def fresh_schema_url(base: str) -> tuple[str, str]:
    """(url, schema): a new empty schema on `base`'s database and a URL that uses it."""
    name = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    return conninfo.make_conninfo(base, options=f"-csearch_path={name}"), name


def drop_schema(base: str, name: str) -> None:
    try:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    except psycopg.Error:
        pass


def stop() -> None:
    """Stop the throwaway cluster, if one was started, and remove its folder."""
    root = _state.pop("root", None)
    if root is None:
        return
    _run([str(_state["bindir"] / "pg_ctl"), "-D", str(_state["data"]), "-m", "immediate", "-w", "stop"],
         _state.get("as_user"))  # type: ignore[arg-type]
    shutil.rmtree(root, ignore_errors=True)
    _state.pop("url", None)


def open_locator(locator: str, weights_dir: str | None = None):
    """The Store a `StoreMaker.locator` names (for subprocesses of the tests)."""
    from pantry.storage.store import Store

    kind, _, where = locator.partition(":")
    if kind == "pg":
        from pantry.storage.postgres import PostgresStore

        return PostgresStore(where, weights_dir or tempfile.mkdtemp(prefix="pantry-w-"))
    return Store(where, weights_dir)
