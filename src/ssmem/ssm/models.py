"""Sequence models built from SSM blocks (PAPER.md §1): encoder → blocks → (pooling) → decoder.

Every model takes ``make_layer(i) -> nn.Module``, called once per block index i to build a fresh SSM layer,
so the model never needs to know which layer (S4D, S4, ...) it holds. With ``prenorm=True`` a final norm of
the same kind follows the last block (the residual stream is otherwise never normalised).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .._values import is_integer
from .block import ChannelNorm, SSMBlock, check_norm

POOLINGS = ("mean", "last")


def check_size(name: str, value: object) -> None:
    """``value`` is a positive integer (a width, a count of classes or tokens)."""
    if not is_integer(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


class SequenceTower(nn.Module):
    """Encoder and blocks: ``x (B, L) int64 or (B, L, d_input) → features (B, L, H)``."""

    def __init__(
        self,
        *,
        d_input: int | None,
        vocab_size: int | None,
        d_model: int,
        n_layers: int,
        make_layer: Callable[[int], nn.Module],
        norm: str,
        prenorm: bool,
        dropout: float,
        device: torch.device | str | None,
        dtype: torch.dtype | None,
    ) -> None:
        super().__init__()
        if (d_input is None) == (vocab_size is None):
            raise ValueError(
                f"give exactly one of d_input (real-valued inputs) and vocab_size (token inputs); "
                f"got d_input={d_input!r}, vocab_size={vocab_size!r}"
            )
        for name, value in (("d_input", d_input), ("vocab_size", vocab_size)):
            if value is not None:
                check_size(name, value)
        check_size("d_model", d_model)
        check_size("n_layers", n_layers)
        check_norm(norm)
        if vocab_size is not None:
            self.encoder: nn.Module = nn.Embedding(vocab_size, d_model, device=device, dtype=dtype)
        else:
            self.encoder = nn.Linear(d_input, d_model, device=device, dtype=dtype)
        self.tokens = vocab_size is not None
        self.d_input, self.vocab_size = d_input, vocab_size
        self.blocks = nn.ModuleList(
            SSMBlock(d_model, make_layer(i), norm=norm, prenorm=prenorm, dropout=dropout, device=device, dtype=dtype)
            for i in range(n_layers)
        )
        self.final_norm = ChannelNorm(d_model, norm if prenorm else "none", device=device, dtype=dtype)

    def _check_input(self, x: torch.Tensor, sequence: bool) -> None:
        dims = 2 if sequence else 1
        if self.tokens:
            if x.dim() != dims or x.is_floating_point() or x.is_complex():
                raise ValueError(f"expected integer tokens of shape {'(B, L)' if sequence else '(B,)'}; got {x.dtype} "
                                 f"{tuple(x.shape)}")
            if x.numel() and x.device.type != "cpu":
                # an asynchronous check: reading the answer back would make every step wait for the device
                message = f"tokens must lie in [0, vocab_size) = [0, {self.vocab_size})"
                torch._assert_async(((x >= 0) & (x < self.vocab_size)).all(), message)
        elif x.dim() != dims + 1 or x.shape[-1] != self.d_input:
            shape = f"(B, L, d_input={self.d_input})" if sequence else f"(B, d_input={self.d_input})"
            raise ValueError(f"expected inputs of shape {shape}; got {tuple(x.shape)}")

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        """Tokens or inputs → ``(..., H)``. On the CPU the embedding itself finds a token out of range (no extra pass
        over the batch); the error then names the range."""
        try:
            return self.encoder(x)
        except IndexError:
            if not self.tokens:
                raise
            raise ValueError(f"tokens must lie in [0, vocab_size) = [0, {self.vocab_size}); got values from "
                             f"{int(x.min())} to {int(x.max())}") from None

    def forward(self, x: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """Features ``(B, L, H)``; ``valid (B, L)`` bool (optional) marks the steps that are not padding."""
        self._check_input(x, sequence=True)
        h = self._embed(x)  # (B, L, H)
        for block in self.blocks:
            h = block(h, valid)
        return self.final_norm(h)

    def initial_state(self, batch: int) -> list:
        """One zero step-mode state per block, in order."""
        return [block.initial_state(batch) for block in self.blocks]

    def step(self, x_t: torch.Tensor, state: list) -> tuple[torch.Tensor, list]:
        self._check_input(x_t, sequence=False)
        h = self._embed(x_t)  # (B, H)
        new_state = []
        for block, block_state in zip(self.blocks, state):
            h, block_state = block.step(h, block_state)
            new_state.append(block_state)
        return self.final_norm.step(h), new_state

    def ssm_layers(self) -> list[nn.Module]:
        """The SSM layer of every block, in order (what ``ssmem.memory.model_memory`` reads)."""
        return [block.layer for block in self.blocks]


def valid_steps(lengths: torch.Tensor, batch: int, length: int, device: torch.device) -> torch.Tensor:
    """``(B, L)`` bool: step t of sequence b is within its first ``lengths[b]`` steps."""
    lengths = checked_lengths(lengths, batch, length, device)
    return torch.arange(length, device=device)[None, :] < lengths[:, None]


def pool(features: torch.Tensor, pooling: str, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """``(B, L, H) → (B, H)``: mean over time or the last step, over the first ``lengths[b]`` steps if given."""
    check_pooling(pooling)
    if lengths is None:
        return features.mean(1) if pooling == "mean" else features[:, -1]
    lengths = checked_lengths(lengths, *features.shape[:2], features.device)
    if pooling == "last":
        return features[torch.arange(features.shape[0], device=features.device), lengths - 1]
    valid = torch.arange(features.shape[1], device=features.device)[None, :] < lengths[:, None]  # (B, L)
    return (features * valid[..., None]).sum(1) / lengths[:, None].to(features.dtype)


def checked_lengths(lengths: torch.Tensor, batch: int, length: int, device: torch.device) -> torch.Tensor:
    """``lengths`` as an integer tensor ``(batch,)`` on ``device`` with values in 1..length (ValueError otherwise)."""
    lengths = torch.as_tensor(lengths, device=device)
    if lengths.shape != (batch,) or lengths.is_floating_point() or lengths.is_complex():
        raise ValueError(f"lengths must be integers of shape (B,) = ({batch},); got {lengths.dtype} {tuple(lengths.shape)}")
    if bool((lengths < 1).any() | (lengths > length).any()):
        raise ValueError(f"lengths must lie in 1..L = 1..{length}; got {lengths.tolist()}")
    return lengths


def check_pooling(pooling: str) -> None:
    if pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r}; valid choices: {', '.join(POOLINGS)}")


class _PooledTower(nn.Module):
    """What both classifiers share: a :class:`SequenceTower` whose features are pooled over time, and a head
    built by the subclass (``_make_head(d_model, d_output, device, dtype)``)."""

    def __init__(
        self,
        *,
        d_output: int,
        d_input: int | None = None,
        vocab_size: int | None = None,
        d_model: int = 128,
        n_layers: int = 4,
        make_layer: Callable[[int], nn.Module],
        norm: str = "batch",
        prenorm: bool = False,
        dropout: float = 0.0,
        pooling: str = "mean",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_pooling(pooling)
        check_size("d_output", d_output)
        self.tower = SequenceTower(
            d_input=d_input, vocab_size=vocab_size, d_model=d_model, n_layers=n_layers, make_layer=make_layer,
            norm=norm, prenorm=prenorm, dropout=dropout, device=device, dtype=dtype,
        )
        self.pooling = pooling
        self._make_head(d_model, d_output, device, dtype)

    def _make_head(self, d_model: int, d_output: int, device, dtype) -> None:
        raise NotImplementedError

    def ssm_layers(self) -> list[nn.Module]:
        """The SSM layers of the tower, in order."""
        return self.tower.ssm_layers()


class SequenceClassifier(_PooledTower):
    """Encoder → SSM blocks → pooling → linear decoder.

    ``x (B, L) int64 or (B, L, d_input) → logits (B, d_output)``.

    Args:
        d_output: number of classes.
        d_input / vocab_size: exactly one: real inputs with ``d_input`` features (Linear encoder) or tokens
            (Embedding encoder).
        d_model, n_layers: width H and number of blocks.
        make_layer: ``make_layer(i)`` returns a fresh SSM layer for block i.
        norm, prenorm, dropout: block options (see :class:`SSMBlock`).
        pooling: ``"mean"`` or ``"last"``.
    """

    def _make_head(self, d_model: int, d_output: int, device, dtype) -> None:
        self.decoder = nn.Linear(d_model, d_output, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(B, d_output)``. ``lengths (B,)`` (optional): sequence b is its first ``lengths[b]`` steps; the
        padding after them is kept from the SSM layers and the pooling, so in eval mode a padded sequence gives
        the logits it gives alone (in training, batch norm's statistics still include the padded steps)."""
        if lengths is None:
            return self.decoder(pool(self.tower(x), self.pooling))
        valid = valid_steps(lengths, x.shape[0], x.shape[1], x.device)
        return self.decoder(pool(self.tower(x, valid), self.pooling, lengths))


