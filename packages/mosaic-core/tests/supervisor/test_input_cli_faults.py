"""Every hostile-input example, run as a user would type it: one line on stderr, the
documented exit status, no traceback, and no run directory or index row left behind."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mosaic_core.runs import RunStore

from .conftest import Mosaic

DEEP = "[" * 100_000
LONG_ID = "A" * 50_001


def refused(done: subprocess.CompletedProcess[str], code: int) -> str:
    assert done.returncode == code, (done.returncode, done.stderr[-500:])
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mosaic: error: "), done.stderr[-500:]
    assert len(lines[0]) < 600  # a line a person can read, whatever the input's size
    return lines[0]


def nothing_made(store: RunStore) -> None:
    assert store.list_runs() == []
    assert not store.runs_dir.exists() or list(store.runs_dir.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [
        ["--set", f"x={DEEP}"],
        ["--set", "seed=18446744073709551616"],
        ["--set", "total_steps=18446744073709551616"],
        ["--seeds", "1,18446744073709551616"],
        ["--set", 'env_id="\\ud800x"'],
        ["--set", "tags=" + "[" * 990 + "]" * 990],
    ],
    ids=["deep-set", "huge-seed", "huge-total-steps", "huge-seeds", "surrogate", "deep-990"],
)
def test_bad_config_values_exit_2_in_one_line_and_make_no_run(
    mosaic: Mosaic, store: RunStore, args: list[str]
) -> None:
    refused(mosaic("run", "fixture", *args), 2)
    nothing_made(store)


def test_a_deep_config_file_exits_2(mosaic: Mosaic, store: RunStore, tmp_path) -> None:
    path = tmp_path / "deep.json"
    path.write_text(DEEP)
    assert "nested too deeply" in refused(mosaic("run", "fixture", "--config", str(path)), 2)
    nothing_made(store)


def test_one_bad_seed_makes_no_run_even_without_the_config_class(home, store: RunStore) -> None:
    # `--env` with the worker installed only there: nothing here validates its fields,
    # and still no run may be made, pending forever, for the good seed.
    from mosaic_core import ConfigError
    from mosaic_core.runs import prepare_runs

    for seeds in ([1, 2**64], [2**64, 1]):
        with pytest.raises(ConfigError, match="--seeds"):
            prepare_runs(store, "fixture", None, {}, seeds=seeds)
    with pytest.raises(ConfigError, match="lone surrogate"):
        prepare_runs(store, "fixture", None, {"env_id": "\ud800"}, seeds=[1, 2])
    nothing_made(store)


def test_a_later_run_that_cannot_be_made_takes_the_earlier_ones_with_it(
    mosaic: Mosaic, store: RunStore
) -> None:
    store.create_run("fixed-seed2", "fixture", {})  # the second seed's id is taken
    done = mosaic("run", "fixture", "--set", "run_id=fixed", "--seeds", "1,2")
    assert "already exists" in refused(done, 2)
    assert [r["run_id"] for r in store.list_runs()] == ["fixed-seed2"]
    assert not store.run_dir("fixed-seed1").exists()


@pytest.mark.parametrize("command", ["show", "logs", "events", "metrics", "cancel", "rm"])
def test_a_50001_character_run_id_is_no_run(mosaic: Mosaic, command: str) -> None:
    line = refused(mosaic(command, LONG_ID), 1)
    assert "no run" in line and "1-128 letters" in line


def test_eval_with_an_option_a_builtin_cannot_take_exits_2(mosaic: Mosaic, store: RunStore) -> None:
    pytest.importorskip("gymnasium")
    line = refused(mosaic("eval", "--env", "CartPole-v1", "--operator", "random?x=1"), 2)
    assert "random?x=1" in line and "takes none" in line
    nothing_made(store)


@pytest.mark.parametrize(
    "args", [["--name", "ok\n"], ["--python", "3.11\n", "--name", "x1"]], ids=["name", "python"]
)
def test_env_create_refuses_a_trailing_newline(mosaic: Mosaic, args: list[str]) -> None:
    line = refused(mosaic("env", "create", "fixture", *args), 2)
    assert "\\n" in line  # shown escaped, on the one line


def test_arguments_that_are_not_utf8_are_errors_not_crashes(
    mosaic: Mosaic, store: RunStore
) -> None:
    raw = os.fsdecode(b"\xff")  # what Python makes of a non-UTF-8 argument
    for args, code in (
        (["run", raw], 1),
        (["show", raw], 1),
        (["run", "fixture", "--set", f"env_id={raw}"], 2),
        (["run", "fixture", "--set", f"{raw}=1"], 2),
    ):
        refused(mosaic(*args), code)
    listing = mosaic("runs", "--worker", raw)
    assert listing.returncode == 0 and "Traceback" not in listing.stderr
    if sys.platform.startswith("linux"):
        eval_done = mosaic("eval", "--env", raw, "--operator", "random")
        refused(eval_done, 2)
    nothing_made(store)
