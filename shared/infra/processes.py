"""Child processes that cannot outlive us.

The embedded broker and database are children of the process that needs them.
Three layers keep a crash from leaving orphans behind: the kernel sends each
child a chosen signal when we die (``PR_SET_PDEATHSIG``, even on SIGKILL), an
``atexit`` hook stops them on a normal exit, and each child runs in its own
session so a terminal's Ctrl-C reaches only us, and we stop them in order.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_POLL_INTERVAL = 0.05


class InfraStartError(RuntimeError):
    """An embedded part did not come up; the message carries the tail of its log."""


@dataclass(frozen=True)
class RunAs:
    """An unprivileged account for a child (PostgreSQL refuses to run as root)."""

    uid: int
    gid: int


def _death_signal_setter(sig: signal.Signals) -> Callable[[], None]:
    """A ``preexec_fn`` arming ``PR_SET_PDEATHSIG``.

    It runs after subprocess has switched uid/gid (a credential change clears
    the setting). libc is loaded here, in the parent, so the forked child only
    makes the system call.
    """
    parent = os.getpid()
    libc = ctypes.CDLL(None, use_errno=True)

    def arm() -> None:
        if libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:  # we died before the signal was armed
            os.kill(os.getpid(), sig)

    return arm


def log_tail(path: Path, lines: int = 40) -> str:
    """The end of a child's log, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class ChildProcess:
    """A running child: its pid, its log, and how to stop it."""

    def __init__(
        self, name: str, popen: subprocess.Popen[bytes], log_path: Path, stop_signal: int
    ) -> None:
        self.name = name
        self.log_path = log_path
        self._popen = popen
        self._stop_signal = stop_signal
        atexit.register(self.stop)

    @property
    def pid(self) -> int:
        return self._popen.pid

    def is_running(self) -> bool:
        return self._popen.poll() is None

    def stop(self, grace: float = 15.0) -> None:
        """Ask politely, then SIGKILL after ``grace`` seconds; idempotent."""
        atexit.unregister(self.stop)
        if self.is_running():
            self._popen.send_signal(self._stop_signal)
            try:
                self._popen.wait(grace)
            except subprocess.TimeoutExpired:
                self._popen.kill()
        self._popen.wait()

    def wait(self, timeout: float) -> int:
        """The exit code of a short-lived child; SIGKILL if it overruns ``timeout``."""
        try:
            self._popen.wait(timeout)
        finally:
            self.stop(grace=0)
        return self._popen.returncode

    def wait_until(self, ready: Callable[[], bool], *, timeout: float, what: str) -> None:
        """Poll ``ready`` until it holds; on death or timeout stop the child and say why."""
        deadline = time.monotonic() + timeout
        while not ready():
            problem = None
            if not self.is_running():
                problem = f"exited with code {self._popen.returncode} before {what}"
            elif time.monotonic() > deadline:
                self.stop()
                problem = f"not {what} within {timeout:.0f} s"
            if problem:
                log = f"log {self.log_path}:\n{log_tail(self.log_path)}"
                raise InfraStartError(f"{self.name} {problem}; {log}")
            time.sleep(_POLL_INTERVAL)


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    log_path: Path,
    death_signal: signal.Signals,
    stop_signal: signal.Signals,
    run_as: RunAs | None = None,
    env: Mapping[str, str] | None = None,
) -> ChildProcess:
    """Start ``argv`` as a child that receives ``death_signal`` when this process dies.

    Must run on the main thread: the kernel sends the death signal when the
    *thread* that forked the child exits, so a child spawned from a worker
    thread would be killed when that thread ends.
    """
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError(f"spawn {name} from the main thread (PR_SET_PDEATHSIG is per thread)")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        popen = subprocess.Popen(  # noqa: S603 - argv is built by us, never a shell string
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=run_as.uid if run_as else None,
            group=run_as.gid if run_as else None,
            extra_groups=[] if run_as else None,
            preexec_fn=_death_signal_setter(death_signal) if sys.platform == "linux" else None,
            env=env,
        )
    return ChildProcess(name, popen, log_path, stop_signal)


def loopback_port(port: int | None, name: str) -> int:
    """``port`` if nobody listens on it, else fail; a free one if ``None``.

    Checking first matters: a readiness probe would otherwise be answered by
    whoever already holds the port.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port or 0))
        except OSError as exc:
            raise InfraStartError(f"{name}: port 127.0.0.1:{port} is in use ({exc})") from None
        chosen: int = sock.getsockname()[1]
        return chosen


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    return loopback_port(None, "free_port")