class DualSequenceClassifier(_PooledTower):
    """Two sequences through one shared tower, pooled to a and b; head on [a, b, a − b, a·b] → logits.

    Same arguments as :class:`SequenceClassifier`. The head is Linear(4H, H) → GELU → Linear(H, d_output).
    ``forward((x1, x2))`` or ``forward(x1, x2)`` → ``(B, d_output)``; ``lengths`` is a pair (either may be None)
    or None, with the meaning :meth:`SequenceClassifier.forward` gives it.
    """

    def _make_head(self, d_model: int, d_output: int, device, dtype) -> None:
        self.head = nn.Sequential(
            nn.Linear(4 * d_model, d_model, device=device, dtype=dtype),
            nn.GELU(),
            nn.Linear(d_model, d_output, device=device, dtype=dtype),
        )

    def forward(
        self,
        x1: "torch.Tensor | tuple[torch.Tensor, torch.Tensor]",
        x2: torch.Tensor | None = None,
        lengths: "tuple[torch.Tensor, torch.Tensor] | None" = None,
    ) -> torch.Tensor:
        if x2 is None:
            if not (isinstance(x1, (tuple, list)) and len(x1) == 2):
                raise ValueError("DualSequenceClassifier needs two sequences: forward((x1, x2)) or forward(x1, x2)")
            x1, x2 = x1
        len1, len2 = (None, None) if lengths is None else lengths
        if x1.shape == x2.shape:
            # one pass through the shared tower (batch statistics then cover both sequences, with or without lengths)
            both = valid = None
            if len1 is not None or len2 is not None:
                batch, length = x1.shape[:2]
                full = torch.full((batch,), length, dtype=torch.long, device=x1.device)
                both = torch.cat([full if n is None else checked_lengths(n, batch, length, x1.device) for n in (len1, len2)])
                valid = valid_steps(both, 2 * batch, length, x1.device)
            features = self.tower(torch.cat([x1, x2], dim=0), valid)
            a, b = pool(features, self.pooling, both).chunk(2, dim=0)
        else:
            a, b = (pool(self.tower(x, None if n is None else valid_steps(n, *x.shape[:2], x.device)), self.pooling, n)
                    for x, n in ((x1, len1), (x2, len2)))
        return self.head(torch.cat([a, b, a - b, a * b], dim=-1))


