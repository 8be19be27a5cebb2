"""CleanRL's configs, made from CleanRL's own scripts: one class per algorithm.

Each algorithm's fields are the flags its script declares, read from the
installed ``cleanrl/<script>.py`` (:mod:`mosaic_cleanrl.scripts`): the flag
in snake_case (``--learning-rate`` is ``learning_rate``), its type, its
default and its help, which ``mosaic config cleanrl --algorithm ppo`` shows.
:class:`CleanRLConfig` is a ``per_algorithm`` base: ``algorithm`` picks the
class. Where the worker departs from the scripts is stated once, below.

Without CleanRL (before ``mosaic-cleanrl-setup``) there are no scripts to
read. The plugin still loads, so ``mosaic workers`` lists the worker and
``mosaic env create cleanrl`` can run the setup step; building a config,
``mosaic config cleanrl`` and ``mosaic run cleanrl`` are a ConfigError that
says so and names the fix.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, TypeVar

from annotated_types import Ge, Gt, Interval

from mosaic_cleanrl.scripts import Script, ScriptError, read_script
from mosaic_core import ConfigError, TrainingConfigBase, WorkerConfigBase

__all__ = ["ALGORITHMS", "CONSTRAINTS", "SCRIPTS", "UNAVAILABLE", "CleanRLConfig"]

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
        _require_scripts()
        return super().from_dict(data)

    @classmethod
    def variants(cls) -> dict[str, type[WorkerConfigBase]]:
        _require_scripts()
        return super().variants()

    @classmethod
    def json_schema(cls, algorithm: str | None = None) -> dict[str, Any]:
        """As the base's; without CleanRL, the common fields only, and no algorithm's."""
        if UNAVAILABLE is not None:
            with contextlib.suppress(ConfigError):
                _require_scripts()
        if algorithm is not None:
            _require_scripts()
        schema = super().json_schema(algorithm)
        if UNAVAILABLE is not None:
            schema["description"] = _unavailable_message()
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


def _build() -> tuple[dict[str, type[CleanRLConfig]], str | None]:
    """Every algorithm's class (made, and so registered), or why none could be made."""
    try:
        scripts = {name: read_script(script) for name, (script, _) in SCRIPTS.items()}
    except ScriptError as exc:
        return {}, str(exc)
    return {name: _variant(name, s, SCRIPTS[name][1]) for name, s in scripts.items()}, None


def _unavailable_message() -> str:
    return (
        f"the cleanrl worker's configs are read from CleanRL's own scripts, and {UNAVAILABLE}: "
        "run `mosaic-cleanrl-setup` in this environment to add cleanrl==1.2.0 (with --force to "
        "replace another version; pip cannot install it as a dependency)"
    )


def _require_scripts() -> None:
    global UNAVAILABLE
    if UNAVAILABLE is not None:  # CleanRL may have been set up since this process started
        built, UNAVAILABLE = _build()
        ALGORITHMS.update(built)
    if UNAVAILABLE is not None:
        raise ConfigError(_unavailable_message(), field="algorithm", expected="CleanRL installed")


#: Each algorithm's config class, and why there are none (CleanRL missing, or not as
#: CleanRL 1.2.0 writes its scripts); UNAVAILABLE is None when they were made.
ALGORITHMS, UNAVAILABLE = _build()
