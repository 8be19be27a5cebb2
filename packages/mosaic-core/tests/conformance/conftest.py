"""Installed workers for the kit's tests: one correct fixture, one per broken contract rule.

Each fixture worker is a real distribution (a ``*.dist-info`` with an entry
point next to its module) in a temporary site directory that this process
and every worker process see, so discovery and runs work as after a pip
install. The modules import :mod:`kitfix_base`, the correct worker, and
change one thing each.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import pathlib
import shutil
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from mosaic_core.conformance import CheckResult, Conformance

HERE = pathlib.Path(__file__).parent
REPO = HERE.parents[3]
BANDIT_SRC = REPO / "docs" / "examples" / "bandit-worker" / "src"


def _spec(worker: str, changes: str = "", header: str = "") -> str:
    """A plugin module registering ``make_spec(worker, <changes>)``."""
    return (
        "from mosaic_core import hookimpl\n"
        "from kitfix_base import make_spec\n"
        f"{header}\n\n"
        "@hookimpl\n"
        "def mosaic_register_workers(register):\n"
        f'    register(make_spec("{worker}"{", " + changes if changes else ""}))\n'
    )


def _smoke(worker: str, behavior: str, extra: str = "") -> str:
    return _spec(worker, f'smoke_config={{"behavior": "{behavior}"{extra}}}')


RAW_MAIN = """
'''A console module that runs the runtime itself, without mosaic_core.run_worker.'''
import argparse
import sys

from mosaic_core import load_worker_config
from kitfix_base import FixConfig, FixRuntime

parser = argparse.ArgumentParser()
parser.add_argument("--config")
args = parser.parse_args()
config = load_worker_config(args.config, FixConfig)
FixRuntime(config, "kf-rawmain").run()
"""

BAD_CAPS = """
from mosaic_core import WorkerCapabilities, hookimpl
from kitfix_base import make_spec

CAPABILITIES = WorkerCapabilities(worker_type="kf-badcaps", action_spaces=("discreet",))


@hookimpl
def mosaic_register_workers(register):
    register(make_spec("kf-badcaps", capabilities=CAPABILITIES))
"""

HEAVY = _spec("kf-heavy", header="import torch  # the stub on this test's path")

LEGACY = """
from mosaic_core import WorkerCapabilities, WorkerMetadata


def info():
    caps = WorkerCapabilities(worker_type="kf-legacy")
    return WorkerMetadata(name="Legacy", version="0.1.0"), caps
