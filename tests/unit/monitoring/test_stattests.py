"""Each statistic against hand-computed values or the scipy routine it must agree with."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from evergreen.monitoring import stattests as st


def counts(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def test_ks_exact_small_sample() -> None:
    # Disjoint samples of 3: D = 1 and the exact two-sided p is 2 / C(6, 3) = 0.1.
    result = st.ks(np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0]))
    assert result.statistic == 1.0
    assert result.p_value == pytest.approx(0.1, abs=1e-15)


@pytest.mark.parametrize(("n", "m"), [(500, 500), (700, 450), (3, 1000)])
def test_wasserstein_matches_scipy(n: int, m: int) -> None:
    rng = np.random.default_rng(n + m)
    u, v = rng.normal(0, 1, n), rng.normal(0.3, 2, m)
    u[:20] = np.round(u[:20])  # ties inside and across the samples
    v[:20] = np.round(v[:20])
    assert st.wasserstein_1d(u, v) == pytest.approx(stats.wasserstein_distance(u, v), abs=1e-14)


def test_wasserstein_by_hand() -> None:
    assert st.wasserstein_1d(np.array([0.0, 1.0, 3.0]), np.array([8.0, 5.0, 6.0])) == 5.0
    # F_u - F_v = 0.5 - 1 on [0, 1): area 0.5.
    assert st.wasserstein_1d(np.array([0.0, 1.0]), np.array([0.0])) == 0.5


def test_wasserstein_norm_divides_by_population_std_floored() -> None:
    ref = np.array([0.0, 2.0])  # std (ddof 0) = 1
    assert st.wasserstein_norm(ref, ref + 0.5) == (0.5, None)
    assert st.wasserstein_norm(np.array([2.0, 2.0, 2.0]), np.array([3.0, 3.0])) == (1000.0, None)


def test_chisquare_uses_reference_shares_times_current_size() -> None:
    # Expected = [50, 30, 20] * (200 / 100) = [100, 60, 40]; statistic = 400/100 + 400/60 = 32/3, and
    # with df = 2 the chi-square survival function is exp(-x / 2).
    result = st.chisquare(counts(50, 30, 20), counts(80, 80, 40))
    assert result.statistic == pytest.approx(32 / 3, rel=1e-15)
    assert result.p_value == pytest.approx(math.exp(-16 / 3), rel=1e-13)


def test_chisquare_category_only_in_current_is_certain_drift() -> None:
    assert st.chisquare(counts(10, 0), counts(5, 5)) == (math.inf, 0.0)


def test_z_test_two_proportions() -> None:
    # p1 = 0.4, p2 = 0.7, pooled 0.55: z = -0.3 / sqrt(0.55 * 0.45 * 0.02).
    result = st.z_test(counts(60, 40), counts(30, 70))
    z = -0.3 / math.sqrt(0.55 * 0.45 * 0.02)
    assert result.statistic == pytest.approx(z, rel=1e-14)
    assert result.p_value == pytest.approx(math.erfc(abs(z) / math.sqrt(2)), rel=1e-9)
    assert result.p_value == pytest.approx(2.0078656e-05, rel=1e-7)


def test_z_test_single_shared_value_is_no_drift() -> None:
    assert st.z_test(counts(10), counts(3)) == (0.0, 1.0)
    with pytest.raises(ValueError):
        st.z_test(counts(1, 2, 3), counts(1, 2, 3))


def test_fill_zeros_rule() -> None:
    assert st.fill_zeros(np.array([0.5, 0.5, 0.0])).tolist() == [0.5, 0.5, 1e-4]
    filled = st.fill_zeros(np.array([0.99995, 0.00005, 0.0]))
    assert filled[2] == pytest.approx(5e-11, rel=1e-12)


def test_psi_kl_js_hellinger_by_hand() -> None:
    ref, cur = counts(50, 50), counts(25, 75)
    assert st.psi(ref, cur).statistic == pytest.approx(0.25 * math.log(3), rel=1e-14)
    assert st.kl_div(ref, cur).statistic == pytest.approx(0.5 * math.log(4 / 3), rel=1e-14)
    expected_h = math.sqrt(1 - (math.sqrt(0.125) + math.sqrt(0.375)))
    assert st.hellinger(ref, cur).statistic == pytest.approx(expected_h, rel=1e-14)
    # Disjoint supports: JS distance is sqrt(ln 2) with natural logs, Hellinger is 1.
    assert st.jensenshannon(counts(1, 0), counts(0, 1)).statistic == pytest.approx(math.sqrt(math.log(2)))
    assert st.hellinger(counts(1, 0), counts(0, 1)).statistic == 1.0
    assert st.psi(ref, cur).p_value is None


def test_psi_fills_empty_bins_on_each_side_separately() -> None:
    # Reference has no "c": its share becomes 1e-4; current keeps its own shares.
    value = st.psi(counts(50, 50, 0), counts(40, 40, 20)).statistic
    expected = 2 * (0.5 - 0.4) * math.log(0.5 / 0.4) + (1e-4 - 0.2) * math.log(1e-4 / 0.2)
    assert value == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("kind", ["float", "int", "constant"])
def test_sturges_counts_match_numpy_edges_over_both_samples(kind: str) -> None:
    rng = np.random.default_rng(3)
    if kind == "float":
        ref, cur = rng.normal(0, 1, 5000), rng.normal(0.5, 1.5, 3000)
    elif kind == "int":
        ref, cur = rng.integers(0, 30, 5000), rng.integers(5, 40, 3000)
    else:
        ref, cur = np.full(10, 4.0), np.full(7, 4.0)
    edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    got_ref, got_cur = st.sturges_counts(ref, cur)
    assert got_ref.tolist() == np.histogram(ref, edges)[0].tolist()
    assert got_cur.tolist() == np.histogram(cur, edges)[0].tolist()


def test_value_counts_align_on_union() -> None:
    keys, ref, cur = st.value_counts(np.array([1.0, 1.0, 3.0]), np.array([2.0, 3.0, 3.0, 3.0]))
    assert keys.tolist() == [1.0, 2.0, 3.0]
    assert ref.tolist() == [2, 0, 1]
    assert cur.tolist() == [0, 1, 3]


def test_verdict_boundaries() -> None:
    assert st.is_drift("ks", 0.05, 0.05)  # KS: p <= threshold
    assert not st.is_drift("chisquare", 0.05, 0.05)  # chi-square and z: p < threshold
    assert not st.is_drift("z", 0.05, 0.05)
    assert st.is_drift("wasserstein", 0.1, 0.1)  # distances: d >= threshold
    assert not st.is_drift("psi", 0.0999, 0.1)


def test_jensenshannon_matches_scipy() -> None:
    from scipy.spatial import distance

    rng = np.random.default_rng(5)
    ref, cur = rng.integers(0, 50, 12), rng.integers(0, 50, 12)
    ref[3] = 0  # an empty bin on one side
    want = distance.jensenshannon(ref / ref.sum(), cur / cur.sum())
    assert st.jensenshannon(ref, cur).statistic == pytest.approx(float(want), abs=1e-15)


def test_sturges_widens_integer_bins_narrower_than_one() -> None:
    # 21 distinct integers over 2**21 rows: Sturges asks for 22 bins of width 20/22 < 1, which numpy
    # widens to 1 for integer data (20 bins); the same values as floats keep 22 bins.
    ref = np.resize(np.arange(21), 2**20)
    cur = np.resize(np.arange(1, 21), 2**20)
    edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    assert edges.size - 1 == 20
    got_ref, got_cur = st.sturges_counts(ref.astype(float), cur.astype(float), integer=True)
    assert got_ref.tolist() == np.histogram(ref, edges)[0].tolist()
    assert got_cur.tolist() == np.histogram(cur, edges)[0].tolist()
    assert st.sturges_counts(ref.astype(float), cur.astype(float))[0].size == 22
