"""A local worker started by forking ``mosaic run``, where that is the same as executing it.

A worker's command is ``<python> -m mosaic_core.worker_main --worker TYPE
...``. Executed, it spends ~100 ms before its first event on an interpreter
and on importing the SDK and the worker's module, which ``mosaic run``
imported a moment earlier to check the config. When the command names this
very interpreter and the worker's environment changes nothing Python reads
at start (no ``PYTHON*`` variable differs, no virtual environment of its
own), the child of a fork is that interpreter with those imports done: it
becomes the worker (its own session, the run directory as working
directory, the logs as stdout and stderr, the run's environment, Python's
default signal handlers, none of the host's exit handlers) and runs the
module as ``-m`` does, through :func:`runpy.run_module`. It exits as an
interpreter does, after waiting for its threads and running its exit
handlers, but without finalising the host's objects it inherited (the
store's connection above all), which its garbage collector leaves out of
its collections (``gc.freeze``): they would read, and so copy, every page
of the host's heap the child shares. The command stays the run's record
in ``launch.json``: executing it does what the fork did.

Workers are forked only within :func:`allowed`, which an entry point that
owns its interpreter enters for as long as it supervises: ``mosaic run``
does; a test process, a web server or the conformance kit do not, and
there the command is executed, as always. ``MOSAIC_WORKER_START=exec``
executes it everywhere.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import io
import os
import runpy
import signal
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, NoReturn

__all__ = ["START_ENV", "Forked", "allowed", "fork_worker", "forkable"]

START_ENV = "MOSAIC_WORKER_START"
_allowed = False


@contextlib.contextmanager
def allowed() -> Iterator[None]:
    """Let this process fork its local workers while the block runs: enter it only from an
    entry point that owns the interpreter (its warnings filters, signal handlers and exit
    handlers are Python's defaults or its own, which the child resets)."""
    global _allowed
    before, _allowed = _allowed, True
    try:
        yield
    finally:
        _allowed = before


def forkable(command: Sequence[str], env: Mapping[str, str]) -> bool:
    """Would forking start the same worker as executing ``command`` with ``env``?"""
    if not _allowed or os.environ.get(START_ENV, "") == "exec" or env.get(START_ENV) == "exec":
        return False
    if not sys.platform.startswith("linux") or not _one_thread():
        return False
    # The very path: a virtual environment's python may be a link to this one's binary.
    if len(command) < 3 or command[1] != "-m" or command[0] != sys.executable:
        return False
    startup = {k for k in (*env, *os.environ) if k.startswith("PYTHON")} - {"PYTHONUNBUFFERED"}
    return all(env.get(k) == os.environ.get(k) for k in startup)


def _one_thread() -> bool:
    """Is this the process's only thread, Python's or a library's (a BLAS pool, say)? A
    fork copies one thread: another's locks would stay held in the child."""
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


class Forked:
    """The forked worker, as much of :class:`subprocess.Popen` as a local run uses."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # collected elsewhere: gone, status unknown, as Popen says
                self.returncode = 0
            else:
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


_STOPS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def fork_worker(
    command: Sequence[str],
    run_dir: os.PathLike[str] | str,
    env: Mapping[str, str],
    *,
    stdout: IO[bytes],
    stderr: IO[bytes],
    keep: Sequence[int] = (),
) -> Forked:
    """Fork the worker of ``command`` (see the module's docstring); the caller checked
    :func:`forkable`. ``keep``: descriptors the worker's own children may inherit, as
    ``pass_fds`` would leave them. The host's stop signals wait until the child has reset
    them."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:  # the child leaves the host's streams unflushed
            with contextlib.suppress(OSError, ValueError):  # a reader gone: the host's to see
                stream.flush()
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPS)
    try:
        pid = os.fork()
        if pid == 0:
            for fd in keep:
                os.set_inheritable(fd, True)
            _become_worker(command, run_dir, env, stdout.fileno(), stderr.fileno(), blocked)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    return Forked(pid)


def _become_worker(
    command: Sequence[str],
    run_dir: os.PathLike[str] | str,
    env: Mapping[str, str],
    out: int,
    err: int,
    mask: set[int | signal.Signals],
) -> NoReturn:
    global _allowed
    _allowed = False  # a worker that supervises runs of its own executes them
    gc.freeze()  # the host's objects: the worker's collections never walk (and copy) them
    code = 1
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDONLY)
        for fd, target in ((devnull, 0), (out, 1), (err, 2)):
            os.dup2(fd, target)
        os.close(devnull)
        own_entry = _own_path_entry()
        os.chdir(run_dir)
        os.environ.clear()
        os.environ.update(env)
        _fresh_signals()
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        atexit._clear()  # the host's: the worker's are run at its exit
        _fresh_stdio()
        if own_entry:
            del sys.path[0]
        sys.path.insert(0, os.getcwd())  # what -m puts first
        sys.argv = [command[2], *command[3:]]
        code = _run(command[2])
        _wait_threads()
        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001 - the child must never return into the host
        try:
            sys.excepthook(*sys.exc_info())
        except BaseException:  # noqa: BLE001 - nothing is left to report with
            pass
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001 - a closed log loses only itself
                pass
        os._exit(code)


def _own_path_entry() -> bool:
    """Is ``sys.path[0]`` the host's own first entry (its working directory, or its
    script's directory), which a fresh ``-m`` would not have? Entries the host put in
    front of it later stay, as they came from its environment or its code."""
    if not sys.path:
        return False
    first = sys.path[0]
    script = os.path.dirname(os.path.abspath(sys.argv[0])) if sys.argv and sys.argv[0] else ""
    return first in ("", os.getcwd(), script)


def _run(module: str) -> int:
    """Run ``module`` as ``python -m`` does; its exit status as the interpreter gives it."""
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return int(exc.code or 0)
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException:  # noqa: BLE001 - an uncaught exception, as the interpreter shows it
        sys.excepthook(*sys.exc_info())
        return 1
    return 0


def _fresh_signals() -> None:
    """Python's handlers at start: KeyboardInterrupt on SIGINT, SIGPIPE and SIGXFSZ
    ignored, every other signal the system's default; no wakeup descriptor."""
    signal.set_wakeup_fd(-1)
    ignored = {signal.SIGPIPE, signal.SIGXFSZ}
    for signum in signal.valid_signals():
        if signum in (signal.SIGKILL, signal.SIGSTOP):
            continue
        fresh = (
            signal.default_int_handler
            if signum == signal.SIGINT
            else signal.SIG_IGN
            if signum in ignored
            else signal.SIG_DFL
        )
        try:
            if signal.getsignal(signum) not in (fresh, None):
                signal.signal(signum, fresh)
        except (OSError, ValueError):
            continue


def _fresh_stdio() -> None:
    """Unbuffered standard streams on the new descriptors, as ``PYTHONUNBUFFERED`` gives."""
    for fd, name, mode in ((0, "stdin", "rb"), (1, "stdout", "wb"), (2, "stderr", "wb")):
        old = getattr(sys, name)
        raw = io.FileIO(fd, mode, closefd=False)
        stream = io.TextIOWrapper(
            raw if fd else io.BufferedReader(raw),
            encoding=getattr(old, "encoding", None) or "utf-8",
            errors=getattr(old, "errors", None) or ("backslashreplace" if fd == 2 else "strict"),
            line_buffering=False,
            write_through=fd != 0,
        )
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def _wait_threads() -> None:
    """Wait for the worker's non-daemon threads, as the interpreter does at exit."""
    shutdown = getattr(threading, "_shutdown", None)
    if callable(shutdown):
        shutdown()