"""

_BASE = "from kitfix_base import "
_CORE = "from mosaic_core import "

#: worker type -> (module source, entry-point value or None for the module itself)
VARIANTS: dict[str, tuple[str, str | None]] = {
    "kf-good": (_spec("kf-good"), None),
    "kf-norunid": (
        _spec("kf-norunid", "config_class=NoRunIdConfig", _BASE + "NoRunIdConfig"),
        None,
    ),
    "kf-lenient": (
        _spec("kf-lenient", "config_class=LenientConfig", _BASE + "LenientConfig"),
        None,
    ),
    "kf-lossy": (_spec("kf-lossy", "config_class=LossyConfig", _BASE + "LossyConfig"), None),
    "kf-nodict": (_smoke("kf-nodict", "nodict"), None),
    "kf-twoterm": (_smoke("kf-twoterm", "two_terminals"), None),
    "kf-metricsfirst": (_smoke("kf-metricsfirst", "metrics_first"), None),
    "kf-seqgap": (_smoke("kf-seqgap", "seq_gap"), None),
    "kf-silent": (_smoke("kf-silent", "silent", ', "silence": 1.0'), None),
    "kf-nomanifest": (_smoke("kf-nomanifest", "no_manifest"), None),
    "kf-missingckpt": (_smoke("kf-missingckpt", "missing_checkpoint"), None),
    "kf-ignoreterm": (_smoke("kf-ignoreterm", "ignore_sigterm"), None),
    "kf-keepnothing": (_smoke("kf-keepnothing", "keep_nothing"), None),
    "kf-rawmain": (
        _spec(
            "kf-rawmain",
            'console_module="kitfix_rawmain", failing_config={"behavior": "bare_raise"}',
        ),
        None,
    ),
    "kf-nosmoke": (_spec("kf-nosmoke", "smoke_config=None"), None),
    "kf-nofailing": (_spec("kf-nofailing", "failing_config=None"), None),
    "kf-failok": (_spec("kf-failok", 'failing_config={"total_steps": 3}'), None),
    "kf-badversion": (
        _spec(
            "kf-badversion",
            'metadata=WorkerMetadata(name="V", version="9.9.9", description="d")',
            _CORE + "WorkerMetadata",
        ),
        None,
    ),
    "kf-nockpt": (
        _spec(
            "kf-nockpt",
            'capabilities=WorkerCapabilities(worker_type="kf-nockpt")',
            _CORE + "WorkerCapabilities",
        ),
        None,
    ),
    "kf-operator": (
        _spec("kf-operator", "operator_factory=KitOperator", _BASE + "KitOperator"),
        None,
    ),
    "kf-badoperator": (
        _spec("kf-badoperator", "operator_factory=lambda checkpoint, **options: None"),
        None,
    ),
    "kf-heavy": (HEAVY, None),
    "kf-badcaps": (BAD_CAPS, None),
    "kf-legacy": (LEGACY, "kitfix_kf_legacy:info"),
    "kf-brokenep": ("", "kitfix_no_such_module"),
}


def module_name(worker: str) -> str:
    return "kitfix_" + worker.replace("-", "_")


def write_dist(site: pathlib.Path, name: str, entry_points: dict[str, str]) -> None:
    info = site / f"{name.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n")
    lines = ["[mosaic.workers]", *(f"{k} = {v}" for k, v in entry_points.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="session")
def kit_site(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    site = tmp_path_factory.mktemp("kit-site")
    shutil.copy(HERE / "kitfix_base.py", site / "kitfix_base.py")
    (site / "kitfix_rawmain.py").write_text(RAW_MAIN)
    (site / "torch.py").write_text('"""A stand-in for torch: only its name matters."""\n')
    for worker, (source, entry_point) in VARIANTS.items():
        if source:
            (site / f"{module_name(worker)}.py").write_text(source)
        write_dist(site, f"kitfix-{worker}", {worker: entry_point or module_name(worker)})
    have_bandit = any(
        ep.name == "bandit" for ep in importlib.metadata.entry_points(group="mosaic.workers")
    )
    if not have_bandit and BANDIT_SRC.is_dir():
        write_dist(site, "mosaic-bandit-worker", {"bandit": "mosaic_bandit.plugin"})
    return site


@pytest.fixture
def kit_env(kit_site: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[pathlib.Path]:
    """The fixture workers (and the reference worker) installed for this test and its children."""
    paths = [str(kit_site)] + ([str(BANDIT_SRC)] if BANDIT_SRC.is_dir() else [])
    for name in ("MOSAIC_LOAD_PLUGINS", "MOSAIC_STRICT_PLUGINS", "MOSAIC_TELEMETRY_FD",
                 "MOSAIC_RUN_ID", "MOSAIC_RUN_DIR"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    for path in reversed(paths):
        monkeypatch.syspath_prepend(path)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([*paths, *filter(None, [os.environ.get("PYTHONPATH")])])
    )
    importlib.invalidate_caches()
    yield kit_site
    for name in list(sys.modules):
        module = sys.modules[name]
        if name.startswith("kitfix_") or str(getattr(module, "__file__", "")).startswith(
            str(kit_site)
        ):
            del sys.modules[name]
    importlib.invalidate_caches()


@pytest.fixture
def run_check(kit_env: pathlib.Path, tmp_path: pathlib.Path) -> Any:
    """``run_check(worker, check_id, **options)``: one check against an installed worker."""
    kits: list[Conformance] = []

    def run(worker: str, check_id: str, **options: Any) -> CheckResult:
        kit = Conformance(worker, workdir=tmp_path / f"kit-{len(kits)}", **options)
        kits.append(kit)
        return kit.run(check_id)

    yield run
    for kit in kits:
        kit.close()
