"""A real server for the tests: ``mosaic ui`` in its own process on a free port, over a
throwaway ``$MOSAIC_HOME``; and a real Chromium driven by Playwright."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

TOKEN = "test-token-0123456789abcdef"
CHROMIUM = os.environ.get("MOSAIC_UI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
DOCS_SHOTS = pathlib.Path(__file__).resolve().parents[3] / "docs" / "_static" / "ui"


class Server:
    """A running ``mosaic ui``: its base URL, token, home and process."""

    def __init__(
        self, home: pathlib.Path, *extra: str, token: str | None = TOKEN,
        pythonpath: pathlib.Path | None = None,
    ) -> None:  # fmt: skip
        self.home = home
        env = dict(os.environ, MOSAIC_HOME=str(home), PYTHONUNBUFFERED="1")
        if pythonpath is not None:
            env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), env.get("PYTHONPATH", "")])
        env.pop("MOSAIC_UI_TOKEN", None)
        args = ["--port", "0", *extra] + (["--token", token] if token else [])
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; from mosaic_core.cli import main; sys.exit(main())",
             "ui", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        self.url = ""
        deadline = time.monotonic() + 60
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError(f"mosaic ui exited: {self.proc.stderr.read()}")  # type: ignore[union-attr]
            if line.strip().startswith("http://"):
                self.url = line.strip()
                break
        parts = urllib.parse.urlsplit(self.url)
        self.base = f"{parts.scheme}://{parts.netloc}"
        self.token = token

    def request(self, method: str, path: str, body: Any = None, *, token: bool = True,
                headers: dict[str, str] | None = None) -> tuple[int, Any]:  # fmt: skip
        data = json.dumps(body).encode() if body is not None else None
        head = {"content-type": "application/json"} if body is not None else {}
        if token and self.token:
            head["authorization"] = f"Bearer {self.token}"
        if method in ("POST", "DELETE", "PUT", "PATCH"):
            head["origin"] = self.base
        head.update(headers or {})
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=head)
        try:
            with urllib.request.urlopen(req, timeout=60) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            raw, status = exc.read(), exc.code
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        return self.request("GET", path, **kw)

    def wait_for(
        self, run_id: str, statuses: tuple[str, ...], timeout: float = 180
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, run = self.get(f"/api/runs/{run_id}")
            if status == 200 and run["status"] in statuses:
                return dict(run)
            time.sleep(0.3)
        raise AssertionError(f"run {run_id} not {statuses} after {timeout} s: {run}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


SECRETIVE = '''
"""A worker with a secret config field: it reports whether the secret reached it."""

from dataclasses import dataclass
from typing import Annotated

from mosaic_core import (
    RunContext, Secret, TrainingConfigBase, WorkerCapabilities, WorkerMetadata, WorkerSpec,
    hookimpl,
)


@dataclass(frozen=True, kw_only=True)
class SecretiveConfig(TrainingConfigBase):
    env_id: str = "none"
    algorithm: str = "none"
    total_steps: int = 1
    api_key: Annotated[str, Secret] = ""
    """the key to an endpoint"""


class Runtime:
    def __init__(self, config, context):
        self.config, self.context = config, context

    def run(self):
        with self.context.lifecycle(algorithm="none", env_id="none") as run:
            run.metrics(1, {"has_key": float(len(self.config.api_key) > 0)})
            run.summary.update(key_length=len(self.config.api_key))
        return run.summary


@hookimpl
def mosaic_register_workers(register):
    register(WorkerSpec(
        metadata=WorkerMetadata(name="Secretive", version="0.0.1", description="keeps a secret"),
        capabilities=WorkerCapabilities(worker_type="secretive"),
        config_class=SecretiveConfig,
        runtime_factory=lambda config, context: Runtime(config, context),
    ))
'''

BROKEN = """
import mosaic_ui_no_such_dependency  # noqa: F401
"""


def _distribution(root: pathlib.Path, name: str, entry: str, module: str, source: str) -> None:
    info = root / f"{name.replace('-', '_')}-0.0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text(f"[mosaic.workers]\n{entry} = {module}\n")
    (root / f"{module}.py").write_text(source.lstrip())


@pytest.fixture(scope="session")
def plugins(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """Two worker distributions: one with a secret config field, one that fails to import."""
    root = tmp_path_factory.mktemp("ui-plugins")
    _distribution(root, "mosaic-test-secretive", "secretive", "mosaicui_secretive", SECRETIVE)
    _distribution(root, "mosaic-test-broken", "broken", "mosaicui_broken", BROKEN)
    return root


@pytest.fixture
def home(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "mosaic-home"
    path.mkdir()
    return path


@pytest.fixture
def server(home: pathlib.Path) -> Iterator[Server]:
    running = Server(home)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Playwright's Chromium: the system's, as ``playwright install`` cannot download here."""
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: run `apt-get install -y chromium` as "
            "root (or point MOSAIC_UI_CHROMIUM at a Chromium)", pytrace=False,
        )  # fmt: skip
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any, server: Server) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1360, "height": 860})
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url)
    yield page
    context.close()
    assert not errors, f"errors in the page: {errors}"


def shot(page: Any, name: str, height: int | None = None) -> None:
    """A screenshot for the docs (docs/_static/ui/NAME.png), its top ``height`` pixels
    when given (below them a run page shows this machine's paths)."""
    DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
    clip = {"x": 0, "y": 0, "width": 1360, "height": height} if height else None
    page.screenshot(path=str(DOCS_SHOTS / f"{name}.png"), full_page=False, clip=clip)
