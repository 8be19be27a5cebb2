"""The ``mosaic`` pytest plugin: the conformance kit inside a worker's own test run.

mosaic-core registers this module under the ``pytest11`` entry point, so
pytest loads it wherever mosaic-core is installed. It stays inert (no
collection, no import beyond this module) unless asked, in one of two ways:

- ``pytest --mosaic-worker NAME`` adds one test per check for the installed
  worker ``NAME`` (``mosaic-worker[NAME]::smoke-run``; repeat the option for
  several workers, select checks with ``-k``);
- a test class deriving from :class:`~mosaic_core.conformance.WorkerConformance`
  gets ``test_conformance`` parametrized with one test id per check.

It also offers the fixture ``mosaic_home``: a private, empty ``MOSAIC_HOME``
for one test, so a worker's suite never touches the user's runs.

Disable it entirely with ``-p no:mosaic``.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mosaic_core.conformance._kit import Conformance
    from mosaic_core.conformance._outcomes import CheckResult

__all__ = ["mosaic_home", "report"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mosaic", "MOSAIC worker conformance kit")
    group.addoption(
        "--mosaic-worker",
        action="append",
        default=[],
        dest="mosaic_workers",
        metavar="NAME",
        help="run every conformance check against the installed worker NAME",
    )
    group.addoption(
        "--mosaic-timeout",
        type=float,
        default=None,
        dest="mosaic_timeout",
        metavar="SECONDS",
        help="limit for each of the kit's runs (default 120)",
    )


class _Kits:
    """One :class:`Conformance` per worker and options for the whole session."""

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self._kits: dict[str, Conformance] = {}

    def get(self, worker_type: str, options: dict[str, Any] | None = None) -> Conformance:
        from mosaic_core.conformance._kit import Conformance

        options = dict(options or {})
        if self.timeout is not None:
            options.setdefault("timeout", self.timeout)
        key = f"{worker_type} {sorted(options.items())!r}"
        if key not in self._kits:
            self._kits[key] = Conformance(worker_type, **options)
        return self._kits[key]

    def close(self) -> None:
        for kit in self._kits.values():
            kit.close()
        self._kits.clear()


_KITS = pytest.StashKey[_Kits]()


def _kits(config: pytest.Config) -> _Kits:
    if _KITS not in config.stash:
        config.stash[_KITS] = _Kits(config.getoption("mosaic_timeout", None))
    return config.stash[_KITS]


def pytest_sessionfinish(session: pytest.Session) -> None:
    kits = session.config.stash.get(_KITS, None)
    if kits is not None:
        kits.close()


def report(result: CheckResult) -> None:
    """Turn a check's result into the test's outcome."""
    if result.status == "skipped":
        pytest.skip(result.message)
    if result.status == "failed":
        pytest.fail(f"[{result.id}] {result.message}", pytrace=False)


@pytest.fixture
def mosaic_home(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """A fresh ``MOSAIC_HOME`` for this test (set in the environment, so the ``mosaic``
    commands and workers the test starts use it too); the directory it names."""
    home = tmp_path / "mosaic-home"
    monkeypatch.setenv("MOSAIC_HOME", str(home))
    return home


# -- the subclass way ------------------------------------------------------------------


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "mosaic_check" in metafunc.fixturenames:
        from mosaic_core.conformance._registry import CHECK_IDS

        metafunc.parametrize("mosaic_check", CHECK_IDS, ids=CHECK_IDS)


@pytest.fixture
def mosaic_worker(request: pytest.FixtureRequest) -> str:
    """The worker under test: the test class's ``worker_type``. Override to compute it."""
    worker = getattr(request.cls, "worker_type", "") if request.cls is not None else ""
    if not worker:
        pytest.fail(
            "set worker_type = 'NAME' on the WorkerConformance subclass, or override the "
            "mosaic_worker fixture",
            pytrace=False,
        )
    return str(worker)


@pytest.fixture
def mosaic_conformance(mosaic_worker: str, request: pytest.FixtureRequest) -> Conformance:
    """The session's :class:`~mosaic_core.conformance.Conformance` for ``mosaic_worker``."""
    options = getattr(request.cls, "conformance_options", None) if request.cls else None
    return _kits(request.config).get(mosaic_worker, options)


# -- the command-line way ------------------------------------------------------------


class _WorkerChecks(pytest.Collector):
    def __init__(self, *, worker_type: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.worker_type = worker_type

    def collect(self) -> Iterator[pytest.Item]:
        from mosaic_core.conformance._registry import CHECK_IDS

        for check_id in CHECK_IDS:
            yield _CheckItem.from_parent(self, name=check_id)


class _CheckItem(pytest.Item):
    parent: _WorkerChecks

    def runtest(self) -> None:
        report(_kits(self.config).get(self.parent.worker_type).run(self.name))

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"mosaic check {self.parent.worker_type} -k {self.name}"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    workers = config.getoption("mosaic_workers", None)
    if not workers:
        return
    added: list[pytest.Item] = []
    for worker in dict.fromkeys(workers):
        name = f"mosaic-worker[{worker}]"
        collector = _WorkerChecks.from_parent(session, name=name, nodeid=name, worker_type=worker)
        checks = list(collector.collect())
        # Reported like any collected node, so "collected N items" counts the checks.
        report = pytest.CollectReport(name, "passed", None, list(checks))
        config.hook.pytest_collectreport(report=report)
        added += checks
    items[:0] = added
