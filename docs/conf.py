"""Sphinx configuration for the MOSAIC documentation."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import mosaic_core

if TYPE_CHECKING:
    from docutils.nodes import Element
    from sphinx.application import Sphinx
    from sphinx.environment import BuildEnvironment

project = "MOSAIC"
author = "The MOSAIC developers"
copyright = "The MOSAIC developers"
release = mosaic_core.__version__
version = ".".join(release.split(".")[:2])

# The docstrings are plain reStructuredText, so no napoleon.
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
]

root_doc = "index"
exclude_patterns = ["_build", "examples"]
html_theme = "alabaster"
# plugins.json is published beside the pages, for `mosaic workers --available`.
html_static_path = ["_static"]
html_extra_path = ["plugins.json"]
# Wide enough for a terminal's 100 columns; longer lines wrap rather than being cut off.
html_css_files = ["code-whole.css"]
html_theme_options = {"page_width": "1340px", "code_font_size": "0.8em"}

# The public API is documented under its import path (``mosaic_core.X``).
add_module_names = True
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": True}

# No intersphinx (the build runs offline), so standard-library classes in
# signatures have no target here. Everything of MOSAIC's own must resolve.
nitpick_ignore = [
    ("py:class", "mosaic_core._config.C"),  # the TypeVar of load_worker_config
    # Internal types in the run store's and supervisor's signatures, not documented.
    ("py:class", "mosaic_core.runs.database.StoreError"),
    ("py:class", "mosaic_core._secrets.Scrubber"),
    # RunStore.ingest's, whose module imports the telemetry reader only for type checking
    # (it loads when a store indexes, not when it lists runs): shown by their short names.
    ("py:class", "Item"),
    ("py:class", "Scrubber"),
    ("py:class", "Progress"),  # and the protocol of its progress, for the type checker
    # TrainingConfigBase's own bound marker (Annotated[int, Ge(ge=1)]), read like annotated_types'.
    ("py:class", "Ge"),
]
nitpick_ignore_regex = [
    (r"py:class", rf"(?:{'|'.join(sorted(sys.stdlib_module_names))})\..*"),
    # The constraint markers of config fields (``Annotated[int | None, Ge(1)]``): not ours.
    (r"py:class", r"annotated_types\..*"),
]


def _public_name(app: Sphinx, env: BuildEnvironment, node: Element, contnode: Element) -> Any:
    """Resolve ``mosaic_core.<module>.X`` to the public name under which X is documented.

    Docstrings and signatures name objects by the module that defines them
    (``mosaic_core._telemetry.TelemetryEmitter``, ``mosaic_core.runs.reader.Anomaly``);
    these pages document each one where it is imported from: the SDK's names
    as ``mosaic_core.X`` (:doc:`api`), the host's as ``mosaic_core.runs.X`` and
    so on (:doc:`host`). The longest tail documented exactly once wins; the SDK's
    name first.
    """
    parts = node.get("reftarget", "").split(".")
    if node.get("refdomain") != "py" or len(parts) < 3 or parts[0] != "mosaic_core":
        return None
    domain = env.get_domain("py")
    documented = [name for name in domain.objects if name.startswith("mosaic_core.")]
    for k in range(2, len(parts)):
        tail = ".".join(parts[k:])
        found = [n for n in documented if n.endswith(f".{tail}")]
        if f"mosaic_core.{tail}" in found:
            found = [f"mosaic_core.{tail}"]
        if len(found) == 1:
            return domain.resolve_xref(
                env, node["refdoc"], app.builder, node["reftype"], found[0], node, contnode
            )
    return None


def setup(app: Sphinx) -> None:
    app.connect("missing-reference", _public_name)
