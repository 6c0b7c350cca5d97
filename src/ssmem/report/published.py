"""Published S4D results on the Long Range Arena (test accuracy, %, learnable eigenvalues), and which runs
are on data they can be compared with.

From the S4D paper (arXiv 2206.11893); ``None`` where the model fails (S4D-Lin on Path-X).
"""

from __future__ import annotations

import dataclasses
from typing import Any

LRA_TASKS = ("listops", "text", "retrieval", "image", "pathfinder", "pathx")

PUBLISHED_S4D: dict[str, dict[str, float | None]] = {
    "s4d-legs": {"listops": 60.47, "text": 86.18, "retrieval": 89.46, "image": 88.19, "pathfinder": 93.06,
                 "pathx": 91.95},
    "s4d-inv": {"listops": 60.18, "text": 87.34, "retrieval": 91.09, "image": 87.83, "pathfinder": 93.78,
                "pathx": 92.80},
    "s4d-lin": {"listops": 60.52, "text": 86.97, "retrieval": 90.96, "image": 87.93, "pathfinder": 93.96,
                "pathx": None},
}


def published(eigs: str, task: str) -> float | None:
    """The published test accuracy (%) of S4D with eigenvalue set ``eigs`` on ``task``, if there is one."""
    return PUBLISHED_S4D.get(eigs, {}).get(task)


# the LRA data where the paper-scale recipe defaults to something else (text and retrieval read Shakespeare
# unless pointed at the LRA releases)
LRA_SOURCES: dict[str, dict[str, Any]] = {"text": {"source": "imdb"}, "retrieval": {"source": "aan"}}
# where data are read from or cached does not change them
_LOCATION_FIELDS = ("cache", "cache_dir", "release_dir")


def on_lra_data(task: str, task_config: dict[str, Any] | None) -> bool:
    """Whether a run's task (its ``config.yaml`` ``task`` section) is the LRA benchmark's data: the paper-scale
    recipe's task parameters (with the LRA releases for text and retrieval), up to where files are read from.
    The -cpu recipes (digits, Shakespeare/Bible chunks, short ListOps, small Pathfinder) are stand-ins."""
    if task not in LRA_TASKS or not task_config:
        return False
    from ..train import load_recipe, task_params
    from ..train.config import ConfigError, TaskConfig

    reference = load_recipe(f"lra/{task}").task
    try:
        ours = task_params(TaskConfig(name=str(task_config.get("name")), params=dict(task_config.get("params") or {})))
        theirs = task_params(TaskConfig(name=reference.name, params={**reference.params, **LRA_SOURCES.get(task, {})}))
    except (ConfigError, ValueError, TypeError):
        return False
    if type(ours) is not type(theirs):
        return False
    strip = lambda params: {k: v for k, v in dataclasses.asdict(params).items() if k not in _LOCATION_FIELDS}  # noqa: E731
    return strip(ours) == strip(theirs)
