"""MOSAIC worker: a language model as the agent, through any OpenAI-compatible endpoint."""

from mosaic_llm.__about__ import __version__

__all__ = ["__version__"]
