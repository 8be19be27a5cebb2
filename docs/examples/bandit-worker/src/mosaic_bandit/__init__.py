"""An epsilon-greedy learner on a Bernoulli multi-armed bandit, as a MOSAIC worker."""

__version__ = "0.1.0"
