"""``mosaic env``: a virtual environment per worker, with its own Python and pins.

``mosaic env create WORKER`` makes ``$MOSAIC_HOME/envs/<name>/`` with the
requested interpreter, installs mosaic-core and the worker there (from the
same place they were installed from here, else by name and version) plus
any ``--requirement``, asks that environment which workers it provides, and
records it. ``mosaic run WORKER --env NAME`` then starts the worker with that
interpreter while the supervisor stays where it is.
"""

from __future__ import annotations

import argparse
import glob
import importlib.metadata
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
from typing import Any

from mosaic_core.errors import ConfigError, MosaicError
from mosaic_core.store import RunStore

__all__ = ["find_python", "install_spec", "register"]


def find_python(version: str | None) -> str:
    """An interpreter for ``version`` ("3.10", a command or a path); default: this one."""
    if not version:
        return sys.executable
    if os.sep in version and os.access(version, os.X_OK):
        return version
    candidates = [version, f"python{version}"]
    for name in candidates:
        found = shutil.which(name)
        if found:
            return found
    roots = [os.environ.get("PYENV_ROOT", ""), str(pathlib.Path.home() / ".pyenv")]
    for root in filter(None, roots):
        for path in sorted(glob.glob(f"{root}/versions/{version}*/bin/python{version}")):
            if os.access(path, os.X_OK):
                return path
    raise ConfigError(
        f"no Python {version} found on PATH or under pyenv; install it or pass a path to an "
        "interpreter",
        field="--python",
        value=version,
        expected="a version such as 3.10, or an interpreter path",
    )


def install_spec(distribution: str) -> str:
    """How to install ``distribution`` elsewhere: its local source if it came from one."""
    dist = importlib.metadata.distribution(distribution)
    direct = dist.read_text("direct_url.json")
    if direct:
        info = json.loads(direct)
        url = str(info.get("url", ""))
        if url.startswith("file://") and "archive_info" not in info:
            return url[len("file://") :]
        if url.startswith("file://"):
            return f"{dist.metadata['Name']} @ {url}"
    return f"{dist.metadata['Name']}=={dist.version}"


def _env_workers(python: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [python, "-m", "mosaic_core", "workers", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise MosaicError(f"`mosaic workers` failed inside the environment:\n{done.stderr}")
    rows = json.loads(done.stdout)["workers"]
    return [
        {"worker_type": r["worker_type"], "console_module": r.get("console_module")}
        for r in rows
        if r.get("status") == "ok"
    ]


def _cmd_create(args: argparse.Namespace) -> int:
    from mosaic_core.plugins import discover_workers

    name = args.name or args.worker
    python = find_python(args.python)
    with RunStore() as store:
        target = store.home / "envs" / name
        if target.exists() and not args.force:
            raise ConfigError(
                f"environment {name!r} already exists at {target}; pass --force to recreate it",
                field="--name",
                value=name,
            )
        requirements = [install_spec("mosaic-core")]
        found = discover_workers(load=[args.worker])
        worker = found.workers.get(args.worker)
        if worker is not None and worker.distribution:
            requirements.append(install_spec(worker.distribution))
        requirements += args.requirement
        shutil.rmtree(target, ignore_errors=True)
        print(f"creating {target} with {python}", file=sys.stderr, flush=True)
        subprocess.run([python, "-m", "venv", str(target)], check=True)
        env_python = str(target / "bin" / "python")
        print(f"installing: {' '.join(requirements)}", file=sys.stderr, flush=True)
        done = subprocess.run([env_python, "-m", "pip", "install", "-q", *requirements])
        if done.returncode != 0:
            shutil.rmtree(target, ignore_errors=True)
            raise MosaicError(f"pip install failed in the new environment (exit {done.returncode})")
        provided = _env_workers(env_python)
        if args.worker not in {w["worker_type"] for w in provided}:
            shutil.rmtree(target, ignore_errors=True)
            raise MosaicError(
                f"the new environment does not provide worker {args.worker!r} (it has "
                f"{', '.join(w['worker_type'] for w in provided) or 'none'}); add the worker's "
                "package with --requirement"
            )
        version = subprocess.run(
            [env_python, "-c", "import platform; print(platform.python_version())"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        record = {
            "name": name,
            "worker_type": args.worker,
            "path": str(target),
            "python": env_python,
            "python_version": version,
            "requirements": requirements,
            "workers": provided,
            "created_at": time.time(),
        }
        (target / "mosaic-env.json").write_text(json.dumps(record, indent=2) + "\n")
        store.save_env(record)
        print(f"environment {name!r}: Python {version}, workers "
              f"{', '.join(w['worker_type'] for w in provided)}; "
              f"use it with `mosaic run {args.worker} --env {name}`")  # fmt: skip
        return 0


def _cmd_list(args: argparse.Namespace) -> int:
    with RunStore() as store:
        envs = store.envs()
        if args.json:
            print(json.dumps(envs, indent=2))
            return 0
        if not envs:
            print("No environments yet. Make one with `mosaic env create WORKER`.")
            return 0
        from mosaic_core.cli import print_table

        table = [("NAME", "PYTHON", "WORKERS", "PATH")]
        for env in envs:
            workers = ", ".join(w["worker_type"] for w in env["workers"])
            table.append((env["name"], env["python_version"], workers, env["path"]))
        print_table(table)
        return 0


def register(commands: Any) -> None:
    env = commands.add_parser("env", help="virtual environments for workers")
    sub = env.add_subparsers(dest="env_command", metavar="COMMAND", required=True)
    create = sub.add_parser("create", help="make an environment for a worker")
    create.add_argument("worker")
    create.add_argument("--name", help="environment name (default: the worker type)")
    create.add_argument("--python", help="Python version or interpreter, e.g. 3.10")
    create.add_argument("--requirement", "-r", action="append", default=[], metavar="SPEC",
                        help="an extra pip requirement (repeatable)")  # fmt: skip
    create.add_argument("--force", action="store_true", help="replace an existing environment")
    create.set_defaults(func=_cmd_create)
    listing = sub.add_parser("list", help="list environments")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_cmd_list)
