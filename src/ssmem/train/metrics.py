"""Objectives and metrics: the loss to train on and the numbers to report, per :attr:`TaskInfo.objective`.

* classification: cross-entropy (nats) and accuracy; per-step targets equal to ``ignore_index`` do not count;
* regression: mean squared error, mean absolute error and R² (1 − SSE/SST per output, averaged over outputs);
  NaN targets do not count;
* next_token: cross-entropy, reported as bits per byte (= nats / ln 2 per token for byte-level tokens), and
  accuracy.

Everything is accumulated as sums, so that batches, evaluation passes and data-parallel ranks combine exactly by
adding, and the summary is computed once at the end. A batch's sums stay on its device as one float64 vector (the
layout of :meth:`MetricSums.as_tensor`): training adds them up there and reads them to the host only on the steps
that log (:func:`read_to_host`), so the other steps never wait for the device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..data.task import TaskInfo

# metric name -> whether larger is better
METRIC_DIRECTIONS: dict[str, bool] = {
    "accuracy": True,
    "r2": True,
    "loss": False,
    "mse": False,
    "mae": False,
    "bits_per_byte": False,
}


def higher_is_better(metric: str) -> bool:
    try:
        return METRIC_DIRECTIONS[metric]
    except KeyError:
        raise ValueError(f"unknown metric {metric!r}; valid choices: {', '.join(METRIC_DIRECTIONS)}") from None


def metrics_of(info: TaskInfo) -> tuple[str, ...]:
    """The metric names :func:`summarize` reports for this task (besides ``loss``)."""
    if info.objective == "classification":
        return ("accuracy",)
    if info.objective == "regression":
        return ("r2", "mse", "mae")
    if info.objective == "next_token":
        return ("bits_per_byte", "accuracy")
    raise ValueError(f"unknown objective {info.objective!r}; valid choices: classification, regression, next_token")


def check_task_metric(info: TaskInfo) -> None:
    """Raise if the task's headline metric is not one this harness computes for its objective."""
    valid = metrics_of(info) + ("loss",)
    if info.metric not in valid:
        raise ValueError(f"task metric {info.metric!r} is not computed for objective {info.objective!r}; valid: {', '.join(valid)}")


@dataclass
class MetricSums:
    """Running sums over batches. ``count`` = number of targets that count; per-output sums for R²."""

    loss: float = 0.0  # sum of per-target losses (nats for classification / next token, squared error for regression)
    count: float = 0.0
    correct: float = 0.0
    abs_error: float = 0.0
    # regression, per output d: (targets, sum y, sum y², sum squared error)
    per_output: list[list[float]] = field(default_factory=list)

    @classmethod
    def zeros(cls, info: TaskInfo) -> MetricSums:
        """Empty sums shaped for ``info`` (so that every rank's tensor has the same length)."""
        rows = [[0.0, 0.0, 0.0, 0.0] for _ in range(info.d_output)] if info.objective == "regression" else []
        return cls(per_output=rows)

    def add(self, other: MetricSums) -> None:
        self.loss += other.loss
        self.count += other.count
        self.correct += other.correct
        self.abs_error += other.abs_error
        if not self.per_output:
            self.per_output = [list(row) for row in other.per_output]
        elif other.per_output:
            for mine, theirs in zip(self.per_output, other.per_output):
                for k in range(4):
                    mine[k] += theirs[k]

    def as_tensor(self) -> torch.Tensor:
        """Flatten into one float64 tensor (for an all-reduce); :meth:`from_tensor` inverts it."""
        flat = [self.loss, self.count, self.correct, self.abs_error] + [v for row in self.per_output for v in row]
        return torch.tensor(flat, dtype=torch.float64)

    @classmethod
    def from_tensor(cls, t: torch.Tensor) -> MetricSums:
        return cls.from_values(read_to_host(t))

    @classmethod
    def from_values(cls, v: list[float]) -> MetricSums:
        """From the values of :meth:`as_tensor`, already on the host."""
        rows = [list(v[i : i + 4]) for i in range(4, len(v), 4)]
        return cls(v[0], v[1], v[2], v[3], rows)


def read_to_host(values: torch.Tensor) -> list[float]:
    """The float64 values of ``values`` on the host: the one place where training waits for the device."""
    return values.detach().double().reshape(-1).to(device="cpu", copy=True).tolist()


