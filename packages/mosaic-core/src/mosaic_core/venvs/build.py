"""Virtual environments per worker, with their own Python and pins (``mosaic env``).

:func:`create_env` makes ``$MOSAIC_HOME/envs/<name>/`` with the
requested interpreter, installs mosaic-core and the worker there (from the
same place they were installed from here, else by name and version) plus
any ``--requirement``, asks that environment which workers it provides, and
records it. ``mosaic run WORKER --env NAME`` then starts the worker with that
interpreter while the supervisor stays where it is.

Nothing half-made is left behind: an environment that fails to build is
removed, and one replaced with ``--force`` comes back if its replacement
fails.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.metadata
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any

from mosaic_core._errors import ConfigError, MosaicError
from mosaic_core.runs.store import RunStore

__all__ = ["MIN_PYTHON", "check_env_name", "create_env", "find_python", "install_spec"]

#: mosaic-core's own ``requires-python``: an environment needs at least this.
MIN_PYTHON = (3, 10)

_VERSION = re.compile(r"\d+(?:\.\d+){0,2}\Z")
_ENV_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_PROJECT = re.compile(r"^\s*(?:-e\s+)?([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(.?)")
_PROBE = "import sys; print(sys.executable); print('.'.join(map(str, sys.version_info[:3])))"
# What would make another interpreter import this one's packages, or list
# only some plugins: unset whenever mosaic talks to an environment's Python.
_LEAKY = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONUSERBASE",
    "PYTHONSTARTUP",
    "VIRTUAL_ENV",
    "__PYVENV_LAUNCHER__",
    "MOSAIC_LOAD_PLUGINS",
    "MOSAIC_STRICT_PLUGINS",
)


# -- finding an interpreter ----------------------------------------------------------


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in _LEAKY}


def _probe(python: str) -> tuple[str, tuple[int, ...]] | None:
    """``(sys.executable, version)`` of an interpreter, or None when it does not run.

    Asking the interpreter itself sees through pyenv shims, which exist on
    PATH for every installed version but run only the versions selected for
    the current directory.
    """
    try:
        done = subprocess.run(
            [python, "-c", _PROBE],
            capture_output=True, text=True, timeout=60, env=_clean_env(), check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or len(lines) != 2:
        return None
    try:
        version = tuple(int(part) for part in lines[1].split("."))
    except ValueError:
        return None
    return lines[0] or python, version


def _pyenv_roots() -> list[str]:
    roots = [os.environ.get("PYENV_ROOT", ""), str(pathlib.Path.home() / ".pyenv")]
    return list(dict.fromkeys(r for r in roots if r and os.path.isdir(r)))


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", text))


def _pyenv_versions() -> list[str]:
    names = {
        os.path.basename(path)
        for root in _pyenv_roots()
        for path in glob.glob(os.path.join(root, "versions", "*"))
    }
    return sorted(names, key=_numbers)


def _candidates(version: str) -> list[str]:
    """Interpreters that may be Python ``version``, most likely first."""
    short = ".".join(version.split(".")[:2])
    found = [shutil.which(f"python{short}") or ""]
    for root in _pyenv_roots():
        versions = os.path.join(glob.escape(root), "versions")
        paths = glob.glob(os.path.join(versions, version, "bin", f"python{short}"))
        paths += glob.glob(os.path.join(versions, f"{version}.*", "bin", f"python{short}"))
        found += sorted(paths, key=lambda p: _numbers(p.split(os.sep)[-3]), reverse=True)
    return [p for p in dict.fromkeys(found) if p]


def find_python(version: str | None) -> str:
    """The interpreter for ``--python``: a version ("3.10"), a command or a path.

    No value means this interpreter. A version is looked up as ``pythonX.Y``
    on PATH, then under pyenv (``$PYENV_ROOT`` or ``~/.pyenv``), and each
    candidate is asked its version, so a pyenv shim that would not run here
    is passed over. The answer is the interpreter's real path. An
    interpreter older than mosaic-core supports is a ConfigError.
    """
    if not version:
        return sys.executable
    given = version
    wanted: tuple[int, ...] = ()
    command = re.fullmatch(r"python(\d+(?:\.\d+){0,2})", version)
    if command:  # python3.10 is looked up as 3.10, past a shim that would not run here
        version = command.group(1)
    if _VERSION.match(version):
        wanted = tuple(int(part) for part in version.split("."))
        candidates = _candidates(version)
    elif os.sep in version or (os.altsep and os.altsep in version):
        if not (os.path.isfile(version) and os.access(version, os.X_OK)):
            raise ConfigError(
                f"--python {given!r}: no executable interpreter at that path",
                field="--python",
                value=given,
                expected="a version such as 3.10, a command such as python3.10, or a path",
            )
        candidates = [version]
    else:
        candidates = [shutil.which(version) or ""]
    for candidate in filter(None, candidates):
        probed = _probe(candidate)
        if probed is None or probed[1][: len(wanted)] != wanted:
            continue
        executable, found = probed
        if found[:2] < MIN_PYTHON:
            raise ConfigError(
                f"--python {given!r} is Python {'.'.join(map(str, found))} ({executable}); "
                f"mosaic-core needs Python >= {'.'.join(map(str, MIN_PYTHON))}",
                field="--python",
                value=given,
                expected=f"Python >= {'.'.join(map(str, MIN_PYTHON))}",
            )
        return executable
    available = _pyenv_versions()
    where = f"; pyenv has {', '.join(available)}" if available else ""
    raise ConfigError(
        f"--python {given!r}: no such Python found on PATH or under pyenv{where}. Install it "
        f"(e.g. `pyenv install {version}`) or pass the path of an interpreter",
        field="--python",
        value=given,
        expected="a version such as 3.10, a command such as python3.10, or a path",
    )


# -- what to install -----------------------------------------------------------------


def _file_path(url: str) -> str:
    parsed = urllib.parse.urlsplit(url)
    return urllib.request.url2pathname(parsed.path)


def _source(distribution: str) -> tuple[str, bool]:
    """``(pip requirement, editable)`` for ``distribution`` as it is installed here."""
    dist = importlib.metadata.distribution(distribution)
    name, version = dist.metadata["Name"], dist.version
    pinned = f"{name}=={version}"
    raw = dist.read_text("direct_url.json")
    try:
        info = json.loads(raw) if raw else {}
    except ValueError:
        info = {}
    if not isinstance(info, dict) or not info.get("url"):
        return pinned, False
    url = str(info["url"])
    fragment = f"#subdirectory={info['subdirectory']}" if info.get("subdirectory") else ""
    vcs = info.get("vcs_info")
    if isinstance(vcs, dict) and vcs.get("vcs"):
        ref = vcs.get("commit_id") or vcs.get("requested_revision")
        at = f"@{ref}" if ref else ""
        return f"{name} @ {vcs['vcs']}+{url}{at}{fragment}", False
    if url.startswith("file:"):
        path = _file_path(url)
        if not os.path.exists(path):
            return pinned, False  # the source went away: the index is all that is left
        if "dir_info" in info:
            if info.get("subdirectory"):
                path = os.path.join(path, str(info["subdirectory"]))
            return path, bool((info["dir_info"] or {}).get("editable"))
        return f"{name} @ {pathlib.Path(path).as_uri()}", False
    return f"{name} @ {url}{fragment}", False


def install_spec(distribution: str) -> str:
    """A pip requirement that installs ``distribution`` elsewhere as it is installed here.

    From a local directory (editable or not): that directory. From an
    archive: ``name @ url``. From version control: ``name @ git+url@commit``.
    From an index, or from a local source that no longer exists:
    ``name==version``.
    """
    return _source(distribution)[0]


def _requirement(distribution: str) -> str:
    """Like :func:`install_spec`, with ``-e `` in front for an editable install here."""
    spec, editable = _source(distribution)
    return f"-e {spec}" if editable else spec


def _project(requirement: str) -> str | None:
    """The normalised project name a requirement names, None for a path or URL."""
    if requirement.endswith(".whl"):
        requirement = os.path.basename(requirement).split("-", 1)[0]
    match = _PROJECT.match(requirement)
    if match is None or match.group(2) in ("/", ":", "\\"):
        return None
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def _pip_args(requirements: Sequence[str]) -> list[str]:
    args: list[str] = []
    for requirement in requirements:
        if requirement.startswith("-e "):
            args += ["-e", requirement[3:].strip()]
        else:
            args.append(requirement)
    return args


def _worker_distribution(worker: str) -> str | None:
    """The distribution providing ``worker`` here (even if its plugin is broken here)."""
    from mosaic_core._discovery import discover_workers

    found = discover_workers(load=[worker], strict=False)
    if worker not in found.workers and not any(b.name == worker for b in found.broken):
        found = discover_workers(strict=False)  # one plugin may register several worker types
    if worker in found.workers:
        return found.workers[worker].distribution
    for broken in found.broken:
        if broken.name == worker:
            return broken.distribution
    return None


def _requirements(worker: str, extra: Sequence[str]) -> list[str]:
    """mosaic-core and the worker as installed here, unless ``extra`` names them, then extra."""
    named = {_project(r) for r in extra}
    requirements = []
    if "mosaic-core" not in named:
        requirements.append(_requirement("mosaic-core"))
    distribution = _worker_distribution(worker)
    if distribution is None and not extra:
        raise ConfigError(
            f"worker {worker!r} is not installed here, so there is nothing to copy into the "
            "environment; pass its package with --requirement (a path, a wheel, a URL, or a "
            "name on an index)",
            field="--requirement",
            value=worker,
        )
    if distribution is not None and _project(distribution) not in named:
        requirements.append(_requirement(distribution))
    return requirements + list(extra)


# -- building ------------------------------------------------------------------------


def _env_python(target: pathlib.Path) -> pathlib.Path:
    if os.name == "nt":
        return target / "Scripts" / "python.exe"
    return target / "bin" / "python"


def _env_workers(python: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(working, broken)`` workers of the environment whose interpreter is ``python``."""
    done = subprocess.run(
        [python, "-I", "-m", "mosaic_core", "workers", "--json"],
        capture_output=True, text=True, check=False, env=_clean_env(),
        cwd=os.path.dirname(os.path.dirname(python)),
    )  # fmt: skip
    try:
        rows = json.loads(done.stdout)["workers"] if done.returncode == 0 else None
    except (ValueError, KeyError, TypeError):
        rows = None
    if not isinstance(rows, list):
        raise MosaicError(
            f"`mosaic workers` failed inside the new environment (exit {done.returncode}):\n"
            f"{done.stderr.strip() or done.stdout.strip()}"
        )
    keys = (
        "worker_type", "console_module", "setup_module", "version", "distribution",
        "distribution_version",
    )  # fmt: skip
    working = [{k: r.get(k) for k in keys} for r in rows if r.get("status") == "ok"]
    broken = [r for r in rows if r.get("status") == "broken"]
    return working, broken


@contextlib.contextmanager
def _replacing(target: pathlib.Path) -> Iterator[None]:
    """Build at ``target``; on any failure remove it and put back what was there."""
    backup = target.with_name(f".{target.name}.replaced-{os.getpid()}")
    if target.exists():
        shutil.rmtree(backup, ignore_errors=True)
        target.rename(backup)
    try:
        yield
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        if backup.exists():
            backup.rename(target)
        raise
    shutil.rmtree(backup, ignore_errors=True)


def _build(
    target: pathlib.Path, python: str, requirements: Sequence[str], worker: str, name: str
) -> dict[str, Any]:
    print(f"creating {target} with {python}", file=sys.stderr, flush=True)
    done = subprocess.run(
        [python, "-m", "venv", str(target)],
        capture_output=True, text=True, check=False, env=_clean_env(),
    )  # fmt: skip
    env_python = str(_env_python(target))
    if done.returncode != 0 or not os.path.exists(env_python):
        raise MosaicError(
            f"`{python} -m venv` could not create the environment (exit {done.returncode}):\n"
            f"{(done.stderr or done.stdout).strip()}"
        )
    print(f"installing: {' '.join(requirements)}", file=sys.stderr, flush=True)
    pip = subprocess.run(
        [env_python, "-m", "pip", "install", "-q", *_pip_args(requirements)],
        stdout=sys.stderr, check=False, env=_clean_env(),
    )  # fmt: skip
    if pip.returncode != 0:
        raise MosaicError(
            f"pip could not install {' '.join(requirements)} into the new environment "
            f"(exit {pip.returncode}; its error is above); the environment was removed"
        )
    provided, broken = _env_workers(env_python)
    if worker not in {w["worker_type"] for w in provided}:
        for row in broken:
            if row.get("name") == worker:
                raise MosaicError(
                    f"worker {worker!r} is installed in the new environment but does not load "
                    f"there: {row.get('error_type')}: {row.get('error')}. {row.get('hint', '')}"
                    " The environment was removed."
                )
        raise MosaicError(
            f"the new environment does not provide worker {worker!r} (it has "
            f"{', '.join(w['worker_type'] for w in provided) or 'none'}); pass the worker's "
            "package with --requirement. The environment was removed."
        )
    setup = next(w["setup_module"] for w in provided if w["worker_type"] == worker)
    if setup:
        print(f"running {setup} in the new environment", file=sys.stderr, flush=True)
        step = subprocess.run(
            [env_python, "-m", setup], stdout=sys.stderr, check=False, env=_clean_env()
        )
        if step.returncode != 0:
            raise MosaicError(
                f"the worker's setup step `python -m {setup}` failed in the new environment "
                f"(exit {step.returncode}; its output is above); the environment was removed"
            )
    probed = _probe(env_python)
    version = ".".join(map(str, probed[1])) if probed else "?"
    record = {
        "name": name,
        "worker_type": worker,
        "path": str(target),
        "python": env_python,
        "python_version": version,
        "requirements": list(requirements),
        "workers": provided,
        "created_at": time.time(),
    }
    (target / "mosaic-env.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def check_env_name(name: str) -> str:
    """``name`` if it can name an environment (a directory under ``$MOSAIC_HOME/envs``)."""
    if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
        raise ConfigError(
            f"environment name {name!r}: use letters, digits, '.', '_' and '-', starting with "
            "a letter or digit",
            field="--name",
            value=name,
        )
    return name


def create_env(
    store: RunStore,
    worker: str,
    *,
    name: str | None = None,
    python: str | None = None,
    requirements: Sequence[str] = (),
    force: bool = False,
) -> dict[str, Any]:
    """Make and record the environment ``name`` (default: the worker type) for ``worker``.

    Returns the record ``mosaic env list`` shows. Nothing half-made is left
    behind: a failed build is removed, and a replaced environment comes back.
    """
    name = check_env_name(name or worker)
    interpreter = find_python(python)
    wanted = _requirements(worker, requirements)
    target = store.home / "envs" / name
    recorded = any(env["name"] == name for env in store.envs())
    if (target.exists() or recorded) and not force:
        raise ConfigError(
            f"environment {name!r} already exists at {target}; pass --force to recreate it, "
            "or --name to make another",
            field="--name",
            value=name,
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with _replacing(target):
        record = _build(target, interpreter, wanted, worker, name)
        store.save_env(record)
    return record
