"""Sphinx configuration for the MOSAIC documentation."""

from __future__ import annotations

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
html_static_path: list[str] = []

# The public API is documented under its import path (``mosaic_core.X``).
add_module_names = True
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": True}

# No intersphinx (the build runs offline), so standard-library classes in
# signatures have no target here. Everything of MOSAIC's own must resolve.
nitpick_ignore = [
    ("py:class", "mosaic_core._config.C"),  # the TypeVar of load_worker_config
]
nitpick_ignore_regex = [
    (r"py:class", r"(collections\.abc|os|pathlib)\..*"),
]


def _public_name(app: Sphinx, env: BuildEnvironment, node: Element, contnode: Element) -> Any:
    """Resolve ``mosaic_core.<module>.X`` to the public ``mosaic_core.X`` documented here.

    Docstrings name objects by the private module that defines them; this
    reference documents each one under the name a worker imports.
    """
    parts = node.get("reftarget", "").split(".")
    if node.get("refdomain") != "py" or len(parts) < 3 or parts[0] != "mosaic_core":
        return None
    public = ".".join(["mosaic_core", *parts[2:]])
    domain = env.get_domain("py")
    return domain.resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], public, node, contnode
    )


def setup(app: Sphinx) -> None:
    app.connect("missing-reference", _public_name)
