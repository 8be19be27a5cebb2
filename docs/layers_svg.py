"""Draw docs/layers.svg, the layers of mosaic-core, from .importlinter and the package itself.

``python docs/layers_svg.py`` rewrites the picture; ``--check`` fails when the
committed picture is not what the contracts and the package say now (the docs
tox env runs it), and when a module has no place in it.
"""

from __future__ import annotations

import configparser
import pathlib
import sys
from xml.sax.saxutils import escape

DOCS = pathlib.Path(__file__).resolve().parent
REPO = DOCS.parent
SVG = DOCS / "layers.svg"
sys.path.insert(0, str(REPO / "packages" / "mosaic-core" / "src"))

#: What each worker package wraps (a package not named here is drawn without a line).
WRAPS = {
    "mosaic_cleanrl": "CleanRL",
    "mosaic_xuance": "XuanCe",
    "mosaic_ray": "Ray RLlib",
    "mosaic_llm": "LLM agents",
    "mosaic_bandit": "the docs' example",
    "mosaic_envs": "environment families",
}
#: The job of each part of the host and of the kit.
JOBS = {
    "mosaic_core.runs": "supervisor, run store, launch, telemetry reader",
    "mosaic_core.operators": "specs, built-ins, client, mosaic eval, operator_main",
    "mosaic_core.plugins": "discovery: which workers and families are installed",
    "mosaic_core.families": "envs: describe a task, preview a frame",
    "mosaic_core.venvs": "a virtual environment per worker",
    "mosaic_core.migrate": "mosaic migrate: a 1.0-guide worker into a plugin",
    "mosaic_core.query": "run table, curves, comparisons, group statistics",
    "mosaic_core.interop": "runs into TensorBoard and MLflow",
    "mosaic_core.operator_main": "python -m mosaic_core.operator_main",
    "mosaic_core.conformance": "the checks: mosaic check, pytest plugin",
    "mosaic_core.testing": "the mosaic command, for a worker's tests",
}
KIT = ("mosaic_core.conformance", "mosaic_core.testing")
#: The SDK's private modules by what they are for; every one must have a place.
SDK_GROUPS = {
    "configs": ("_config", "_fields", "_schema", "_secrets"),
    "plugins and errors": ("_spec", "_metadata", "_hooks", "_protocols", "_discovery", "_errors"),
    "one run": (
        "worker_main",
        "_worker",
        "_context",
        "_telemetry",
        "_payload",
        "_channel",
        "_window",
        "_manifest",
        "_procs",
        "_ulid",
    ),
    "operators, in worker processes": (
        "_operator",
        "_serve",
        "_server",
        "_session",
        "_solo",
        "_jsonable",
        "_arena",
        "_fastlane",
        "_fastlane_gym",
    ),
    "environments": ("_envspec", "_spaces", "_families", "_family_registry"),
    "plumbing": ("_lazy", "_moved", "_gc"),
}

FONT = "font-family:DejaVu Sans,Helvetica,Arial,sans-serif"
GREEN, RED, GREY = "#1e7e34", "#c5221f", "#5f6368"


def contracts() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(REPO / ".importlinter", encoding="utf-8")
    return parser


def listed(parser: configparser.ConfigParser, contract: str, option: str) -> list[str]:
    return parser[f"importlinter:contract:{contract}"][option].split()


def text(x: float, y: float, *parts: str, size: int = 12, **style: str) -> str:
    """One line of text; the parts in `backquotes` are set in a monospace font."""
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in style.items())
    spans = "".join(
        f'<tspan font-family="monospace">{escape(p[1:-1])}</tspan>'
        if p.startswith("`")
        else escape(p)
        for p in parts
    )
    return f'<text x="{x:g}" y="{y:g}" font-size="{size}"{extra}>{spans}</text>'


def box(x: float, y: float, w: float, h: float, fill: str, stroke: str = GREY) -> str:
    return (
        f'<rect x="{x:g}" y="{y:g}" width="{w:g}" height="{h:g}" rx="8" fill="{fill}" '
        f'stroke="{stroke}"/>'
    )


