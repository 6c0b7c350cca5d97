"""Tasks and data sets. Each module registers its tasks in :data:`TASKS` where they are defined."""

from .task import TASKS, TaskData, TaskInfo, TaskSpec, build_task, register_task

__all__ = ["TASKS", "TaskData", "TaskInfo", "TaskSpec", "build_task", "register_task"]
