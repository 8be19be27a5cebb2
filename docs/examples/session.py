"""Run the shell sessions the docs show, and check that their output is still what is shown.

A session is a ``.. code-block:: console`` block preceded by a comment line
``.. mosaic-session: NAME`` (``NAME loose`` when numbers may differ from run
to run, as a real training run's do). Every ``$ command`` line in the
page's blocks of one session runs in order in one fresh ``MOSAIC_HOME`` and
working directory; what follows a command in the block is its output
(standard output, and standard error when the command fails).

``--write`` runs them and puts the real output into the page, with the
pictures the commands drew copied to ``docs/pictures/NAME/``; ``--check``
(the docs CI) runs them and fails if any output differs from the page once
what changes from run to run is masked: run ids, times, durations, the
interpreter's path, and in a loose session every number. Run ids in a
command are those the page's earlier output printed, mapped to the ids of
this run.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile

DOCS = pathlib.Path(__file__).resolve().parent.parent
MARK = re.compile(r"^\.\. mosaic-session: (?P<name>[\w-]+)(?P<loose> loose)?\s*$")
ULID = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{26}\b")
VOLATILE = [
    (re.compile(r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\b"), "<date>"),
    (re.compile(r"\b\d{8}-\d{6}\b"), "<stamp>"),
    (re.compile(r"\b\d+(\.\d+)? s\b"), "<t> s"),
    (re.compile(r"(?<=  )\d+[smhd](?=\s|$)"), "<age>"),
    (re.compile(r"\d:\d\d elapsed"), "<t> elapsed"),
    (re.compile(r"\b(host|platform) = .*"), r"\1 = <host>"),
    (re.compile(r"\bpython = .*"), "python = <python>"),
    (re.compile(r"\bpython: .*"), "python: <python>"),
    (re.compile(r"\bgit = \S+"), "git = <commit>"),
    (re.compile(r"\bpackages = \d+"), "packages = <n>"),
    (re.compile(r"\b\d{10}\.\d+\b"), "<time>"),
    (re.compile(r"\bpid: \d+"), "pid: <pid>"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<mlflow-run>"),
]
NUMBER = re.compile(r"-?\b\d+(,\d{3})*(\.\d+)?(e-?\d+)?\b")  # 1,234 is one number


class Block:
    def __init__(self, session: str, loose: bool, start: int, end: int, indent: str) -> None:
        self.session, self.loose, self.start, self.end, self.indent = (
            session, loose, start, end, indent)  # fmt: skip
        self.steps: list[tuple[str, list[str]]] = []


def parse(lines: list[str]) -> list[Block]:
    blocks = []
    i = 0
    while i < len(lines):
        mark = MARK.match(lines[i])
        if not mark:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        if not lines[j].startswith(".. code-block:: console"):
            raise SystemExit(f"line {i + 1}: a mosaic-session mark must precede a console block")
        j += 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        start = j
        indent = re.match(r"\s*", lines[j]).group(0)  # type: ignore[union-attr]
        while j < len(lines) and (not lines[j].strip() or lines[j].startswith(indent)):
            j += 1
        end = j
        while end > start and not lines[end - 1].strip():
            end -= 1
        block = Block(mark["name"], bool(mark["loose"]), start, end, indent)
        for line in lines[start:end]:
            text = line[len(indent) :] if line.strip() else ""
            if text.startswith("$ "):
                block.steps.append((text[2:], []))
            elif block.steps:
                block.steps[-1][1].append(text)
        blocks.append(block)
        i = end
    return blocks


class Masker:
    """Replaces run ids by their order of appearance, and what changes between runs."""

    def __init__(self, loose: bool) -> None:
        self.ids: dict[str, str] = {}
        self.loose = loose

    def learn(self, text: str) -> None:
        for run_id in ULID.findall(text):
            self.ids.setdefault(run_id, f"<run{len(self.ids) + 1}>")

    def __call__(self, text: str) -> str:
        self.learn(text)
        for run_id, name in self.ids.items():
            text = text.replace(run_id, name).replace(run_id[-8:], name)
        for pattern, replacement in VOLATILE:
            text = pattern.sub(replacement, text)
        if self.loose:
            text = NUMBER.sub("<n>", text)
        return " ".join(text.split())


PLACEHOLDER = re.compile(r"<run(\d+)>")


def run_session(
    name: str, blocks: list[Block], pictures: pathlib.Path | None
) -> list[tuple[str, str]]:
    """Run every step; returns each step's command (with this run's ids) and output.

    A command may name a run as ``<runK>``: the K-th run id the session printed.
    """
    root = pathlib.Path(tempfile.mkdtemp(prefix=f"mosaic-session-{name}-"))
    home, work = root / "home", root / "work"
    work.mkdir(parents=True)
    env = dict(os.environ, MOSAIC_HOME=str(home), COLUMNS="100", NO_COLOR="1", TERM="dumb")
    env.pop("MOSAIC_DEBUG", None)
    doc_ids: dict[str, str] = {}  # the page's run ids -> this run's
    doc_order: list[str] = []
    new_order: list[str] = []
    outputs = []
    try:
        for block in blocks:
            for command, expected in block.steps:
                for run_id in ULID.findall("\n".join(expected)):
                    if run_id not in doc_order:
                        doc_order.append(run_id)
                for old, new in doc_ids.items():
                    command = command.replace(old, new)
                command = PLACEHOLDER.sub(lambda m: new_order[int(m[1]) - 1], command)
                argv = shlex.split(command)
                done = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True,
                                      timeout=1800)  # fmt: skip
                text = done.stdout + (done.stderr if done.returncode else "")
                text = text.replace(str(home), "~/.mosaic").replace(str(work), ".")
                text = text.replace(sys.prefix, ".venv").replace(socket.gethostname(), "myhost")
                for run_id in ULID.findall(text):
                    if run_id not in new_order:
                        new_order.append(run_id)
                for old, new in zip(doc_order, new_order, strict=False):
                    doc_ids[old] = new
                print(f"$ {shlex.join(argv)}  (exit {done.returncode})", file=sys.stderr)
                outputs.append((command, text))
        if pictures is not None:
            for picture in sorted(work.glob("*.png")) + sorted(work.glob("*.svg")):
                pictures.mkdir(parents=True, exist_ok=True)
                shutil.copy(picture, pictures / picture.name)
        else:
            for picture in list(work.glob("*.png")):
                if picture.stat().st_size < 1000:
                    raise SystemExit(f"{picture.name}: the picture is empty")
        return outputs
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="+", type=pathlib.Path, help="the .rst pages to run")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="put the real output into the pages")
    mode.add_argument("--check", action="store_true", help="fail if an output differs")
    parser.add_argument(
        "--session", action="append", metavar="NAME", help="only these sessions (default: all)"
    )
    args = parser.parse_args()
    failures = []
    for page in args.pages:
        lines = page.read_text(encoding="utf-8").split("\n")
        blocks = parse(lines)
        sessions: dict[str, list[Block]] = {}
        for block in blocks:
            sessions.setdefault(block.session, []).append(block)
        for name, members in sessions.items():
            if args.session and name not in args.session:
                continue
            pictures = DOCS / "pictures" / name if args.write else None
            outputs = iter(run_session(name, members, pictures))
            masker_doc, masker_new = Masker(members[0].loose), Masker(members[0].loose)
            for block in members:
                for index, (_, expected) in enumerate(block.steps):
                    command, text = next(outputs)
                    got = text.rstrip("\n").split("\n") if text.strip() else []
                    block.steps[index] = (command, got)
                    want = masker_doc("\n".join(expected))
                    have = masker_new("\n".join(got))
                    if args.check and want != have:
                        failures.append(f"{page.name} [{name}] $ {command}\n  page: {want}\n"
                                        f"  now:  {have}")  # fmt: skip
        if args.write:
            for block in sorted(blocks, key=lambda b: -b.start):
                body = []
                for command, got in block.steps:
                    body.append(f"{block.indent}$ {command}")
                    body += [f"{block.indent}{line}".rstrip() for line in got]
                    body.append("")
                lines[block.start : block.end] = body[:-1]
            page.write_text("\n".join(lines), encoding="utf-8")
            print(f"wrote {page}")
    for failure in failures:
        print(failure, file=sys.stderr)
    if failures:
        print(f"{len(failures)} command(s) print something else than the docs show: run "
              "docs/examples/session.py --write on the page and look at the difference",
              file=sys.stderr)  # fmt: skip
        return 1
    if args.check:
        print("every session prints what the docs show")
    return 0


if __name__ == "__main__":
    sys.exit(main())
