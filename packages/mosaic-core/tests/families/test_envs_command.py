"""``mosaic envs``, ``mosaic eval`` and the built-in operators with installed families."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from mosaic_core import KeyMap, ProtocolError
from mosaic_core.families import png_bytes
from mosaic_core.operators import HumanOperator, OperatorContext, RandomOperator


def mosaic(*args: str, site: Path | None, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOSAIC_")}
    env.update(MOSAIC_HOME=str(home), PYTHONWARNINGS="ignore")
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "mosaic_core", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def read_png(data: bytes) -> np.ndarray:
    """Decode the 8-bit RGB PNGs ``png_bytes`` writes (filter 0), independently of it."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body), kind
        chunks[kind] = chunks.get(kind, b"") + body
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (8, 2)
    rows = zlib.decompress(chunks[b"IDAT"])
    stride = 1 + 3 * width
    assert all(rows[y * stride] == 0 for y in range(height))
    pixels = b"".join(rows[y * stride + 1 : (y + 1) * stride] for y in range(height))
    return np.frombuffer(pixels, dtype=np.uint8).reshape(height, width, 3)


def test_png_bytes_round_trips_every_pixel() -> None:
    frame = np.random.default_rng(0).integers(0, 256, size=(7, 5, 3), dtype=np.uint8)
    assert np.array_equal(read_png(png_bytes(frame)), frame)


def test_envs_lists_installed_missing_and_broken_families(
    family_dist: Path, tmp_path: Path
) -> None:
    done = mosaic("envs", site=family_dist, home=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines()[1:] if line.strip()}
    assert rows["fixture"].split()[-1] == "installed"
    assert rows["fixture"].split()[3:5] == ["4", "1-2"]
    assert "aec, parallel, single" in rows["fixture"]
    assert rows["absent"].endswith("pip install 'absent-family[extra]'")
    assert "broken: RuntimeError: this family cannot start" in rows["crashing"]
    listing = json.loads(mosaic("envs", "--json", site=family_dist, home=tmp_path).stdout)
    families = {f["name"]: f for f in listing["families"]}
    assert families["absent"]["tasks"] is None and families["absent"]["installed"] is False
    paint = families["fixture"]["tasks"][0]
    assert paint["key_map"]["keys"]["ArrowLeft"] == 0 and paint["settings"] is None
    assert [b["worker_type"] for b in listing["broken"]] == ["crashing"]


def test_envs_without_any_family_says_how_to_get_them(tmp_path: Path) -> None:
    done = mosaic("envs", site=None, home=tmp_path)
    assert done.returncode == 0, done.stderr
    if "No environment families are installed." in done.stdout:  # mosaic-envs is not here
        assert "pip install 'mosaic-envs[all]'" in done.stdout


def test_envs_family_lists_its_tasks(family_dist: Path, tmp_path: Path) -> None:
    done = mosaic("envs", "fixture", site=family_dist, home=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines() if line.strip()}
    assert rows["Rps-v0"][1:] == ["2", "parallel", "yes", "-"]
    assert rows["Ttt-v0"][1:] == ["2", "aec", "-", "yes"]
    assert "setting shade = 7: blue of the frame" in done.stdout
    absent = mosaic("envs", "absent", site=family_dist, home=tmp_path)
    assert "not installed here (missing no_such_module_anywhere)" in absent.stdout


def test_envs_show_reads_the_environment(family_dist: Path, tmp_path: Path) -> None:
    done = mosaic("envs", "show", "Rps-v0", "--json", site=family_dist, home=tmp_path)
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert [s["id"] for s in info["seats"]] == ["player_0", "player_1"]
    assert info["seats"][0]["action_space"]["n"] == 3 and info["seats"][0]["keys"] is True
    assert info["settings"] == []  # Rps takes none of the family's settings
    text = mosaic("envs", "show", "Paint-v0", "--setting", "shade=3", site=family_dist,
                  home=tmp_path).stdout  # fmt: skip
    assert "actions:      Discrete(4)" in text and "ArrowLeft  0 left" in text
    assert "shade = 3 (default 7): blue of the frame" in text


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["show", "Paint-v9"], 2, "did you mean 'Paint-v0'"),
        (["show", "Paint-v0", "--setting", "shad=1"], 2, "did you mean 'shade'"),
        (["show", "Paint-v0", "--setting", "shade"], 2, "expected NAME=VALUE"),
        (["show", "Rps-v0", "--setting", "shade=1"], 2, "a setting of task 'Rps-v0': it has none"),
        (["show", "WrongAgents-v0"], 1, "declares agents ['alice', 'bob']"),
        (["show", "Absent-v0"], 2, "a task of an installed environment family"),
        (["preview"], 2, "usage: mosaic envs preview TASK"),
        (["fixture", "extra"], 2, "too many arguments"),
        (["nofamily"], 1, "no environment family 'nofamily'"),
    ],
)
def test_envs_errors_are_one_line_with_a_status(
    family_dist: Path, tmp_path: Path, args: list[str], status: int, message: str
) -> None:
    done = mosaic("envs", *args, site=family_dist, home=tmp_path)
    assert done.returncode == status, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_preview_writes_the_frame_after_a_seeded_reset(family_dist: Path, tmp_path: Path) -> None:
    out = tmp_path / "paint.png"
    done = mosaic("envs", "preview", "Paint-v0", "--seed", "42", "--setting", "width=9", "-o",
                  str(out), site=family_dist, home=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"{out}: 9x4 PNG, seed 42" in done.stderr
    frame = read_png(out.read_bytes())
    assert frame.shape == (4, 9, 3)
    assert tuple(frame[0, 0]) == (255, 255, 255) and tuple(frame[3, 8]) == (42, 0, 7)


def test_a_text_task_previews_as_text(family_dist: Path, tmp_path: Path) -> None:
    done = mosaic("envs", "preview", "Words-v0", site=family_dist, home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "turn 0\n"


def test_eval_seats_the_family_agents_and_plays_only_legal_moves(
    family_dist: Path, tmp_path: Path
) -> None:
    done = mosaic("eval", "--env", "Ttt-v0", "--operator", "random", "--episodes", "12",
                  "--json", site=family_dist, home=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    (report,) = json.loads(done.stdout)["operators"]
    assert report["invalid_actions"] == 0
    assert set(report["returns_by_agent"]) == {"player_1", "player_2"}
    assert all(e["length"] <= 9 for e in report["episode_results"])
    words = mosaic("eval", "--env", "Words-v0", "--operator", "random", "--episodes", "3",
                   "--json", site=family_dist, home=tmp_path)  # fmt: skip
    assert words.returncode == 0, words.stderr
    (played,) = json.loads(words.stdout)["operators"]
    assert played["invalid_actions"] == 0 and played["episodes"] == 3


def test_eval_seats_a_fixed_operator_on_one_agent_for_every_contender(
    family_dist: Path, tmp_path: Path
) -> None:
    done = mosaic("eval", "--env", "Ttt-v0", "--operator", "random", "--operator", "random",
                  "--seat", "player_2=random", "--episodes", "3", "--json", site=family_dist,
                  home=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    reports = json.loads(done.stdout)["operators"]
    assert [r["seats"] for r in reports] == [{"player_2": "random"}] * 2
    assert all(r["episodes"] == 3 and r["invalid_actions"] == 0 for r in reports)
    table = mosaic("eval", "--env", "Ttt-v0", "--operator", "random", "--parallel",
                   "--seat", "player_1=random", "--episodes", "2", site=family_dist,
                   home=tmp_path)  # fmt: skip
    assert table.returncode == 0, table.stderr
    assert "seated for every operator: player_1=random" in table.stdout


@pytest.mark.parametrize(
    ("seats", "message"),
    [
        (["player_3=random"], "Ttt-v0 has no agent 'player_3'; its agents: player_1, player_2"),
        (["player_1=random", "player_2=random"], "seats every agent of Ttt-v0"),
        (["player_1"], "expected AGENT=SPEC"),
    ],
)
def test_eval_refuses_seats_that_do_not_fit(
    family_dist: Path, tmp_path: Path, seats: list[str], message: str
) -> None:
    flags = [part for seat in seats for part in ("--seat", seat)]
    done = mosaic("eval", "--env", "Ttt-v0", "--operator", "random", "--episodes", "1", *flags,
                  site=family_dist, home=tmp_path)  # fmt: skip
    assert done.returncode == 2, done.stderr  # refused before anything runs
    assert message in done.stderr and "Traceback" not in done.stderr


def test_eval_refuses_a_family_whose_agents_are_wrong(family_dist: Path, tmp_path: Path) -> None:
    done = mosaic("eval", "--env", "WrongAgents-v0", "--operator", "random", "--episodes", "1",
                  site=family_dist, home=tmp_path)  # fmt: skip
    assert done.returncode == 1
    assert "declares agents ['alice', 'bob']" in done.stdout + done.stderr


# -- the operators ---------------------------------------------------------------------

KEYS = KeyMap(
    {"ArrowLeft": 0, "ArrowRight": 1, "ArrowUp": 2, "Space": 3, "Enter": 4, "PageUp": 5, "q": 6},
    labels=("left", "right", "up", "wait", "done", "pick", "quit"),
)


def person(typed: str, space: Any = None, keys: KeyMap | None = KEYS) -> tuple[Any, io.StringIO]:
    out = io.StringIO()
    context = OperatorContext(action_space=space or gym.spaces.Discrete(7), key_map=keys)
    return HumanOperator(context, input=io.StringIO(typed), output=out), out


def test_a_human_presses_the_familys_keys_at_a_terminal() -> None:
    typed = "\x1b[D\n\x1b[C\n\x1bOA\n \n\n\x1b[5~\nQ\narrowup\n3\nwait\n"
    human, out = person(typed)
    actions = [human.select_action(0, {}) for _ in range(10)]
    assert actions == [0, 1, 2, 3, 4, 5, 6, 2, 3, 3]  # a number and a label work too
    assert "key [ArrowLeft=left ArrowRight=right ArrowUp=up" in out.getvalue()


def test_a_human_cannot_press_a_key_for_an_illegal_action() -> None:
    human, out = person("\x1b[D\nx\n\x1b[C\n")
    mask = np.array([0, 1, 1, 1, 1, 1, 1], dtype=np.int8)
    assert human.select_action(0, {"action_mask": mask}) == 1
    assert "0 (left) is not a legal action now" in out.getvalue()
    assert "'x' is not a key, an action number or a name" in out.getvalue()
    assert "ArrowLeft=left" not in out.getvalue().splitlines()[0]  # illegal keys not offered


def test_a_human_types_text_commands_and_sees_the_legal_ones() -> None:
    space = gym.spaces.Text(20)
    human, out = person("1\nopen the door\n", space=space, keys=None)
    info = {"legal_actions": ["go north", "go south"]}
    assert human.select_action("You are in a hall.", info) == "go south"
    assert human.select_action("A door.", info) == "open the door"
    assert "You are in a hall.\n  0: go north\n  1: go south\n" in out.getvalue()
    with pytest.raises(ProtocolError, match="end of input"):
        human.select_action("x", info)


def test_the_random_operator_picks_only_listed_legal_actions_reproducibly() -> None:
    context = OperatorContext(action_space=gym.spaces.Text(20), agent="hero")
    legal = {"legal_actions": ["a", "b", "c"]}

    def play(seed: int) -> list[str]:
        operator = RandomOperator(context)
        operator.reset(seed)
        return [operator.select_action("obs", legal) for _ in range(30)]

    assert play(1) == play(1) and set(play(1)) == {"a", "b", "c"}


def test_a_seat_gets_the_key_map_only_where_its_actions_fit() -> None:
    class Seats:
        def action_space(self, agent: Any) -> Any:
            return gym.spaces.Discrete(3 if agent == "small" else 7)

        def observation_space(self, agent: Any) -> Any:
            return gym.spaces.Discrete(2)

        def action_meanings(self) -> tuple[str, ...]:
            return ()

    from mosaic_core import EnvTask

    task = EnvTask(id="T", agents=("small", "big"), stepping="parallel", key_map=KEYS)
    assert OperatorContext.for_seat(Seats(), "small", "T", task).key_map is None
    big = OperatorContext.for_seat(Seats(), "big", "T", task)
    assert big.key_map is KEYS and big.action_meanings == KEYS.labels


def test_on_a_terminal_a_key_acts_the_moment_it_is_pressed() -> None:
    import termios
    import tty

    master, slave = os.openpty()
    canonical = termios.tcgetattr(slave)
    # Keys typed before the prompt would sit in the line buffer of a canonical terminal:
    # the test types them in the mode the operator reads them in (as a person, after it).
    tty.setcbreak(slave)
    with open(slave, encoding="utf-8") as terminal:
        out = io.StringIO()
        context = OperatorContext(action_space=gym.spaces.Discrete(7), key_map=KEYS)
        human = HumanOperator(context, input=terminal, output=out)
        os.write(master, b"\x1b[D")  # the left arrow, and no Enter
        assert human.select_action(0, {}) == 0
        os.write(master, b"x \x1bOA")  # x is no key here; then Space; the up arrow waits
        assert human.select_action(0, {}) == 3
        assert human.select_action(0, {}) == 2
        assert "x does nothing here" in out.getvalue() and "ArrowLeft\n" in out.getvalue()
        termios.tcsetattr(slave, termios.TCSANOW, canonical)
        line_mode = HumanOperator(context, input=terminal, output=out, keys_at_once=False)
        os.write(master, b"q\n")
        assert line_mode.select_action(0, {}) == 6
    os.close(master)


def test_a_key_named_r_is_the_key_not_a_random_action() -> None:
    keys = KeyMap({"r": 5, "ArrowUp": 2}, labels=("a", "b", "c", "d", "e", "place stone"))
    human, _ = person("r\nrandom\n", keys=keys)
    assert human.select_action(0, {}) == 5
    assert human.select_action(0, {"action_mask": np.eye(7, dtype=np.int8)[4]}) == 4
