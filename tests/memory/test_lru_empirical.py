"""The exact MF of an LRU layer (from its eigenvalues, :func:`layer_memory`) equals the empirical MF of the states
the layer itself computes, within the estimator's sampling error."""

import numpy as np
import torch

from ssmem.memory import layer_memory
from ssmem.memory.empirical import EmpiricalMemory
from ssmem.ssm import LRU
from ssmem.ssm.modal import modal_convolution


def _lru_states(layer: LRU, channel: int):
    """``u (L,) → [Re x, Im x] (L, 2n)``: the layer's state when ``u`` drives input channel ``channel`` alone."""

    def simulate(u: np.ndarray) -> np.ndarray:
        x = torch.zeros(1, u.size, layer.d_model, dtype=torch.float64)
        x[0, :, channel] = torch.from_numpy(u)
        with torch.no_grad():
            _, log_A_bar, B_bar, _ = layer._modal()
            states = modal_convolution(layer._drive(x, B_bar), log_A_bar)[0]  # (L, n)
        return torch.cat([states.real, states.imag], dim=-1).numpy()

    return simulate


def test_exact_mf_of_an_lru_equals_the_empirical_mf_of_its_states():
    layer = LRU(3, 8, r_min=0.5, r_max=0.95, seed=2, dtype=torch.float64)
    exact = layer_memory(layer, horizon=None, max_delay=40)
    for channel in (0, 2):
        est = EmpiricalMemory(max_delay=40, n_train=20000, n_test=10000, washout=400, bias_correction="analytic",
                              seed=channel).fit(_lru_states(layer, channel))
        z = (est.memory_function_ - exact.profiles[channel].mf) / est.standard_error_
        assert np.max(np.abs(z)) < 4.0
        assert abs(est.capacity_ - exact.profiles[channel].mf.sum()) < 4 * est.standard_error_.sum()
    # the capacity is the real state size (8) and the delays shown hold most of it
    assert 6.0 < exact.profiles[0].mf.sum() <= 8.0
