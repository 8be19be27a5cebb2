"""Environment families for tools and front ends: list them, describe a task, preview a frame.

The families themselves come from plugins (``mosaic.env_families`` entry
points, loaded by :func:`~mosaic_core.plugins.discover_env_families`); this
package answers what a front end asks of them. Every answer is JSON-ready:
:func:`describe_task` makes the task's environment once and reports its
agents, their spaces, the key map and the settings; :func:`preview` returns
its first frame (an RGB array, or text for text games), which
:func:`png_bytes` encodes without any imaging library.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping
from typing import Any

import attrs

from mosaic_core._family_registry import EnvFamilies, env_families, seats

__all__ = ["Preview", "describe_task", "png_bytes", "preview"]


def _space(space: Any) -> dict[str, Any]:
    from mosaic_core._spaces import describe_space

    try:
        described: dict[str, Any] = describe_space(space)
        return described
    except ValueError:  # Text, MissionSpace, Graph ...: named, not rebuilt
        return {"type": type(space).__name__, "text": str(space)}
    except Exception:  # noqa: BLE001 - a nested space describe_space cannot read
        return {"type": type(space).__name__, "text": str(space)}


def _open(task_id: str, settings: Mapping[str, Any] | None, families: EnvFamilies | None) -> Any:
    from mosaic_core._arena import make_arena

    found = (families or env_families()).task(task_id)
    family, task = found
    values = family.check_settings(settings, task)
    env = family.make(task, render_mode=task.render, settings=values)
    return family, task, values, make_arena(env, task.id)


def describe_task(
    task_id: str,
    *,
    settings: Mapping[str, Any] | None = None,
    families: EnvFamilies | None = None,
) -> dict[str, Any]:
    """Everything about one task, read from its environment: agents, spaces, keys, settings.

    Raises :class:`~mosaic_core.ConfigError` for an unknown task or setting,
    and :class:`~mosaic_core.PluginError` when the family's declaration does
    not match the environment it makes.
    """
    family, task, values, arena = _open(task_id, settings, families)
    try:
        agents = seats(arena, task)
        detail = []
        for agent in agents:
            action_space = arena.action_space(agent)
            detail.append(
                {
                    "id": agent,
                    "action_space": _space(action_space),
                    "observation_space": _space(arena.observation_space(agent)),
                    "keys": bool(task.key_map is not None and task.key_map.fits(action_space)),
                }
            )
        out: dict[str, Any] = task.to_dict()
        out.update(
            family_display_name=family.display_name,
            parallel_only=family.parallel_only,
            settings=[
                {**s.to_dict(), "value": values[s.name]}
                for s in family.settings
                if s.name in values
            ],
            seats=detail,
            action_meanings=list(arena.action_meanings()) if not task.agents else [],
        )
        return out
    finally:
        arena.close()


@attrs.frozen
class Preview:
    """The first frame of a task: ``rgb`` (height x width x 3 array) or ``text``."""

    task: str
    seed: int | None
    rgb: Any = None
    text: str | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        shape: tuple[int, ...] = (
            tuple(int(n) for n in self.rgb.shape) if self.rgb is not None else ()
        )
        return shape


def preview(
    task_id: str,
    *,
    seed: int | None = None,
    settings: Mapping[str, Any] | None = None,
    families: EnvFamilies | None = None,
) -> Preview:
    """Reset the task's environment with ``seed`` and render its first frame."""
    from mosaic_core._errors import PluginError

    family, task, _, arena = _open(task_id, settings, families)
    try:
        arena.reset(seed)
        frame = arena.render()
    finally:
        arena.close()
    where = f"task {task.id!r} of family {family.name!r}"
    if task.render == "ansi":
        if not isinstance(frame, str):
            raise PluginError(f"{where} renders {type(frame).__name__}; expected text (ansi)")
        return Preview(task.id, seed, text=frame)
    shape: tuple[int, ...] = tuple(getattr(frame, "shape", ()))
    if len(shape) != 3 or shape[2] not in (3, 4) or str(getattr(frame, "dtype", "")) != "uint8":
        raise PluginError(
            f"{where} rendered {type(frame).__name__} {shape or ''}; expected an RGB array "
            "(height x width x 3, uint8)"
        )
    return Preview(task.id, seed, rgb=frame[:, :, :3])


def png_bytes(rgb: Any) -> bytes:
    """An RGB array (height x width x 3, uint8) as a PNG file."""
    height, width = int(rgb.shape[0]), int(rgb.shape[1])
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(height))  # filter 0 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )
