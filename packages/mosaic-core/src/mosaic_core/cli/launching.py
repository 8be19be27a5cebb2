"""``mosaic run``'s choice of launcher: ``--launcher``, ``--address``, ``--resources``,
``--retries``, ``--launcher-option``, checked by the launcher before any run exists.
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

import attrs

from mosaic_core._errors import ConfigError, short_repr
from mosaic_core.runs.launcher_registry import discover_launchers
from mosaic_core.runs.launchers import LOCAL

__all__ = ["Choice", "add_arguments", "choose", "default_parallel", "parse_resources"]

_UNITS = {
    "": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
    "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}  # fmt: skip
_AMOUNT = re.compile(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*\Z")


@attrs.frozen(kw_only=True)
class Choice:
    """The launcher a run goes to, its checked options, and its retries."""

    launcher: str = LOCAL
    options: dict[str, Any] = attrs.field(factory=dict)
    retries: int = 0

    @property
    def local(self) -> bool:
        return self.launcher == LOCAL


def parse_resources(text: str) -> dict[str, float]:
    """``CPU=2,GPU=1,memory=4GB,node_a=1`` (or a JSON object) -> ``{"CPU": 2.0, ...}``.

    ``memory`` takes a unit (``512MB``, ``4GiB``); it is counted in bytes.
    """
    flag = "--resources"
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            given = json.loads(stripped)
        except ValueError:
            given = None
        if not isinstance(given, dict):
            raise ConfigError(
                f"{flag} {short_repr(text)}: not a JSON object; expected NAME=AMOUNT,... "
                "such as CPU=2,memory=4GB",
                field=flag,
                value=text,
            )
        pairs = [(str(k), str(v)) for k, v in given.items()]
    else:
        pairs = []
        for part in filter(None, (p.strip() for p in stripped.split(","))):
            name, sep, amount = part.partition("=")
            if not sep or not name.strip():
                raise ConfigError(
                    f"{flag} {short_repr(part)}: expected NAME=AMOUNT, such as CPU=2 or memory=4GB",
                    field=flag,
                    value=text,
                )
            pairs.append((name.strip(), amount))
    if not pairs:
        raise ConfigError(f"{flag}: expected at least one NAME=AMOUNT", field=flag, value=text)
    resources: dict[str, float] = {}
    for name, amount in pairs:
        match = _AMOUNT.match(amount)
        unit = match.group(2).lower() if match else ""
        if match is None or unit not in _UNITS or (unit and name != "memory"):
            raise ConfigError(
                f"{flag} {name}={short_repr(amount)}: expected a number >= 0"
                + (" with an optional unit (512MB, 4GiB)" if name == "memory" else ""),
                field=flag,
                value=text,
            )
        resources[name] = float(match.group(1)) * _UNITS[unit]
    return resources


def _resources(text: str) -> dict[str, float]:
    try:
        return parse_resources(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--resources ")) from None


def _retries(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def add_arguments(run: argparse.ArgumentParser) -> None:
    """Add the launcher's options to ``mosaic run``'s parser."""
    group = run.add_argument_group(
        "where the runs go", "a launcher other than the local one sends each run elsewhere"
    )
    group.add_argument(
        "--launcher",
        default=None,
        help="where the workers run: local (this machine, the default) or an installed "
        "launcher such as ray (`mosaic-ray-launcher`)",
    )
    group.add_argument(
        "--address", help="the cluster the launcher sends runs to (ray: else $RAY_ADDRESS)"
    )
    group.add_argument(
        "--resources",
        type=_resources,
        help="what each run reserves where it runs, e.g. CPU=2,GPU=1,memory=4GB,node_a=1 "
        "(default: the worker's declared cpu_cores, requires_gpu, estimated_memory_mb)",
    )
    group.add_argument(
        "--retries",
        type=_retries,
        default=0,
        help="start a run whose node was lost again, up to this many times (default 0)",
    )
    group.add_argument(
        "--launcher-option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an option of the launcher (VALUE parsed as JSON, else a string); "
        "`mosaic launchers` lists them",
    )


def choose(args: argparse.Namespace, capabilities: Any) -> Choice:
    """The launcher ``args`` name and its options, checked by it; a ConfigError (exit 2)
    before any run exists if it is not installed or refuses them."""
    name = args.launcher or LOCAL
    given: dict[str, Any] = {}
    if args.address is not None:
        given["address"] = args.address
    if args.resources is not None:
        given["resources"] = args.resources
    for item in args.launcher_option:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"--launcher-option {short_repr(item)}: expected NAME=VALUE",
                field="--launcher-option",
                value=item,
            )
        try:
            given[key.strip()] = json.loads(raw)
        except ValueError:
            given[key.strip()] = raw
    if name == LOCAL and not given and not args.retries:
        return Choice()
    spec = discover_launchers().get(name)
    if args.retries and name == LOCAL:
        raise ConfigError(
            f"--retries {args.retries}: the local launcher cannot lose its machine; retries "
            "are for a launcher that sends runs to nodes (e.g. --launcher ray)",
            field="--retries",
            value=args.retries,
        )
    known = {"address", "resources", *spec.options}
    for key in given:
        if key not in known and name != LOCAL:
            from mosaic_core._errors import did_you_mean

            raise ConfigError(
                f"--launcher-option {key}: launcher {name!r} has no such option"
                f"{did_you_mean(key, sorted(spec.options))}; it takes "
                f"{', '.join(sorted(spec.options)) or 'none'}",
                field="--launcher-option",
                value=key,
            )
    return Choice(launcher=name, options=spec.check(given, capabilities), retries=args.retries)


def default_parallel(args: argparse.Namespace, choice: Choice, runs: int) -> int:
    """``--parallel``: 2 on this machine by default; elsewhere every run at once, and the
    cluster's scheduler queues what does not fit (MOSAIC schedules nothing itself)."""
    if args.parallel is not None:
        return int(args.parallel)
    return 2 if choice.local else max(1, runs)
