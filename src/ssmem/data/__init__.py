"""Tasks and data sets. Each module registers its tasks in :data:`TASKS` where they are defined."""

from .task import TASKS, TaskData, TaskInfo, TaskSpec, build_task, register_task, task_info

from . import memory_tasks, selective_copy  # noqa: F401,E402  (fill the registry)
from . import audio, forecast, image, listops, lm, pathfinder, retrieval, text  # noqa: F401,E402  (real-data tasks)

__all__ = ["TASKS", "TaskData", "TaskInfo", "TaskSpec", "build_task", "register_task", "task_info"]
