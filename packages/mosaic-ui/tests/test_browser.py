"""The front end in a real Chromium (Playwright, the system's browser) against a real
``mosaic ui`` and real runs. Each page's screenshot goes into the docs."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from conftest import Server, shot

pytestmark = pytest.mark.browser


def _until(page: Any, expression: str, timeout: float = 60) -> None:
    """Poll ``expression`` in the page (the page's CSP forbids wait_for_function's eval)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"{expression} still false after {timeout} s")
        time.sleep(0.1)


def _fill(page: Any, field: str, value: str) -> None:
    page.locator(f"[data-field='{field}']").fill(value)


def test_without_the_token_the_page_shows_no_data(chromium: Any, server: Server) -> None:
    server.request("POST", "/api/launch", {"worker": "bandit", "config": {"total_steps": 200}})
    context = chromium.new_context()
    page = context.new_page()
    page.goto(server.base + "/#/runs")
    page.get_by_text("Not signed in").wait_for()
    assert page.locator("table#runs").count() == 0
    status = page.evaluate("fetch('/api/runs').then((r) => r.status)")
    assert status == 401
    page.goto(server.base + "/?token=wrong-token-0123456789")
    assert "wrong token" in page.content()
    context.close()


def test_launch_watch_the_curve_grow_and_cancel(page: Any, server: Server) -> None:
    page.goto(server.base + "/#/launch/bandit")
    page.locator("[data-field='total_steps']").wait_for()
    shot(page, "launch")
    _fill(page, "total_steps", "20000000")
    _fill(page, "log_every", "20000")
    page.locator("#start").click()
    page.wait_for_url(re.compile(r"#/run/"))
    run_id = page.url.rsplit("/", 1)[-1]
    page.locator(".chart[data-key='charts/mean_reward'] .u-over").wait_for(timeout=60_000)
    first = page.evaluate("document.querySelector('.chart[data-key=\"charts/mean_reward\"]') && 1")
    assert first == 1
    _until(page, "window.__mosaicCurve.length >= 3")
    grown = page.evaluate("window.__mosaicCurve.map((p) => p.step)")
    assert grown == sorted(grown) and grown[-1] > grown[0], grown  # it grew, live
    _until(page, "window.__mosaicCurve.length >= 6")
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "run", height=600)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#cancel").click()
    page.locator("h1 .status.cancelled").wait_for(timeout=30_000)
    assert server.wait_for(run_id, ("cancelled",))["status"] == "cancelled"
    page.locator("nav a[data-nav=runs]").click()
    page.locator(f"tr[data-run='{run_id}'] .status.cancelled").wait_for()


def test_bad_input_shows_the_cli_field_error_and_starts_nothing(page: Any, server: Server) -> None:
    page.goto(server.base + "/#/launch/bandit")
    _fill(page, "epsilon", "2")
    page.locator("#start").click()
    error = page.locator("[data-for='epsilon'] .field-error")
    error.wait_for()
    assert error.inner_text() == (
        "config field 'epsilon': got 2.0 (float); expected a number >= 0 and <= 1"
    )
    shot(page, "launch-error")
    _fill(page, "epsilon", "0.1")
    page.locator("[data-for='--seeds'] input").fill("1,x")
    page.locator("#start").click()
    page.locator("[data-for='--seeds'] .field-error").wait_for()
    assert server.get("/api/runs")[1]["total"] == 0


def test_new_runs_appear_live_and_two_compare(page: Any, server: Server) -> None:
    page.goto(server.base + "/#/runs")
    page.get_by_text("No runs yet").wait_for()
    status, started = server.request("POST", "/api/launch", {
        "worker": "bandit", "config": {"total_steps": 4000, "log_every": 100},
        "seeds": "1,2,3", "sweep": ["epsilon=0.05,0.3"], "group": "eps-sweep",
    })  # fmt: skip
    assert status == 201, started
    for run in started["runs"]:  # without a reload
        page.locator(f"tr[data-run='{run['run_id']}']").wait_for(timeout=30_000)
    for run in started["runs"]:
        server.wait_for(run["run_id"], ("completed",))
    page.locator("tr[data-run] .status.completed").nth(5).wait_for(timeout=30_000)
    page.locator("input[name=by-sweep]").check()
    page.locator("tr.grouphead").first.wait_for()
    shot(page, "runs")
    page.goto(server.base + "/#/compare?group=eps-sweep")
    page.locator("#statistics tbody tr").nth(1).wait_for(timeout=30_000)
    rows = page.locator("#statistics tbody tr").all_inner_texts()
    assert any("epsilon=0.05" in r for r in rows) and any("epsilon=0.3" in r for r in rows)
    assert page.locator(".chart .u-over").count() >= 1
    assert "epsilon" in page.locator("#config-diff").inner_text()
    shot(page, "compare")


def test_a_real_cleanrl_run_from_the_form(page: Any, server: Server) -> None:
    found = server.get("/api/workers")[1]
    if "cleanrl" not in [w["worker_type"] for w in found["workers"]]:
        pytest.fail("the cleanrl worker is not installed here (tox -e mosaic-ui installs it)")
    page.goto(server.base + "/#/launch/cleanrl")
    page.locator("[data-field='env_id']").wait_for(timeout=90_000)
    page.locator("[data-field='algorithm']").select_option("ppo")  # an enum: a select
    _fill(page, "env_id", "CartPole-v1")
    _fill(page, "total_steps", "3000")
    page.locator("#start").click()
    page.wait_for_url(re.compile(r"#/run/"))
    run_id = page.url.rsplit("/", 1)[-1]
    page.locator(".chart[data-key='charts/episodic_return'] .u-over").wait_for(timeout=180_000)
    run = server.wait_for(run_id, ("completed", "failed"), timeout=300)
    assert run["status"] == "completed", run.get("reason")
    page.locator("h1 .status.completed").wait_for(timeout=30_000)
    assert run["config"]["algorithm"] == "ppo" and run["config"]["total_steps"] == 3000


def test_evaluate_random_shows_its_table(page: Any, server: Server) -> None:
    page.goto(server.base + "/#/eval")
    page.locator("[name=env]").fill("CartPole-v1")
    page.locator("#start-eval").click()
    page.locator("[data-job] table tbody tr").first.wait_for(timeout=120_000)
    text = page.locator("[data-job]").first.inner_text()
    assert "random" in text and "completed" in text
    shot(page, "eval")
    page.locator("[name=env]").fill("CartPole-v1")
    page.locator("[name=operators]").fill("bandit:NOSUCHRUN")
    page.locator("#start-eval").click()
    page.locator("#eval-error").wait_for()
    assert "NOSUCHRUN" in page.locator("#eval-error").inner_text()
    time.sleep(0.1)
