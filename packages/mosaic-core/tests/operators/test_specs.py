"""Operator specs: built-ins, worker runs, paths, llm endpoints, options."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from mosaic_core import ConfigError, OperatorContext, PluginError
from mosaic_core.operators import build_operator, call_operator_factory, parse_operator_spec
from mosaic_core.runs import RunStore


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with RunStore(tmp_path / "home") as opened:
        opened.create_run("01SPECRUNAAAAAAAAAAAAAAAAA", "optoy", {"env_id": "CartPole-v1"})
        yield opened


def test_builtins_take_no_store() -> None:
    spec = parse_operator_spec("random")
    assert (spec.name, spec.builtin, spec.checkpoint) == ("random", True, None)
    assert parse_operator_spec("human").builtin


def test_a_run_id_or_prefix_names_its_worker_and_directory(store: Any) -> None:
    for text in ("01SPECRUNAAAAAAAAAAAAAAAAA", "01SPECRUN", "optoy:01SPECRUN"):
        spec = parse_operator_spec(text, store)
        assert spec.name == "optoy" and spec.run_id == "01SPECRUNAAAAAAAAAAAAAAAAA"
        assert spec.checkpoint == str(store.run_dir("01SPECRUNAAAAAAAAAAAAAAAAA"))
        assert spec.python is None  # made by this interpreter


def test_a_run_made_in_another_venv_of_the_same_base_python_runs_there(
    store: Any, tmp_path: Path
) -> None:
    import os
    import sys

    other = tmp_path / "venv" / "bin" / "python"
    other.parent.mkdir(parents=True)
    other.symlink_to(os.path.realpath(sys.executable))  # as `python -m venv` makes it
    store.create_run("01OTHERVENVAAAAAAAAAAAAAAA", "optoy", {}, python=str(other))
    assert parse_operator_spec("01OTHERVENV", store).python == str(other)
    store.create_run("01THISONEAAAAAAAAAAAAAAAAA", "optoy", {}, python=sys.executable)
    assert parse_operator_spec("01THISONE", store).python is None


def test_a_directory_is_a_checkpoint(tmp_path: Path) -> None:
    spec = parse_operator_spec(f"cleanrl:{tmp_path}?deterministic=true&device=cpu")
    assert (spec.name, spec.checkpoint) == ("cleanrl", str(tmp_path))
    assert spec.options == {"deterministic": True, "device": "cpu"}


def test_llm_model_at_url() -> None:
    spec = parse_operator_spec("llm:gemma3-270m@http://127.0.0.1:8080/v1?temperature=0")
    assert spec.name == "llm" and spec.checkpoint is None
    assert spec.options == {
        "model": "gemma3-270m", "base_url": "http://127.0.0.1:8080/v1", "temperature": 0,
    }  # fmt: skip


def _env(store: Any, root: Path, name: str, worker: str) -> str:
    python = root / "envs" / name / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")  # only its existence is looked at here
    store.save_env({
        "name": name, "worker_type": worker, "path": str(python.parent.parent),
        "python": str(python), "python_version": "3.10.13", "requirements": [],
        "workers": [{"worker_type": worker, "console_module": None}], "created_at": 1.0,
    })  # fmt: skip
    return str(python)


def test_a_worker_installed_only_in_an_environment_runs_there(store: Any, tmp_path: Path) -> None:
    checkpoint = tmp_path / "final.pt"
    checkpoint.write_bytes(b"")
    assert parse_operator_spec(f"faraway:{checkpoint}", store).python is None  # no env has it
    _env(store, tmp_path, "other", "faraway")
    preferred = _env(store, tmp_path, "faraway", "faraway")  # the one named after the worker
    spec = parse_operator_spec(f"faraway:{checkpoint}", store)
    assert (spec.name, spec.checkpoint, spec.python) == ("faraway", str(checkpoint), preferred)
    with pytest.raises(PluginError, match=f"it runs in {re.escape(preferred)} \\(a `mosaic env`"):
        build_operator(spec, OperatorContext())


def test_an_llm_endpoint_runs_in_the_environment_of_the_llm_worker(
    store: Any, tmp_path: Path
) -> None:
    from mosaic_core._discovery import discover_workers

    if "llm" in discover_workers(strict=False).workers:
        pytest.skip("the llm worker is installed here, so its operator runs here")
    python = _env(store, tmp_path, "llm-env", "llm")
    assert parse_operator_spec("llm:gemma@http://127.0.0.1:8080/v1", store).python == python
    Path(python).unlink()  # an environment whose Python is gone is passed over
    assert parse_operator_spec("llm:gemma@http://127.0.0.1:8080/v1", store).python is None


def test_mistakes_name_the_spec(store: Any) -> None:
    with pytest.raises(ConfigError, match=r"no run 'zzz'.*built-in operators: random, human"):
        parse_operator_spec("zzz", store)
    with pytest.raises(ConfigError, match="made by worker 'optoy', not 'xuance'"):
        parse_operator_spec("xuance:01SPECRUN", store)
    with pytest.raises(ConfigError, match="WORKER:RUN_ID"):
        parse_operator_spec("cleanrl:", store)
    with pytest.raises(ConfigError, match="identifiers, not '1x'"):
        parse_operator_spec("random?1x=2")
    with pytest.raises(ConfigError, match="takes none"):
        build_operator(parse_operator_spec("random?seed=1"), OperatorContext())


def test_a_worker_without_an_operator_or_not_installed_is_a_plugin_error(tmp_path: Path) -> None:
    spec = parse_operator_spec(f"nosuchworker:{tmp_path}")
    with pytest.raises(PluginError, match="no worker named 'nosuchworker'"):
        build_operator(spec, OperatorContext())


def test_a_factory_that_names_context_learns_its_seat() -> None:
    seat = OperatorContext(agent="agent_1")
    calls: list[tuple[Any, ...]] = []

    def seated(checkpoint: str, *, context: Any = None, **options: Any) -> str:
        calls.append((checkpoint, context, options))
        return "seated"

    def plain(checkpoint: str, **options: Any) -> str:
        calls.append((checkpoint, options))
        return "plain"

    assert call_operator_factory(seated, "run", seat, {"device": "cpu"}) == "seated"
    assert call_operator_factory(plain, "run", seat, {"device": "cpu"}) == "plain"
    assert calls == [("run", seat, {"device": "cpu"}), ("run", {"device": "cpu"})]