def arrow(x1: float, y1: float, x2: float, y2: float, colour: str, dashed: bool = False) -> str:
    dash = ' stroke-dasharray="6 4"' if dashed else ""
    marker = "never" if colour == RED else "may"  # the arrowhead in the same colour
    return (
        f'<line x1="{x1:g}" y1="{y1:g}" x2="{x2:g}" y2="{y2:g}" stroke="{colour}" '
        f'stroke-width="2"{dash} marker-end="url(#{marker})"/>'
    )


HEADER = f"""<svg xmlns="http://www.w3.org/2000/svg" width="1000" height="700" \
viewBox="0 0 1000 700" style="{FONT}">
<title>The layers of MOSAIC: workers; the host and the kit; the SDK</title>
<defs>
<marker id="may" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" \
orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{GREEN}"/></marker>
<marker id="never" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" \
orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{RED}"/></marker>
</defs>
<rect width="1000" height="700" fill="white"/>"""

BOLD = {"font_weight": "bold"}
DIM = {"fill": GREY}


def draw_workers(workers: list[str]) -> list[str]:
    out = [box(20, 20, 960, 110, "#e8f0fe"), text(36, 44, "Workers", size=15, **BOLD)]
    out.append(
        text(
            120,
            44,
            "one distribution and one process each; their source imports only ",
            "`mosaic_core`",
            " (its ",
            "`__all__`",
            "); their tests may use the kit",
        )
    )
    width = (960 - 16 * (len(workers) + 1)) / len(workers)
    for i, name in enumerate(workers):
        x = 36 + i * (width + 16)
        out += [box(x, 58, width, 56, "white"), text(x + 10, 80, f"`{name}`", size=13)]
        out.append(text(x + 10, 100, WRAPS.get(name, ""), size=11, **DIM))
    return out


