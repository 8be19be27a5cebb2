"""The layering that ``.importlinter`` states is checked, and breaks where it should.

The lint tests copy every package's sources and the repository's
``.importlinter`` into a temporary directory, make one deliberate violation
in the copy, run ``lint-imports`` there (it reads the sources; it imports
none of them) and expect a failure that names the broken contract and the
offending import. The unmodified copy must pass. The other tests hold the
contracts' lists against the tree, so that a new private module, command
group or worker package cannot end up outside every contract.
"""

from __future__ import annotations

import ast
import configparser
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from mosaic_core.cli.app import COMMAND_MODULES

REPO = pathlib.Path(__file__).resolve().parents[3]
CONFIG = REPO / ".importlinter"
CORE = REPO / "packages" / "mosaic-core" / "src" / "mosaic_core"
EXAMPLE_SRC = REPO / "docs" / "examples" / "bandit-worker" / "src"

pytestmark = pytest.mark.skipif(
    not CONFIG.is_file() or not CORE.is_dir(), reason="the repository is not next to the tests"
)

LINT = "from importlinter.cli import lint_imports_command; lint_imports_command()"


def source_roots() -> list[pathlib.Path]:
    """Every ``src/`` directory whose packages the contracts cover."""
    return [*sorted((REPO / "packages").glob("*/src")), EXAMPLE_SRC]


def contracts() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(CONFIG, encoding="utf-8")
    return parser


def option(contract: str, name: str) -> list[str]:
    """A multi-line option of ``[importlinter:contract:<contract>]`` as a list."""
    return contracts()[f"importlinter:contract:{contract}"][name].split()


def contract_name(contract: str) -> str:
    return contracts()[f"importlinter:contract:{contract}"]["name"]


# -- the contracts cover the tree ---------------------------------------------------------


def test_every_private_module_of_mosaic_core_is_in_the_sdk_contract() -> None:
    private = {f"mosaic_core.{p.stem}" for p in CORE.glob("_*.py") if not p.stem.startswith("__")}
    assert private, CORE
    assert private <= set(option("sdk-below-host", "source_modules"))


def test_the_sdk_may_import_no_public_subpackage_and_workers_none_of_them() -> None:
    subpackages = {f"mosaic_core.{p.parent.name}" for p in CORE.glob("*/__init__.py")}
    host_and_kit = subpackages | {"mosaic_core.testing", "mosaic_core.operator_main"}
    assert set(option("sdk-below-host", "forbidden_modules")) == host_and_kit
    assert set(option("workers-use-the-sdk", "forbidden_modules")) == host_and_kit


def test_every_command_module_is_in_the_independence_contract() -> None:
    assert set(option("cli-commands-independent", "modules")) == set(COMMAND_MODULES)


#: Packages that extend the host (launchers) rather than wrap a library (workers, families).
HOST_EXTENSIONS = {"mosaic_ray_launcher"}


def test_every_package_of_the_repository_is_linted() -> None:
    packages = {p.parent.name for root in source_roots() for p in root.glob("*/__init__.py")}
    workers = packages - {"mosaic_core", "mosaic_ui"} - HOST_EXTENSIONS  # mosaic_ui: a front end
    assert set(contracts()["importlinter"]["root_packages"].split()) == packages
    assert set(option("workers-use-the-sdk", "source_modules")) == workers
    assert set(option("launchers-extend-the-host", "source_modules")) == HOST_EXTENSIONS
    assert set(option("private-stays-private", "packages_with_private_modules")) == packages


# -- lint-imports on a copy of the tree ---------------------------------------------------


@pytest.fixture
def tree(tmp_path: pathlib.Path) -> pathlib.Path:
    """A copy of every package's sources and of ``.importlinter``, for lint-imports alone."""
    pytest.importorskip("importlinter", reason="import-linter is in mosaic-core's test extra")
    for root in source_roots():
        shutil.copytree(
            root,
            tmp_path / root.relative_to(REPO),
            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
        )
    shutil.copy(CONFIG, tmp_path / ".importlinter")
    return tmp_path


def lint(tree: pathlib.Path) -> tuple[int, str]:
    """Run lint-imports on ``tree``; its exit status and its report, one line per contract."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(tree / r.relative_to(REPO)) for r in source_roots()),
        "COLUMNS": "500",  # rich wraps long contract names at the terminal's width
        "NO_COLOR": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", LINT, "--no-cache", "--no-logo", str(tree / ".importlinter")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout + done.stderr


def verdicts(report: str) -> dict[str, str]:
    """``{contract name: "KEPT" | "BROKEN"}`` from a lint-imports report."""
    found = re.findall(r"^(.+?) (KEPT|BROKEN)\b", report, flags=re.MULTILINE)
    return dict(found)


def detail(report: str, name: str) -> str:
    """The part of the report's "Broken contracts" section under contract ``name``."""
    broken = report.split("Broken contracts", 1)[-1]
    headers = [f"{n}\n{'-' * len(n)}\n" for n in verdicts(report)]
    start = broken.find(f"{name}\n{'-' * len(name)}\n")
    if start < 0:
        return ""
    ends = [i for h in headers if (i := broken.find(h, start + 1)) > start]
    return broken[start : min(ends, default=len(broken))]


