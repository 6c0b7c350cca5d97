"""Sampling bytes from a trained byte-level language model in step (recurrent) mode.

A :class:`~ssmem.ssm.CausalSequenceModel` over bytes (vocabulary 256, the ``lm/bytes`` task) predicts the
next byte from the bytes so far. Generation runs it one step at a time: the prompt is fed byte by byte
(the recurrent state carried), then each new byte is drawn from the model's next-byte distribution and fed
back. A step costs O(layers · H · N), independent of how much text came before.

The prompt must hold at least one byte: the model has no start-of-text token, so the first prediction needs
an input byte (a newline is a natural neutral start).

    model, cfg = load_trained_model("runs/shakespeare")   # ssmem.train.trained
    text = sample_bytes(model, b"ROMEO:", 200, temperature=0.8, seed=1)
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._values import check_seed

VOCAB = 256  # bytes


def check_byte_model(model: nn.Module) -> None:
    """Raise ``ValueError`` unless ``model`` is a causal byte model with a step mode.

    It must be a :class:`~ssmem.ssm.CausalSequenceModel` with token inputs from a vocabulary of 256, 256
    outputs, and unidirectional layers (a bidirectional layer needs the future and has no step mode).
    """
    from ..ssm import CausalSequenceModel

    if not isinstance(model, CausalSequenceModel):
        raise ValueError(
            f"sampling needs a CausalSequenceModel (causal, with a step mode); got {type(model).__name__}, "
            "which predicts one output per sequence"
        )
    encoder = model.tower.encoder
    if not isinstance(encoder, nn.Embedding) or encoder.num_embeddings != VOCAB:
        got = f"vocab_size={encoder.num_embeddings}" if isinstance(encoder, nn.Embedding) else "real-valued inputs"
        raise ValueError(f"sampling bytes needs a model with byte inputs (vocab_size={VOCAB}); got {got}")
    if model.decoder.out_features != VOCAB:
        got = model.decoder.out_features
        raise ValueError(f"sampling bytes needs {VOCAB} outputs (one logit per byte); got d_output={got}")
    for i, layer in enumerate(model.ssm_layers()):
        if getattr(layer, "bidirectional", False):
            raise ValueError(f"the layer of block {i} is bidirectional: it needs future inputs and has no step mode")
        if not (hasattr(layer, "step") and hasattr(layer, "initial_state")):
            raise ValueError(f"the layer of block {i} ({type(layer).__name__}) has no step mode (initial_state/step)")


def step_logits(model: nn.Module, tokens: torch.Tensor, state: list | None = None) -> tuple[torch.Tensor, list]:
    """Run ``tokens (B, L) int64`` through ``model`` in step mode: ``(logits (B, L, V), state after them)``.

    ``state`` None starts from :meth:`initial_state`. In eval mode the logits equal ``model(tokens)``
    (the convolution mode); with a state carried over, they continue a longer sequence. No gradients.
    """
    if tokens.dim() != 2:
        raise ValueError(f"tokens must have shape (B, L); got {tuple(tokens.shape)}")
    batch, length = tokens.shape
    if length == 0:
        raise ValueError("tokens must hold at least one step (L >= 1)")
    with torch.no_grad():
        if state is None:
            state = model.initial_state(batch)
        outputs = []
        for t in range(length):
            out_t, state = model.step(tokens[:, t], state)  # (B, V)
            outputs.append(out_t)
    return torch.stack(outputs, dim=1), state


def next_byte_probabilities(
    logits: torch.Tensor, *, temperature: float = 1.0, top_k: int | None = None
) -> torch.Tensor:
    """The sampling distribution ``(V,)`` float64 on the CPU from one step's ``logits (V,)``.

    ``softmax(logits / temperature)`` restricted to the ``top_k`` largest logits (renormalised; ties at the
    k-th value keep the lower indices); ``temperature = 0`` puts all mass on the argmax (the first one on ties).
    """
    _check_temperature(temperature)
    logits = logits.detach().to(device="cpu", dtype=torch.float64).reshape(-1)
    _check_top_k(top_k, logits.numel())
    probs = torch.zeros_like(logits)
    if temperature == 0:
        probs[torch.argmax(logits)] = 1.0
        return probs
    # a stable descending sort: on ties at the k-th value the lower indices come first
    keep = torch.arange(logits.numel()) if top_k is None else torch.sort(logits, descending=True, stable=True).indices[:top_k]
    kept = logits[keep]
    # shifted by the maximum before dividing: a tiny temperature then gives 0 and -inf, never inf - inf
    probs[keep] = torch.softmax((kept - kept.max()) / temperature, dim=0)
    return probs


def sample_bytes(
    model: nn.Module,
    prompt: bytes,
    n_bytes: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> bytes:
    """Continue ``prompt`` by ``n_bytes`` bytes sampled from ``model`` one step at a time.

    Args:
        model: a byte-level :class:`~ssmem.ssm.CausalSequenceModel` (see :func:`check_byte_model`). It is put in
            eval mode while sampling (its previous mode is restored afterwards).
        prompt: at least one byte (the model has no start-of-text token).
        n_bytes: how many bytes to generate (>= 0).
        temperature: divides the logits; 0 = greedy (argmax), 1 = the model's distribution.
        top_k: draw from the ``top_k`` most likely bytes only (None = all 256).
        seed: seeds the CPU ``torch.Generator`` that draws every byte (same seed, same model → same bytes).
        device: where to run; None = where the model's parameters are. A given device moves the model there.

    Returns:
        The ``n_bytes`` generated bytes (without the prompt).
    """
    check_byte_model(model)
    if isinstance(prompt, str):
        raise TypeError("prompt must be bytes, not str: encode it first, e.g. prompt.encode('utf-8')")
    if not isinstance(prompt, (bytes, bytearray)):
        raise TypeError(f"prompt must be bytes; got {type(prompt).__name__}")
    if len(prompt) == 0:
        raise ValueError("prompt must hold at least one byte: the model predicts each byte from the bytes before it "
                         "and has no start-of-text token (a newline b'\\n' is a neutral start)")
    if isinstance(n_bytes, bool) or not isinstance(n_bytes, int) or n_bytes < 0:
        raise ValueError(f"n_bytes must be an integer >= 0; got {n_bytes!r}")
    _check_temperature(temperature)
    _check_top_k(top_k, VOCAB)
    if seed is None:
        raise ValueError("seed must be an integer; got None")
    check_seed(seed)
    if device is not None:
        model.to(device)
    device = next(model.parameters()).device
    generator = torch.Generator(device="cpu").manual_seed(seed)

    was_training = model.training
    model.eval()
    try:
        tokens = torch.tensor(list(prompt), dtype=torch.long, device=device)[None, :]  # (1, L)
        logits, state = step_logits(model, tokens)
        last = logits[0, -1]  # (V,) the prediction for the byte after the prompt
        out = bytearray()
        for i in range(n_bytes):
            probs = next_byte_probabilities(last, temperature=temperature, top_k=top_k)
            byte = int(torch.multinomial(probs, 1, generator=generator)) if temperature > 0 else int(probs.argmax())
            out.append(byte)
            if i + 1 < n_bytes:
                logits, state = step_logits(model, torch.tensor([[byte]], dtype=torch.long, device=device), state)
                last = logits[0, -1]
    finally:
        model.train(was_training)
    return bytes(out)


def _check_temperature(temperature: float) -> None:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not math.isfinite(temperature) \
            or temperature < 0:
        raise ValueError(f"temperature must be a finite number >= 0 (0 = greedy); got {temperature!r}")


def _check_top_k(top_k: int | None, vocab: int) -> None:
    if top_k is None:
        return
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= vocab:
        raise ValueError(f"top_k must be None (all bytes) or an integer in [1, {vocab}]; got {top_k!r}")


__all__ = ["check_byte_model", "next_byte_probabilities", "sample_bytes", "step_logits"]
