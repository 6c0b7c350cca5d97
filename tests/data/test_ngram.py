import math
from collections import Counter

import numpy as np
import pytest

from ssmem.data.ngram import fit_kneser_ney, ngram_baseline, window_bits, windows_of


def _windows(*texts: bytes) -> np.ndarray:
    return np.array([list(t) for t in texts], dtype=np.uint8)


# "abracadabra" as one training window:
#   bigrams  ab:2 br:2 ra:2 ac:1 ca:1 ad:1 da:1 -> n1 = 4, n2 = 3, D2 = 4 / (4 + 2*3) = 0.4
#            contexts (total, distinct next): a (4, 3), b (2, 1), r (2, 1), c (1, 1), d (1, 1)
#   trigrams abr:2 bra:2 rac:1 aca:1 cad:1 ada:1 dab:1 -> n1 = 5, n2 = 2, D3 = 5 / (5 + 2*2) = 5/9
#            contexts: ab (2, 1), ca (1, 1), ...
#   unigram continuations (distinct bytes before w among the 7 bigram types):
#            a: {r, c, d} = 3, b: {a}, r: {b}, c: {a}, d: {a} = 1 each -> total 7, 5 types, n1 = 4, n2 = 0, D1 = 1
#   bigram continuations (distinct bytes before among the 7 trigram types): all 1 -> D = 1;
#            contexts a: ab, ac, ad (3, 3), b: br (1, 1), ...
TRAIN = _windows(b"abracadabra")
HELD_OUT = _windows(b"cabz", b"zabr")  # targets a|c, b|ca, z|cab and a|z (z never seen), b|za, r|zab


def _p1(w: str) -> float:
    # max(N1+(. w) - 1, 0) / 7 + 1 * 5/7 * 1/256
    continuation = {"a": 3, "b": 1, "r": 1, "c": 1, "d": 1}.get(w, 0)
    return max(continuation - 1, 0) / 7 + 5 / 7 / 256


def _bits(*probabilities: float) -> list[float]:
    return [-math.log2(p) for p in probabilities]


def test_bigram_kneser_ney_bits_match_a_hand_computation():
    p_a_after_c = (1 - 0.4) / 1 + 0.4 * 1 / 1 * _p1("a")  # c(ca) = 1, context c: (1, 1)
    p_b_after_a = (2 - 0.4) / 4 + 0.4 * 3 / 4 * _p1("b")  # c(ab) = 2, context a: (4, 3)
    p_z_after_b = 0.0 + 0.4 * 1 / 2 * _p1("z")  # c(bz) = 0, context b: (2, 1)
    p_a_after_z = _p1("a")  # context z never seen: the lower order alone
    p_r_after_b = (2 - 0.4) / 2 + 0.4 * 1 / 2 * _p1("r")  # c(br) = 2, context b: (2, 1)
    bits = window_bits(fit_kneser_ney(TRAIN, 2), HELD_OUT, 2)
    np.testing.assert_allclose(bits[0], _bits(p_a_after_c, p_b_after_a, p_z_after_b), rtol=1e-13)
    np.testing.assert_allclose(bits[1], _bits(p_a_after_z, p_b_after_a, p_r_after_b), rtol=1e-13)


def test_trigram_uses_the_window_start_bigram_and_continuation_counts_below():
    p_a_after_c = (1 - 0.4) / 1 + 0.4 * 1 / 1 * _p1("a")  # t = 1: only one byte of context in the window
    # t = 2, context "ca": c(cab) = 0, context (1, 1); p2(b | a) from continuations: max(1 - 1, 0) / 3 + 1 * 3/3 * p1(b)
    p_b_after_ca = 5 / 9 * 1 / 1 * _p1("b")
    # t = 3, context "ab": c(abz) = 0, context (2, 1); p2(z | b): bz unseen, context b (1, 1): 1 * 1/1 * p1(z)
    p_z_after_ab = 5 / 9 * 1 / 2 * _p1("z")
    p_a_after_z = _p1("a")  # t = 1, context z never seen (raw bigram level): the continuation unigram
    p_b_after_za = _p1("b")  # context "za" never seen; p2(b | a) from continuations as above
    # t = 3, context "ab": c(abr) = 2, context (2, 1); p2(r | b) from continuations: 0 + 1 * 1/1 * p1(r)
    p_r_after_ab = (2 - 5 / 9) / 2 + 5 / 9 * 1 / 2 * _p1("r")
    bits = window_bits(fit_kneser_ney(TRAIN, 3), HELD_OUT, 3)
    np.testing.assert_allclose(bits[0], _bits(p_a_after_c, p_b_after_ca, p_z_after_ab), rtol=1e-13)
    np.testing.assert_allclose(bits[1], _bits(p_a_after_z, p_b_after_za, p_r_after_ab), rtol=1e-13)