class CausalSequenceModel(nn.Module):
    """Causal sequence-to-sequence model: ``x (B, L) int64 or (B, L, d_input) → (B, L, d_output)``.

    Output at step t depends on inputs up to t only, so the layers must be unidirectional and the norm must not
    mix time steps in training (``"layer"`` or ``"none"``; batch norm would leak future statistics).
    ``initial_state`` / ``step`` run the model one step at a time (generation) and equal ``forward``.
    """

    def __init__(
        self,
        *,
        d_output: int,
        d_input: int | None = None,
        vocab_size: int | None = None,
        d_model: int,
        n_layers: int,
        make_layer: Callable[[int], nn.Module],
        norm: str = "layer",
        prenorm: bool = True,
        dropout: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_size("d_output", d_output)
        if norm == "batch":
            raise ValueError(
                "CausalSequenceModel needs norm='layer' or 'none': batch norm mixes time steps in training "
                "and would break causality"
            )
        self.tower = SequenceTower(
            d_input=d_input, vocab_size=vocab_size, d_model=d_model, n_layers=n_layers, make_layer=make_layer,
            norm=norm, prenorm=prenorm, dropout=dropout, device=device, dtype=dtype,
        )
        for i, layer in enumerate(self.tower.ssm_layers()):
            if getattr(layer, "bidirectional", False):
                raise ValueError(f"CausalSequenceModel needs unidirectional layers; the layer of block {i} is "
                                 "bidirectional")
        self.decoder = nn.Linear(d_model, d_output, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.tower(x))

    def initial_state(self, batch: int) -> list:
        """Per-block layer states (zeros)."""
        return self.tower.initial_state(batch)

    def step(self, x_t: torch.Tensor, state: list) -> tuple[torch.Tensor, list]:
        """``x_t (B,) int64 or (B, d_input)`` → ``(out_t (B, d_output), new state)``."""
        h, state = self.tower.step(x_t, state)
        return self.decoder(h), state

    def ssm_layers(self) -> list[nn.Module]:
        """The SSM layers of the tower, in order."""
        return self.tower.ssm_layers()


__all__ = ["POOLINGS", "CausalSequenceModel", "DualSequenceClassifier", "SequenceClassifier"]
