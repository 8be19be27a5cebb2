"""CleanRL's configs, made from CleanRL's own scripts: one class per algorithm.

Each algorithm's fields are the flags its script declares, read from the
installed ``cleanrl/<script>.py`` (:mod:`mosaic_cleanrl.scripts`): the flag
in snake_case (``--learning-rate`` is ``learning_rate``), its type, its
default and its help, which ``mosaic config cleanrl --algorithm ppo`` shows.
:class:`CleanRLConfig` is a ``per_algorithm`` base: ``algorithm`` picks the
class. Where the worker departs from the scripts is stated once, below.

A class is made when first asked for (reading a script with ``ast`` takes
~10 ms): a run of ``ppo`` reads ``cleanrl/ppo.py`` only, in the host and in
the worker, and the schema and :data:`ALGORITHMS`, when listed, read all
seven.

Without CleanRL (before ``mosaic-cleanrl-setup``) there are no scripts to
read. The plugin still loads, so ``mosaic workers`` lists the worker and
``mosaic env create cleanrl`` can run the setup step; building a config,
``mosaic config cleanrl`` and ``mosaic run cleanrl`` are a ConfigError that
says so and names the fix.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from typing import Annotated, Any, ClassVar, TypeVar

from annotated_types import Ge, Gt, Interval

from mosaic_cleanrl.scripts import Script, ScriptError, read_script
from mosaic_core import ConfigError, TrainingConfigBase, WorkerConfigBase

# UNAVAILABLE is the module's __getattr__'s.
__all__ = ["ALGORITHMS", "CONSTRAINTS", "SCRIPTS", "UNAVAILABLE", "CleanRLConfig"]  # noqa: F822

C = TypeVar("C", bound="CleanRLConfig")

#: The worker's algorithm names -> (CleanRL 1.2.0 script, the actions it learns).
SCRIPTS: dict[str, tuple[str, str]] = {
    "ppo": ("ppo", "discrete"),
    "ppo_continuous_action": ("ppo_continuous_action", "continuous"),
    "dqn": ("dqn", "discrete"),
    "c51": ("c51", "discrete"),
    "sac": ("sac_continuous_action", "continuous"),
    "td3": ("td3_continuous_action", "continuous"),
    "ddpg": ("ddpg_continuous_action", "continuous"),
}

_COUNTS = ("num_envs", "num_steps", "num_minibatches", "update_epochs", "buffer_size",
           "batch_size", "train_frequency", "target_network_frequency", "policy_frequency",
           "n_atoms", "total_steps")  # fmt: skip
#: What the scripts assume of their flags without checking, checked before a run starts.
CONSTRAINTS: dict[str, Any] = {
    **dict.fromkeys(("learning_rate", "policy_lr", "q_lr"), Gt(0)),
    **dict.fromkeys(_COUNTS, Ge(1)),
    **dict.fromkeys(("gamma", "gae_lambda", "tau"), Interval(ge=0, le=1)),
}

# -- Where the worker departs from the scripts: all of it is here ---------------------

#: Flags that are not config fields. Tracking and uploading reach services (Weights &
#: Biases, the Hugging Face Hub) from inside the script; MOSAIC records the run itself.
HIDDEN_FLAGS = frozenset(
    {"track", "wandb_project_name", "wandb_entity", "upload_model", "hf_entity"}
)
#: Flags under MOSAIC's common field names.
RENAMED_FLAGS = {"total_timesteps": "total_steps"}
#: Defaults the worker changes, with the note the field's help gets.
CHANGED_DEFAULTS: dict[str, tuple[Any, str]] = {
    "cuda": (False, "the worker's default is false, CleanRL's true: runs use the CPU unless asked"),
    "seed": (None, "null passes CleanRL's default, 1"),
}
#: The continuous-control algorithms' default environment. CleanRL's (HalfCheetah-v4,
#: Hopper-v4) are MuJoCo tasks, which need a MuJoCo install.
CONTINUOUS_ENV_ID = "Pendulum-v1"
#: A flag whose default is an expression the script computes (``--exp-name``, the script's
#: file name) is null by default and passed only when set.
COMPUTED_NOTE = "null lets the script compute it"


@dataclasses.dataclass(frozen=True, kw_only=True)
class CleanRLConfig(TrainingConfigBase, per_algorithm=True):
    """A CleanRL script's flags as config fields; ``algorithm`` picks the script."""

    #: Set on each algorithm's class: the script (``cleanrl.<script>``), the actions it
    #: learns, the gym library it imports, and the flag of each field.
    script: ClassVar[str] = ""
    action_space: ClassVar[str] = ""
    gym: ClassVar[str] = ""
    flag_names: ClassVar[Mapping[str, str]] = {}

    env_id: str = "CartPole-v1"
    """the id of the environment"""
    algorithm: str = "ppo"
    """the algorithm (CleanRL script): ppo, ppo_continuous_action, dqn, c51, sac, td3 or ddpg"""

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
        """As the base's, having made the class of the algorithm ``data`` names (of every
        algorithm when it names none of them, for the error's list)."""
        name = data.get("algorithm", cls.algorithm) if isinstance(data, Mapping) else None
        _require([name] if isinstance(name, str) and name in SCRIPTS else SCRIPTS)
        return super().from_dict(data)

    @classmethod
    def variants(cls) -> dict[str, type[WorkerConfigBase]]:
        _require(SCRIPTS)
        return super().variants()

    @classmethod
    def json_schema(cls, algorithm: str | None = None) -> dict[str, Any]:
        """As the base's; without CleanRL, the common fields only, and no algorithm's."""
        reason = _make(SCRIPTS)
        if reason is not None and algorithm is not None:
            raise _unavailable(reason)
        schema = super().json_schema(algorithm)
        if reason is not None:
            schema["description"] = _unavailable_message(reason)
        return schema

    def validate(self) -> None:
        v_min, v_max = getattr(self, "v_min", None), getattr(self, "v_max", None)
        if v_min is not None and v_max is not None and v_min >= v_max:
            raise ConfigError.bad_value("v_min", v_min, f"less than v_max ({v_max})")
        if self.script == "dqn" and getattr(self, "num_envs", 1) != 1:
            # cleanrl/dqn.py asserts it after building its networks: refuse it before.
            raise ConfigError.bad_value(
                "num_envs", getattr(self, "num_envs", None), "1: CleanRL's dqn script runs one "
                "environment (it asserts num_envs == 1)"
            )  # fmt: skip

    def flags(self) -> list[str]:
        """The script's command line for this config (the seed always given)."""
        out = []
        for name, flag in self.flag_names.items():
            value = self.effective_seed if name == "seed" else getattr(self, name)
            if value is None:
                continue  # the script's own default
            out += [flag, ("True" if value else "False") if isinstance(value, bool) else str(value)]
        return out

    @property
    def effective_seed(self) -> int:
        """CleanRL's own default seed is 1."""
        return 1 if self.seed is None else self.seed


