"""Small training loops shared by the theory experiments.

The theory is about one linear SSM and its readout, so the probes here are a *channel bank*: an S4D layer
whose H channels all read the same scalar input, channel h trained on target h (its own delay or kernel).
Channels share nothing (Adam is per parameter), so one bank trains H independent single-channel SSMs at once.
Deep probes are :class:`ssmem.ssm.models.CausalSequenceModel` stacks of S4D blocks. Training is full-sequence
minibatch Adam on the squared error over the steps a mask selects; metrics are R² on held-out sequences over
the evaluation steps (the last part of each sequence, where the state has seen a long history).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..ssm import S4D
from ..ssm.kernels import discretize_diagonal
from ..ssm.models import CausalSequenceModel
from ._progress import fit_steps


class ChannelBank(nn.Module):
    """H single-channel S4D systems on one scalar input: ``u (B, L) → y (B, L, H)``.

    All channels use the step ``dt`` (so a continuous eigenvalue set gives the same Ā in every channel).
    ``skip=False`` zeroes and freezes the direct term D, leaving a pure readout of the state.
    """

    def __init__(
        self,
        n_channels: int,
        d_state: int,
        *,
        init: "str | np.ndarray",
        dt: float,
        train: str,
        skip: bool = True,
        seed: int = 0,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        self.layer = S4D(n_channels, d_state, init=init, dt_min=dt, dt_max=dt, train=train, seed=seed, dtype=dtype)
        if not skip:
            with torch.no_grad():
                self.layer.D.zero_()
            self.layer.D.requires_grad_(False)
        self.n_channels = n_channels

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.layer(u[..., None].expand(-1, -1, self.n_channels).to(self.layer.D.dtype))

    def discrete_eigenvalues(self) -> np.ndarray:
        """Ā per channel, ``(H, n_modes)`` complex128."""
        return self.layer.discrete_eigenvalues().cpu().numpy().astype(np.complex128)


def deep_model(
    *,
    d_output: int,
    d_input: int | None = None,
    vocab_size: int | None = None,
    d_model: int,
    n_layers: int,
    d_state: int,
    init: "str | np.ndarray",
    train: str,
    dt_min: float,
    dt_max: float,
    seed: int,
) -> CausalSequenceModel:
    """A causal stack of S4D blocks (layer norm, prenorm) with a linear decoder, float32."""
    torch.manual_seed(seed)  # encoder, mixing and decoder weights
    return CausalSequenceModel(
        d_output=d_output,
        d_input=d_input,
        vocab_size=vocab_size,
        d_model=d_model,
        n_layers=n_layers,
        make_layer=lambda i: S4D(
            d_model, d_state, init=init, dt_min=dt_min, dt_max=dt_max, train=train, seed=seed + 101 * i
        ),
        norm="layer",
        prenorm=True,
    )


@dataclass
class FitResult:
    """Training losses ``(steps,)`` and eigenvalue snapshots ``(n_snapshots, ...)`` with their steps."""

    losses: np.ndarray
    snapshot_steps: np.ndarray
    snapshots: list[np.ndarray]


def _snapshot(model: nn.Module) -> np.ndarray | None:
    if isinstance(model, ChannelBank):
        return model.discrete_eigenvalues()
    layers = getattr(model, "ssm_layers", None)
    if layers is None:
        return None
    return np.stack([layer.discrete_eigenvalues().cpu().numpy() for layer in layers()])


def fit(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    mask: torch.Tensor,
    *,
    steps: int,
    lr: float,
    batch_size: int,
    seed: int,
    loss: str = "mse",
    n_snapshots: int = 5,
    eig_lr: float | None = None,
) -> FitResult:
    """Minibatch Adam on the masked loss; records Ā (of every SSM layer) ``n_snapshots`` times.

    The eigenvalue parameters (A and Δ, what a reservoir freezes) learn at ``eig_lr`` (``lr`` when None), every
    other parameter at ``lr``.

    ``inputs`` ``(n, L, ...)``; ``targets`` ``(n, L, d)`` (float for ``mse``, int64 class ids ``(n, L)`` for
    ``ce``); ``mask`` ``(n, L)`` bool: the steps the loss counts.
    """
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(parameter_groups(model, lr=lr, eig_lr=eig_lr))
    record_at = set(np.linspace(0, steps, n_snapshots).round().astype(int).tolist())
    losses, snap_steps, snaps = [], [], []
    model.train()

    def record(step: int) -> None:
        if step in record_at:
            snap = _snapshot(model)
            if snap is not None:
                snap_steps.append(step)
                snaps.append(snap)

    for step in fit_steps(steps):
        record(step)
        idx = torch.randint(0, inputs.shape[0], (batch_size,), generator=generator)
        out = model(inputs[idx])
        value = masked_loss(out, targets[idx], mask[idx], loss)
        optimiser.zero_grad()
        value.backward()
        optimiser.step()
        losses.append(float(value.detach()))
    record(steps)
    model.eval()
    return FitResult(losses=np.array(losses), snapshot_steps=np.array(snap_steps), snapshots=snaps)


EIGENVALUE_PARAMETERS = ("log_dt", "log_A_real", "A_imag")  # an S4D layer's A and Δ: what a reservoir freezes


def parameter_groups(model: nn.Module, *, lr: float, eig_lr: float | None = None) -> list[dict]:
    """Adam groups: the trainable eigenvalue parameters (:data:`EIGENVALUE_PARAMETERS` of every S4D layer) at
    ``eig_lr`` and the rest at ``lr``; one group at ``lr`` when ``eig_lr`` is None or nothing is an eigenvalue."""
    params = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    eigen = [p for name, p in params if eig_lr is not None and name.split(".")[-1] in EIGENVALUE_PARAMETERS]
    rest = [p for name, p in params if not any(p is q for q in eigen)]
    return [{"params": rest, "lr": lr}] + ([{"params": eigen, "lr": eig_lr}] if eigen else [])


def masked_loss(out: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, loss: str) -> torch.Tensor:
    """Mean squared error (``mse``) or cross-entropy (``ce``) over the masked steps."""
    if loss == "mse":
        diff = (out - target.to(out.dtype)) ** 2  # (B, L, d)
        return diff[mask].mean()
    if loss == "ce":
        return nn.functional.cross_entropy(out[mask], target[mask])
    raise ValueError(f"unknown loss {loss!r}; valid choices: mse, ce")


@torch.no_grad()
def r2_per_output(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    """R² = 1 - Σ(y - ŷ)² / Σ(ŷ - mean ŷ)² per output over the masked steps: ``(d,)`` float64."""
    out = model(inputs).double()
    y = targets.double()[mask]  # (n_masked, d)
    pred = out[mask]
    residual = ((pred - y) ** 2).sum(0)
    total = ((y - y.mean(0)) ** 2).sum(0)
    return (1.0 - residual / total).cpu().numpy()


@torch.no_grad()
def accuracy(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> float:
    """Share of masked steps whose argmax class equals the target."""
    pred = model(inputs).argmax(-1)
    return float((pred[mask] == targets[mask]).double().mean())


def gaussian_inputs(n: int, length: int, *, seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """iid N(0, 1) input sequences ``(n, L)`` from their own generator."""
    return torch.randn(n, length, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def delayed(u: torch.Tensor, delays: "list[int] | tuple[int, ...]") -> torch.Tensor:
    """Targets u_{t-τ} for each delay: ``(n, L) → (n, L, len(delays))`` (zero for t < τ)."""
    out = torch.zeros(*u.shape, len(delays), dtype=u.dtype)
    for j, tau in enumerate(delays):
        out[:, tau:, j] = u[:, : u.shape[1] - tau]
    return out


def filtered(u: torch.Tensor, kernel: np.ndarray) -> torch.Tensor:
    """ŷ_t = Σ_τ h_τ u_{t-τ}: ``(n, L) → (n, L)``."""
    out = torch.zeros_like(u)
    for tau, h in enumerate(np.asarray(kernel, dtype=np.float64)):
        if h != 0:
            out[:, tau:] += float(h) * u[:, : u.shape[1] - tau]
    return out


def late_steps(n: int, length: int, start: int) -> torch.Tensor:
    """A mask ``(n, L)`` selecting steps t ≥ start."""
    mask = torch.zeros(n, length, dtype=torch.bool)
    mask[:, start:] = True
    return mask


def ridge(features: np.ndarray, target: np.ndarray, scale: float) -> np.ndarray:
    """argmin_w ‖F w - y‖² + λ‖w‖², λ = scale · mean diag(FᵀF), by an SVD: ``(n, p), (n,) → (p,)``."""
    return _ridge_svd(np.linalg.svd(features, full_matrices=False), target, scale)


def _ridge_svd(svd: tuple[np.ndarray, np.ndarray, np.ndarray], target: np.ndarray, scale: float) -> np.ndarray:
    """:func:`ridge` from the features' thin SVD ``(U, s, Vᵀ)`` (one SVD serves many targets)."""
    left, singular, right_t = svd
    lam = scale * float(np.mean(singular**2))
    return right_t.T @ (singular / (singular**2 + lam) * (left.T @ target))