def add(tree: pathlib.Path, path: str, code: str) -> None:
    """Append ``code`` to ``path`` (under the copy), making the file if it is new."""
    target = tree / path
    text = target.read_text(encoding="utf-8") if target.exists() else '"""A deliberate break."""\n'
    target.write_text(text + "\n" + code + "\n", encoding="utf-8")
    ast.parse(target.read_text(encoding="utf-8"))  # still Python, so lint-imports reads it


CORE_SRC = "packages/mosaic-core/src/mosaic_core"

#: (what is broken, [(file, code appended)], contract broken, line of the report naming it)
VIOLATIONS = [
    pytest.param(
        [(f"{CORE_SRC}/_errors.py", "import mosaic_core.runs")],
        "sdk-below-host",
        "mosaic_core._errors -> mosaic_core.runs",
        id="sdk-module-imports-the-run-store",
    ),
    pytest.param(
        [(f"{CORE_SRC}/_telemetry.py", "from mosaic_core.conformance import check_worker")],
        "sdk-below-host",
        "mosaic_core._telemetry -> mosaic_core.conformance",
        id="sdk-module-imports-the-kit",
    ),
    pytest.param(
        [
            (
                "packages/cleanrl-worker/src/mosaic_cleanrl/violation.py",
                "from mosaic_core._config import load_worker_config",
            )
        ],
        "private-stays-private",
        "mosaic_cleanrl.violation -> mosaic_core._config",
        id="worker-imports-a-private-module",
    ),
    pytest.param(
        [
            (
                "packages/llm-worker/src/mosaic_llm/violation.py",
                "from mosaic_core.operators import RandomOperator",
            )
        ],
        "workers-use-the-sdk",
        "mosaic_llm.violation -> mosaic_core.operators",
        id="worker-imports-the-host",
    ),
    pytest.param(
        [
            (
                "docs/examples/bandit-worker/src/mosaic_bandit/violation.py",
                "from mosaic_core.testing import run_json",
            )
        ],
        "workers-use-the-sdk",
        "mosaic_bandit.violation -> mosaic_core.testing",
        id="worker-source-imports-the-test-kit",
    ),
    pytest.param(
        [
            (f"{CORE_SRC}/cli/runs.py", "from mosaic_core.cli import eval as _eval"),
            (f"{CORE_SRC}/cli/eval.py", "from mosaic_core.cli import runs as _runs"),
        ],
        "cli-commands-independent",
        "mosaic_core.cli.eval -> mosaic_core.cli.runs",
        id="two-command-modules-import-each-other",
    ),
    pytest.param(
        [
            (
                "packages/mosaic-ray-launcher/src/mosaic_ray_launcher/violation.py",
                "from mosaic_core.cli import app",
            )
        ],
        "launchers-extend-the-host",
        "mosaic_ray_launcher.violation -> mosaic_core.cli",
        id="launcher-imports-the-command-line",
    ),
    pytest.param(
        [
            (
                "packages/mosaic-ray-launcher/src/mosaic_ray_launcher/agent.py",
                "from mosaic_ray_launcher.relay import STREAMS as _STREAMS",
            )
        ],
        "ray-agent-ships-alone",
        "mosaic_ray_launcher.agent -> mosaic_ray_launcher.relay",
        id="the-ray-agent-needs-the-launcher-on-the-node",
    ),
    pytest.param(
        [(f"{CORE_SRC}/runs/store.py", "import mosaic_core.runs.supervisor")],
        "host-acyclic",
        "No cycles are allowed in mosaic_core.runs",
        id="a-cycle-inside-the-host",
    ),
]


@pytest.mark.parametrize(("changes", "contract", "named"), VIOLATIONS)
def test_lint_fails_on_a_deliberate_violation(
    tree: pathlib.Path, changes: list[tuple[str, str]], contract: str, named: str
) -> None:
    for path, code in changes:
        add(tree, path, code)
    status, report = lint(tree)
    assert status != 0, report
    name = contract_name(contract)
    assert verdicts(report).get(name) == "BROKEN", report
    assert named in detail(report, name), report


def test_the_tree_as_it_is_keeps_every_contract(tree: pathlib.Path) -> None:
    status, report = lint(tree)
    names = [contracts()[s]["name"] for s in contracts().sections() if ":contract:" in s]
    assert verdicts(report) == dict.fromkeys(names, "KEPT"), report
    assert status == 0, report