def _variant(algorithm: str, script: Script, actions: str) -> type[CleanRLConfig]:
    """The config class of one script: a field per flag, CleanRL's help as its doc."""
    fields: list[tuple[str, Any, Any]] = [("algorithm", str, algorithm)]
    flag_names: dict[str, str] = {}
    for flag in script.flags:
        if flag.name in HIDDEN_FLAGS:
            continue
        name = RENAMED_FLAGS.get(flag.name, flag.name)
        flag_names[name] = flag.flag
        default, doc = flag.default, flag.help
        if name in CHANGED_DEFAULTS:
            default, note = CHANGED_DEFAULTS[name]
            doc = f"{doc} ({note})"
        elif name == "env_id" and actions == "continuous":
            doc = f"{doc} (the worker's default; CleanRL's is {default}, which needs MuJoCo)"
            default = CONTINUOUS_ENV_ID
        elif not flag.literal_default:
            doc = f"{doc} ({COMPUTED_NOTE})"
        kind: Any = flag.type if default is not None else flag.type | None
        if name in CONSTRAINTS:
            kind = Annotated[kind, CONSTRAINTS[name]]
        fields.append((name, kind, dataclasses.field(default=default, metadata={"doc": doc})))
    namespace = {
        "__module__": __name__,
        "__doc__": f"The flags of CleanRL's {script.module}, as config fields.",
        "script": script.module.removeprefix("cleanrl."),
        "action_space": actions,
        "gym": script.gym,
        "flag_names": flag_names,
    }
    # ppo -> PPOConfig, ppo_continuous_action -> PPOContinuousActionConfig
    words = [w.upper() if len(w) <= 4 else w.capitalize() for w in algorithm.split("_")]
    made: type[CleanRLConfig] = dataclasses.make_dataclass(
        "".join(words) + "Config",
        fields,
        bases=(CleanRLConfig,),
        namespace=namespace,
        frozen=True,
        kw_only=True,
    )
    return made


class _Algorithms(Mapping[str, type[CleanRLConfig]]):
    """Each algorithm's config class, made from its script when first looked up; listing
    them makes them all. An algorithm whose script cannot be read is not in it."""

    def __init__(self) -> None:
        self._made: dict[str, type[CleanRLConfig]] = {}

    def __getitem__(self, name: str) -> type[CleanRLConfig]:
        if name not in SCRIPTS or _make([name]) is not None:
            raise KeyError(name)
        return self._made[name]

    def __iter__(self) -> Iterator[str]:
        _make(SCRIPTS)
        return iter([name for name in SCRIPTS if name in self._made])

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"ALGORITHMS({dict(self)!r})"


def _make(names: Iterable[str]) -> str | None:
    """Make the classes of ``names`` not made yet, from the scripts installed now (CleanRL
    may have been set up since this process started); why the first that could not be was
    not, or None."""
    made, reason = ALGORITHMS._made, None
    for name in names:
        if name not in made:
            script, actions = SCRIPTS[name]
            try:
                made[name] = _variant(name, read_script(script), actions)
            except ScriptError as exc:
                reason = reason or str(exc)
    return reason


def _unavailable_message(reason: str) -> str:
    return (
        f"the cleanrl worker's configs are read from CleanRL's own scripts, and {reason}: "
        "run `mosaic-cleanrl-setup` in this environment to add cleanrl==1.2.0 (with --force to "
        "replace another version; pip cannot install it as a dependency)"
    )


def _unavailable(reason: str) -> ConfigError:
    return ConfigError(
        _unavailable_message(reason), field="algorithm", expected="CleanRL installed"
    )


def _require(names: Iterable[str]) -> None:
    """Make the classes of ``names``; a ConfigError naming the fix when a script cannot be
    read."""
    reason = _make(names)
    if reason is not None:
        raise _unavailable(reason)


#: Each algorithm's config class (a mapping that reads a script when first asked for it).
ALGORITHMS = _Algorithms()


def __getattr__(name: str) -> Any:
    if name == "UNAVAILABLE":
        # Why the algorithms' classes cannot all be made (CleanRL missing, or not as CleanRL
        # 1.2.0 writes its scripts), or None: reading every script to know, so only on demand.
        return _make(SCRIPTS)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