@torch.no_grad()
def warm_start_readout(
    bank: ChannelBank, inputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, *, ridge_scale: float = 1e-6
) -> None:
    """Set each channel's C (and D, if trained) to the (ridge) least-squares optimum for its target.

    The ridge λ = ``ridge_scale`` · mean feature variance keeps the weights of ill-conditioned sets finite
    (their states are nearly collinear), at a cost in R² of order λ.

    A channel's output is Σ_n 2 Re(C_n z_n) + D u_t with z the complex state (B̄ included), i.e. a linear
    readout of the features [2 Re z, -2 Im z, u] with weights [Re C, Im C, D]. Starting both reservoir and
    learnable banks at this optimum isolates what training the eigenvalues adds.
    """
    from ..dynamics import finite_horizon_states

    layer = bank.layer
    params = layer.ssm_parameters()
    A_bar, B_bar, _ = (t.cpu().numpy() for t in discretize_diagonal(params["A"], params["mode_dt"], params["B"], layer.discretization))
    u = inputs.double().cpu().numpy()
    keep = mask.cpu().numpy()
    use_skip = layer.D.requires_grad
    n_modes = A_bar.shape[1]
    C = layer.C.detach().clone()
    svds: dict[bytes, tuple] = {}  # channels with the same Ā and B̄ (a set at one Δ) share their features
    for h in range(bank.n_channels):
        key = A_bar[h].tobytes() + B_bar[h].tobytes()
        if key not in svds:
            states = finite_horizon_states(A_bar[h], u, horizon=u.shape[1], input_weights=B_bar[h])  # (n, L, 2n)
            features = np.concatenate([2 * states[..., :n_modes], -2 * states[..., n_modes:]], axis=-1)
            if use_skip:
                features = np.concatenate([features, u[..., None]], axis=-1)
            svds[key] = np.linalg.svd(features[keep], full_matrices=False)
        target = targets[..., h].double().cpu().numpy()
        weights = _ridge_svd(svds[key], target[keep], ridge_scale)
        C[h, :, 0] = torch.from_numpy(weights[:n_modes])
        C[h, :, 1] = torch.from_numpy(weights[n_modes : 2 * n_modes])
        if use_skip:
            layer.D[h] = float(weights[-1])
    layer.C.copy_(C)


@torch.no_grad()
def accuracy_per_position(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
                          positions: "list[int] | np.ndarray") -> np.ndarray:
    """Share of sequences whose argmax class at step p equals the target, for each step p: ``(len(positions),)``."""
    pred = model(inputs).argmax(-1)  # (n, L)
    index = torch.as_tensor(np.asarray(positions), dtype=torch.long, device=pred.device)
    hits = pred[:, index] == targets.to(pred.device)[:, index]
    return hits.double().mean(0).cpu().numpy()