def loss_and_sums(output: torch.Tensor, target: torch.Tensor, info: TaskInfo) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The summed loss (differentiable), the number of targets that count, and the batch's sums.

    Shapes: classification / next token ``output (B, C)`` with ``target (B,)`` or ``output (B, L, C)`` with
    ``target (B, L)``; regression ``output (B, D)`` / ``(B, L, D)`` with a target of the same shape.
    The mean loss is ``loss_sum / count``. The sums are a float64 vector on the output's device in the layout of
    :meth:`MetricSums.as_tensor` (``MetricSums.from_tensor`` reads it); nothing is read to the host here.
    """
    if info.objective in ("classification", "next_token"):
        logits = output.reshape(-1, output.shape[-1]).float()
        labels = target.reshape(-1).long()
        valid = labels != info.ignore_index
        loss_sum = F.cross_entropy(logits, labels, ignore_index=info.ignore_index, reduction="sum")
        count = valid.sum()
        with torch.no_grad():
            correct = ((logits.argmax(-1) == labels) & valid).sum()
            zero = torch.zeros((), dtype=torch.float64, device=logits.device)
            sums = torch.stack([loss_sum.detach().double(), count.double(), correct.double(), zero])
        return loss_sum, count.to(loss_sum.dtype), sums
    if info.objective == "regression":
        if output.shape != target.shape:
            raise ValueError(f"regression output {tuple(output.shape)} and target {tuple(target.shape)} differ in shape")
        out = output.float()
        y = target.float()
        valid = ~torch.isnan(y)
        y0 = torch.where(valid, y, torch.zeros_like(y))
        err = torch.where(valid, out - y0, torch.zeros_like(out))  # (B, [L,] D)
        sq = err.square()
        loss_sum = sq.sum()
        with torch.no_grad():
            dims = tuple(range(y.ndim - 1))
            n_d = valid.sum(dim=dims).double()
            rows = torch.stack([n_d, y0.double().sum(dim=dims), y0.double().square().sum(dim=dims), sq.double().sum(dim=dims)], dim=1)
            zero = torch.zeros((), dtype=torch.float64, device=out.device)
            head = torch.stack([loss_sum.detach().double(), n_d.sum(), zero, err.abs().sum().double()])
            sums = torch.cat([head, rows.reshape(-1)])
        return loss_sum, valid.sum().to(loss_sum.dtype), sums
    raise ValueError(f"unknown objective {info.objective!r}; valid choices: classification, regression, next_token")


def summarize(sums: MetricSums, info: TaskInfo) -> dict[str, float]:
    """``loss`` (mean per target) and the task's metrics from accumulated sums."""
    n = max(sums.count, 1.0)
    out = {"loss": sums.loss / n}
    if info.objective == "classification":
        out["accuracy"] = sums.correct / n
    elif info.objective == "next_token":
        out["bits_per_byte"] = sums.loss / n / math.log(2.0)
        out["accuracy"] = sums.correct / n
    elif info.objective == "regression":
        out["mse"] = sums.loss / n
        out["mae"] = sums.abs_error / n
        r2 = []
        for count, s1, s2, sse in sums.per_output:
            sst = s2 - s1 * s1 / count if count > 0 else 0.0
            r2.append(1.0 - sse / sst if sst > 0 else float("nan"))
        out["r2"] = sum(r2) / len(r2) if r2 else float("nan")
        if len(r2) > 1:
            for d, value in enumerate(r2):
                out[f"r2_{d}"] = value
    return out


PER_OUTPUT_METRICS = ("r2",)  # metrics summarize also reports per output, as "<metric>_<output index>"


def is_per_output(key: str) -> bool:
    """Whether ``key`` names one output's value of a metric (``r2_3``), not a summary (``r2``)."""
    metric, _, index = key.rpartition("_")
    return metric in PER_OUTPUT_METRICS and index.isdigit()


def split_per_output(values: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """``values`` (a summary of :func:`summarize`, or a metrics row) as (summaries, per-output values)."""
    summary = {k: v for k, v in values.items() if not is_per_output(k)}
    return summary, {k: v for k, v in values.items() if is_per_output(k)}