def draw_host_and_kit(host: list[str], commands: list[str]) -> list[str]:
    out = [box(20, 190, 640, 230, "#fef3e2"), text(36, 214, "The host", size=15, **BOLD)]
    out.append(text(120, 214, "runs workers: the mosaic command, runs, operators, discovery"))
    out += [box(36, 228, 608, 58, "white"), text(46, 249, "`mosaic_core.cli`", size=13)]
    out.append(
        text(46, 265, "one module per command group, none importing another:", size=10, **DIM)
    )
    out.append(text(46, 279, ", ".join(commands), size=10, **DIM))
    for i, name in enumerate(host):  # two columns of four rows fit the host's box
        x, y = 36 + (i % 2) * 312, 292 + (i // 2) * 31
        out += [box(x, y, 296, 29, "white"), text(x + 10, y + 13, f"`{name}`")]
        out.append(text(x + 10, y + 25, JOBS.get(name, ""), size=10, **DIM))
    if len(host) > 8:
        raise SystemExit(f"layers_svg.py: {len(host)} host packages; the box holds 8")
    out += [box(700, 190, 280, 230, "#f3e8fd"), text(716, 214, "The kit", size=15, **BOLD)]
    out.append(text(782, 214, "for worker test suites"))
    for i, name in enumerate(KIT):
        y = 236 + i * 56
        out += [box(716, y, 248, 46, "white"), text(726, y + 19, f"`{name}`")]
        out.append(text(726, y + 36, JOBS[name], size=10, **DIM))
    out.append(text(716, 360, "it runs workers through the host,", size=11, **DIM))
    out.append(text(716, 376, "and mosaic check runs it", size=11, **DIM))
    return out


def draw_sdk(public_names: int) -> list[str]:
    out = [box(20, 480, 960, 200, "#e6f4ea"), text(36, 504, "The SDK", size=15, **BOLD)]
    out.append(
        text(
            112,
            504,
            "`mosaic_core`",
            f": {public_names} public names (",
            "`__all__`",
            "), implemented by private modules that only mosaic_core imports;",
        )
    )
    out.append(
        text(
            112,
            520,
            "it runs inside every worker process (",
            "`python -m mosaic_core.worker_main`",
            ", serve_main)",
        )
    )
    x = 36.0
    for title, modules in SDK_GROUPS.items():
        column_width = 12 + 6.8 * max(len(m) for m in modules)
        columns = (len(modules) + 4) // 5
        w = max(16 + 7 * len(title), 8 + columns * column_width)
        out += [box(x, 534, w, 130, "white"), text(x + 8, 552, title, size=11, **BOLD)]
        for j, module in enumerate(modules):
            column, row = divmod(j, 5)
            out.append(text(x + 8 + column * column_width, 572 + row * 18, f"`{module}`", size=11))
        x += w + 10
    if x > 990:
        raise SystemExit(f"layers_svg.py: the SDK's groups are {x - 36:.0f} px wide; at most 944")
    return out


def draw_rules() -> list[str]:
    """What may import what: green arrows may, red ones never (named by their contract)."""
    return [
        arrow(680, 130, 680, 476, GREEN),
        text(688, 162, "imports", size=11, fill=GREEN),
        arrow(340, 420, 340, 476, GREEN),
        arrow(840, 420, 840, 476, GREEN),
        arrow(840, 130, 840, 186, GREEN, dashed=True),
        text(846, 162, "tests only", size=11, fill=GREEN),
        arrow(200, 130, 200, 186, RED, dashed=True),
        text(193, 164, "✗", size=16, fill=RED),
        text(214, 164, "never: workers-use-the-sdk, private-stays-private", size=11, fill=RED),
        arrow(500, 480, 500, 424, RED, dashed=True),
        text(493, 458, "✗", size=16, fill=RED),
        text(514, 458, "never: sdk-below-host", size=11, fill=RED),
    ]


def draw() -> str:
    """The picture, from the contracts and the package; SystemExit when they disagree."""
    import mosaic_core
    from mosaic_core.cli.app import COMMAND_MODULES

    parser = contracts()
    workers = listed(parser, "workers-use-the-sdk", "source_modules")
    forbidden = listed(parser, "workers-use-the-sdk", "forbidden_modules")
    sdk = listed(parser, "sdk-below-host", "source_modules")
    placed = {f"mosaic_core.{m}" for group in SDK_GROUPS.values() for m in group}
    if set(sdk) != placed:
        raise SystemExit(
            "layers_svg.py: SDK modules without a place in SDK_GROUPS: "
            f"{sorted(set(sdk) - placed)}; placed but not in the sdk-below-host contract: "
            f"{sorted(placed - set(sdk))}"
        )
    order = [f"mosaic_core.{name}" for name in ("runs", "operators", "plugins", "venvs")]
    # operator_main is the operators' command-line entry: drawn as part of their box.
    rest = sorted(
        set(forbidden) - set(order) - {*KIT, "mosaic_core.cli", "mosaic_core.operator_main"}
    )
    host = [m for m in order if m in forbidden] + rest
    commands = [m.rsplit(".", 1)[1] for m in listed(parser, "cli-commands-independent", "modules")]
    if sorted(commands) != sorted(m.rsplit(".", 1)[1] for m in COMMAND_MODULES):
        raise SystemExit("layers_svg.py: the independence contract and COMMAND_MODULES differ")
    body = [
        *draw_workers(workers),
        *draw_host_and_kit(host, commands),
        *draw_sdk(len(mosaic_core.__all__)),
        *draw_rules(),
    ]
    return "\n".join([HEADER, *body, "</svg>"]) + "\n"


def main() -> int:
    picture = draw()
    if sys.argv[1:] == ["--check"]:
        if not SVG.is_file() or SVG.read_text(encoding="utf-8") != picture:
            print(f"{SVG.name} is out of date: run python docs/layers_svg.py", file=sys.stderr)
            return 1
        print(f"{SVG.name} matches .importlinter and the package")
        return 0
    SVG.write_text(picture, encoding="utf-8")
    print(f"wrote {SVG.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
