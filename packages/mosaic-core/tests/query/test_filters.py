"""Filters are parsed, never evaluated; they compare as a researcher expects."""

from __future__ import annotations

from typing import Any

import pytest

from mosaic_core import ConfigError
from mosaic_core.query.filters import parse_filter

ROW: dict[str, Any] = {
    "run_id": "r1", "status": "completed", "worker_type": "cleanrl", "algorithm": "ppo",
    "env_id": "CartPole-v1", "seed": 3, "group": "sweep-1", "step": 500,
    "config": {"learning_rate": 2.5e-4, "net": {"hidden": 64}, "anneal_lr": True},
    "summary": {"episodes": 12}, "metric": 412.5,
}  # fmt: skip


@pytest.mark.parametrize(
    ("text", "holds"),
    [
        ("config.learning_rate<1e-3", True),
        ("config.learning_rate>=1e-3", False),
        ("config.learning_rate == 0.00025", True),
        ("config.net.hidden=64", True),
        ("config.anneal_lr==true", True),
        ("config.anneal_lr==1", False),
        ("status==completed", True),
        ("status!=completed", False),
        ("env~Cart", True),
        ("worker==cleanrl", True),
        ("seed<=3", True),
        ("summary.episodes>10", True),
        ("metric>400", True),
        ("config.missing==null", True),
        ("config.missing<1", False),
        ("config.missing!=1", True),
        ("algorithm<ppz", True),
        ("seed<'3'", False),
        ("config.learning_rate==2.5e-4", True),
    ],
)
def test_a_filter_holds_where_the_run_has_that_value(text: str, holds: bool) -> None:
    assert parse_filter(text)(ROW) is holds


def test_a_value_is_never_evaluated() -> None:
    flt = parse_filter("config.x==__import__('os').system('echo pwned')")
    assert flt.value == "__import__('os').system('echo pwned')"
    assert flt({"config": {"x": 1}}) is False


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("learning_rate<1e-3", "not a field of a run"),
        ("config.lr", "expected FIELD OP VALUE"),
        ("config.lr<", "no value"),
        ("config.lr<<1", "two operators"),
        ("config.lr<[1]", "needs a number or a text"),
        ("", "expected FIELD OP VALUE"),
    ],
)
def test_a_bad_filter_is_a_config_error_that_says_what_was_wrong(text: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says) as caught:
        parse_filter(text)
    assert repr(text) in str(caught.value) or text.split("<")[0] in str(caught.value)
