"""Published S4D results on the Long Range Arena (test accuracy, %, learnable eigenvalues).

From the S4D paper (arXiv 2206.11893); ``None`` where the model fails (S4D-Lin on Path-X).
"""

from __future__ import annotations

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
