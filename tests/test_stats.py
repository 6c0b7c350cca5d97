"""Paired verdicts: the Student t interval against a tolerance, and the majority over pairs."""

import numpy as np
import pytest

from ssmem.stats import majority_verdict, paired_verdict, tally

T_975_2 = 4.3026527297  # Student t quantile 0.975 with 2 degrees of freedom (printed tables: 4.303)


def test_interval_is_the_student_t_interval_of_the_mean():
    v = paired_verdict([1.0, 1.2, 0.8], tolerance=0.0, direction="above")
    half = T_975_2 * 0.2 / np.sqrt(3)  # sample std of (1.0, 1.2, 0.8) is 0.2
    assert v.n == 3 and v.mean == pytest.approx(1.0)
    assert v.interval == pytest.approx((1.0 - half, 1.0 + half), rel=1e-10)
    assert v.status == "confirmed"
    # a 99% interval is wider: t_{0.995, 2} = 9.925
    assert paired_verdict([1.0, 1.2, 0.8], 0.0, "above", level=0.99).high == pytest.approx(1 + 9.924843 * 0.2 / np.sqrt(3))


@pytest.mark.parametrize("tolerance, above, below", [
    (0.0, "confirmed", "not confirmed"),  # interval (0.50, 1.50) wholly above 0
    (0.8, "inconclusive", "inconclusive"),  # 0.8 inside the interval
    (2.0, "not confirmed", "confirmed"),  # wholly below 2
])
def test_status_follows_the_side_of_the_tolerance(tolerance, above, below):
    diffs = [1.0, 1.2, 0.8]
    assert paired_verdict(diffs, tolerance, "above").status == above
    assert paired_verdict(diffs, tolerance, "below").status == below


def test_one_pair_or_none_is_inconclusive():
    one = paired_verdict([5.0], tolerance=0.0, direction="above")
    assert (one.status, one.interval, one.n, one.mean) == ("inconclusive", None, 1, 5.0)
    assert "no interval from one pair" in one.fmt()
    none = paired_verdict([float("nan")], tolerance=0.0, direction="below")  # non-finite values are left out
    assert (none.status, none.n, none.fmt()) == ("inconclusive", 0, "no pairs")


def test_straddling_and_exact_ties_are_inconclusive():
    assert paired_verdict([0.3, -0.2, 0.1], 0.0, "above").status == "inconclusive"
    assert paired_verdict([0.0, 0.0, 0.0], 0.0, "below").status == "inconclusive"  # a tie counts neither way
    assert paired_verdict([-3.0, -3.0], 0.0, "below").status == "confirmed"  # no spread: the interval is a point


def test_bad_direction_and_level_are_named():
    with pytest.raises(ValueError, match="unknown direction 'up'; valid choices: above, below"):
        paired_verdict([1.0, 2.0], 0.0, "up")
    with pytest.raises(ValueError, match="confidence level 1.5"):
        paired_verdict([1.0, 2.0], 0.0, "above", level=1.5)


def test_majority_over_pairs():
    assert majority_verdict(["confirmed", "confirmed", "inconclusive"]) == "confirmed"
    assert majority_verdict(["confirmed", "inconclusive"]) == "inconclusive"  # half is not more than half
    assert majority_verdict(["not confirmed", "not confirmed", "confirmed"]) == "not confirmed"
    assert majority_verdict([]) == "inconclusive"
    assert tally(["confirmed", "inconclusive", "confirmed"]) == "2 confirmed, 1 inconclusive of 3"
