"""``mosaic check WORKER``: the conformance kit from the shell.

Exit status: 0 when every selected check passed or was skipped, 1 when one
failed, 2 for a usage error (an unknown check id, a missing worker name).
``--json`` prints the report for machines; ``--junit-xml FILE`` writes it
as JUnit XML, which CI services show as test results.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

__all__ = ["register"]

_MARK = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}


def _select(values: list[str]) -> list[str] | None:
    names = [part.strip() for value in values for part in value.split(",") if part.strip()]
    return names or None


def _cmd_check(args: argparse.Namespace) -> int:
    from mosaic_core._errors import MosaicError
    from mosaic_core.conformance import Conformance, select_checks

    try:
        checks = select_checks(_select(args.k))
    except MosaicError as exc:
        print(f"mosaic check: error: {exc}", file=sys.stderr)
        return 2
    if args.list:
        width = max(len(c.id) for c in checks)
        for check in checks:
            print(f"{check.id.ljust(width)}  {check.summary.replace('``', '')}")
        return 0
    if not args.worker:
        print("mosaic check: error: name the worker to check, e.g. `mosaic check bandit`",
              file=sys.stderr)  # fmt: skip
        return 2
    options: dict[str, Any] = {"timeout": args.timeout}
    kit = Conformance(args.worker, **options)
    width = max(len(c.id) for c in checks)
    started = time.perf_counter()

    def show(result: Any) -> None:
        if args.json:
            return
        lines = result.message.splitlines() or [""]
        print(f"{_MARK[result.status]}  {result.id.ljust(width)}  {lines[0]}", flush=True)
        for line in lines[1:]:
            print(f"      {' ' * width}  {line}")

    if not args.json:
        from mosaic_core.__about__ import __version__

        plural = "s" if len(checks) != 1 else ""
        print(
            f"mosaic check {args.worker}: {len(checks)} check{plural} against mosaic-core "
            f"{__version__}",
            flush=True,
        )
        declared = kit.requirement()
        if declared:
            print(declared, flush=True)
    try:
        report = kit.run_all([c.id for c in checks], on_result=show)
    finally:
        if args.keep:
            print(f"kept the kit's runs in {kit.workdir}", file=sys.stderr)
        else:
            kit.close()
    seconds = time.perf_counter() - started
    if args.junit_xml:
        _write_junit(report, seconds, args.junit_xml)
    if args.json:
        print(json.dumps({**report.to_dict(), "seconds": round(seconds, 3)}, indent=2))
    else:
        counts = report.counts()
        parts = [f"{counts[k]} {k}" for k in ("passed", "failed", "skipped") if counts[k]]
        print(f"{', '.join(parts)} in {seconds:.2f}s")
    return 0 if report.ok else 1


def _write_junit(report: Any, seconds: float, path: str) -> None:
    """The report as JUnit XML: one testcase per check, a failure or skip with its message."""
    import xml.etree.ElementTree as ET

    counts = report.counts()
    suite = ET.Element(
        "testsuite",
        name=f"mosaic check {report.worker_type}",
        tests=str(len(report.results)),
        failures=str(counts["failed"]),
        skipped=str(counts["skipped"]),
        errors="0",
        time=f"{seconds:.3f}",
    )
    properties = ET.SubElement(suite, "properties")
    for name in ("mosaic_core_version", "requirement"):
        ET.SubElement(properties, "property", name=name, value=getattr(report, name))
    for result in report.results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"mosaic.check.{report.worker_type}",
            name=result.id,
            time=f"{result.seconds:.3f}",
        )
        first = (result.message.splitlines() or [""])[0]
        if result.status == "failed":
            ET.SubElement(case, "failure", message=first).text = result.message
        elif result.status == "skipped":
            ET.SubElement(case, "skipped", message=first)
        else:
            ET.SubElement(case, "system-out").text = result.message
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def register(commands: Any) -> None:
    """Add ``mosaic check`` to the ``mosaic`` parser's sub-commands."""

    check = commands.add_parser(
        "check",
        help="run the conformance kit against an installed worker",
        description="Run every conformance check (or those named with -k) against the "
        "installed worker WORKER. Exit status: 0 all passed or skipped, 1 a check failed, "
        "2 usage error.",
    )
    check.add_argument("worker", nargs="?", help="worker type, e.g. bandit (see `mosaic workers`)")
    check.add_argument(
        "-k",
        action="append",
        default=[],
        metavar="CHECK",
        help="run only this check (repeat, or separate ids with commas); see --list",
    )
    check.add_argument("--json", action="store_true", help="print one JSON report at the end")
    check.add_argument(
        "--junit-xml", metavar="FILE", help="also write the report as JUnit XML, for CI services"
    )
    check.add_argument("--list", action="store_true", help="list the checks and exit")
    check.add_argument(
        "--timeout", type=float, default=120.0, help="limit for each run, in seconds (120)"
    )
    check.add_argument(
        "--keep", action="store_true", help="keep the directory of the kit's runs and say where"
    )
    check.set_defaults(func=_cmd_check)
