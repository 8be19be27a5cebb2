"""Build every package under packages/ and prove each wheel installs alone.

For each package: build its sdist and wheel, check what they contain, run
``twine check --strict`` on both (as a third party does before uploading),
check that the metadata carries Documentation, Source and Changelog URLs and
that the README, the PyPI page, links nowhere relative; create
a fresh virtual environment, install the wheel (sibling wheels such as
mosaic-core come from the same build directory, everything else from the
index), import the package and, for mosaic-core, run the `mosaic` command.
Exits non-zero on the first failure, naming the package and the step.

    python .ci/check_packaging.py OUT_DIR [--build-only]
"""

from __future__ import annotations

import argparse
import email
import json
import re
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent


def run(step: str, *cmd: str | Path) -> str:
    print(f"$ {' '.join(map(str, cmd))}", flush=True)
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"FAILED: {step} (exit {done.returncode})\n{done.stdout}\n{done.stderr}")
    return done.stdout


#: A Markdown link or image whose target is not absolute: broken on PyPI.
RELATIVE_LINK = re.compile(r"\]\((?!https?://|mailto:|#)([^)]+)\)")
URLS = ("Documentation", "Source", "Changelog")


def check_metadata(wheel: Path) -> None:
    """The wheel's METADATA carries the project URLs, and its README links only absolutely."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = email.message_from_bytes(archive.read(name))
    labels = {url.split(",")[0].strip() for url in metadata.get_all("Project-URL") or []}
    missing = [label for label in URLS if label not in labels]
    if missing:
        sys.exit(f"FAILED: {wheel.name} has no Project-URL for {', '.join(missing)}")
    relative = RELATIVE_LINK.findall(str(metadata.get_payload()))
    if relative:
        sys.exit(f"FAILED: {wheel.name}'s README links relatively (broken on PyPI): {relative}")


def packages() -> list[tuple[Path, str, str]]:
    found = []
    pyprojects = sorted(
        ROOT.glob("packages/*/pyproject.toml"), key=lambda p: p.parent.name != "mosaic-core"
    )
    for pyproject in pyprojects:
        meta = tomllib.loads(pyproject.read_text())["project"]
        src = pyproject.parent / "src"
        imports = [p.name for p in src.iterdir() if (p / "__init__.py").exists()]
        found.append((pyproject.parent, meta["name"], imports[0]))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description="Build every package; check each installs.")
    parser.add_argument("out", type=Path, help="directory for the wheels and the test venvs")
    parser.add_argument("--build-only", action="store_true", help="build and check contents")
    args = parser.parse_args()
    out, build_only = args.out.resolve(), args.build_only
    wheels = out / "wheels"
    for directory, dist, module in packages():
        run(f"build {dist}", sys.executable, "-m", "build", "--outdir", wheels, directory)
        norm = dist.replace("-", "_")
        wheel = max(wheels.glob(f"{norm}-*.whl"), key=lambda p: p.stat().st_mtime)
        sdist = max(wheels.glob(f"{norm}-*.tar.gz"), key=lambda p: p.stat().st_mtime)
        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
        for required in (f"{module}/__init__.py", f"{module}/py.typed"):
            if required not in names:
                sys.exit(f"FAILED: {wheel.name} lacks {required}")
        with tarfile.open(sdist) as archive:
            members = archive.getnames()
        if not any("/tests/" in m for m in members):
            sys.exit(f"FAILED: {sdist.name} ships no tests/")
        run(f"twine check {dist}", sys.executable, "-m", "twine", "check", "--strict", wheel, sdist)
        check_metadata(wheel)
        print(f"ok: {wheel.name}, {sdist.name} (twine check --strict, URLs, README links)")
        if build_only:
            continue
        env = out / f"venv-{dist}"
        venv.EnvBuilder(with_pip=True, clear=True).create(env)
        python = env / "bin" / "python"
        if dist == "mosaic-core":
            run(f"install {wheel.name}", python, "-m", "pip", "install", "-q", wheel)
            print(run("mosaic --version", env / "bin" / "mosaic", "--version").strip())
            run("mosaic workers", env / "bin" / "mosaic", "workers")
        else:
            # A worker's own tox env installs it with its (heavy) pins and runs its tests;
            # here: the wheel alone plus mosaic-core, and its plugin must be discovered.
            core = max(wheels.glob("mosaic_core-*.whl"), key=lambda p: p.stat().st_mtime)
            run(f"install {wheel.name}", python, "-m", "pip", "install", "-q", "--no-deps", wheel)
            run("install mosaic-core", python, "-m", "pip", "install", "-q", core)
            listing = run("mosaic workers --json", env / "bin" / "mosaic", "workers", "--json")
            names = {row["worker_type"] for row in json.loads(listing)["workers"]}
            entry = tomllib.loads((directory / "pyproject.toml").read_text())["project"]
            for worker_type in entry.get("entry-points", {}).get("mosaic.workers", {}):
                if worker_type not in names:
                    sys.exit(f"FAILED: {dist}'s worker {worker_type!r} is not discovered")
            if entry.get("entry-points", {}).get("mosaic.env_families"):
                # Declaring a family imports none of its libraries: all load without them.
                found = json.loads(run("mosaic envs --json", env / "bin" / "mosaic", "envs",
                                       "--json"))  # fmt: skip
                if found["broken"] or not found["families"]:
                    sys.exit(f"FAILED: {dist}'s families do not load: {found['broken']}")
            if entry.get("entry-points", {}).get("mosaic.launchers"):
                # Declaring a launcher imports nothing of its cluster's library (no Ray here).
                rows = json.loads(run("mosaic launchers --json", env / "bin" / "mosaic",
                                      "launchers", "--json"))  # fmt: skip
                ok = {row["name"] for row in rows if row["status"] == "ok"}
                for name in entry["entry-points"]["mosaic.launchers"]:
                    if name not in ok:
                        sys.exit(f"FAILED: {dist}'s launcher {name!r} does not load: {rows}")
        run(f"import {module}", python, "-c", f"import {module}")
        print(f"ok: {dist} installs alone into a fresh venv")


if __name__ == "__main__":
    main()