def _reference_bits(train: list[bytes], held_out: list[bytes], order: int) -> list[float]:
    """Interpolated Kneser-Ney written out with dictionaries, one target at a time (the specification)."""
    raw = {m: Counter(w[s : s + m] for w in train for s in range(len(w) - m + 1)) for m in range(1, order + 1)}
    cont = {m: Counter(g[1:] for g in raw[m + 1]) for m in range(1, order)}

    def discount(counts: Counter) -> float:
        n1 = sum(c == 1 for c in counts.values())
        n2 = sum(c == 2 for c in counts.values())
        return n1 / (n1 + 2 * n2) if n1 else 0.5

    def p(history: bytes, w: int, m: int, top: bool) -> float:
        if m == 0:
            return 1 / 256
        counts = raw[m] if top else cont[m]
        h = history[len(history) - (m - 1) :] if m > 1 else b""
        after = {g: c for g, c in counts.items() if g[:-1] == h}
        lower = p(history, w, m - 1, False)
        if not after:
            return lower
        d, total = discount(counts), sum(after.values())
        return max(after.get(h + bytes([w]), 0) - d, 0) / total + d * len(after) / total * lower

    return [-math.log2(p(w[max(0, t - order + 1) : t], w[t], min(t + 1, order), True)) for w in held_out for t in range(1, len(w))]


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
def test_vectorised_model_equals_the_dictionary_reference(order):
    rng = np.random.default_rng(0)
    words = [b"the ", b"then ", b"hen ", b"a ", b"tea ", b"eat\n"]
    stream = np.frombuffer(b"".join(words[i] for i in rng.integers(0, len(words), 600)), dtype=np.uint8)
    train = windows_of(stream[:2000], np.arange(0, 1900, 24), 24)
    held_out = windows_of(stream[2000:], np.arange(0, 160, 24), 24)
    expected = _reference_bits([bytes(w) for w in train], [bytes(w) for w in held_out], order)
    bits = window_bits(fit_kneser_ney(train, 5), held_out, order)
    np.testing.assert_allclose(bits.reshape(-1), expected, rtol=1e-12)


def test_order_is_chosen_on_validation_deterministically_lowest_on_a_tie():
    stream = np.frombuffer(b"to be or not to be, that is the question; " * 40, dtype=np.uint8)
    train, val = windows_of(stream, np.arange(0, 1200, 40), 40), windows_of(stream, np.arange(1300, 1600, 30), 30)
    first = ngram_baseline(train, val, val, (3, 4, 5))
    assert first == ngram_baseline(train, val, val, (5, 3, 4))
    assert first.order == min(first.val_by_order, key=first.val_by_order.get)
    assert first.val_bits_per_byte == first.val_by_order[first.order] == first.test_bits_per_byte
    # two-byte windows: every order predicts from the one byte there is, so all tie and the lowest wins
    short = windows_of(stream, np.arange(1300, 1600, 7), 1)
    tied = ngram_baseline(train, short, short, (5, 4, 3))
    assert len(set(tied.val_by_order.values())) == 1 and tied.order == 3


def test_every_byte_has_a_probability_and_they_sum_to_one():
    train = windows_of(np.frombuffer(b"abracadabra, abracadabra!" * 3, dtype=np.uint8), np.array([0, 30]), 40)
    model = fit_kneser_ney(train, 4)
    contexts = [b"abr", b"zzz", b"a, ", b"!ab"]
    for h in contexts:
        held_out = np.array([list(h) + [w] for w in range(256)], dtype=np.uint8)
        probs = 2.0 ** -window_bits(model, held_out, 4)[:, -1]
        assert probs.min() > 0 and probs.sum() == pytest.approx(1.0, rel=1e-12)
