import pytest

from retrieval.fusion import reciprocal_rank_fusion, weighted_sum_fusion


def test_rrf_rewards_agreement_between_lists():
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1, 4]], k=60)
    assert [item for item, _ in fused] == [1, 3, 2, 4]
    assert dict(fused)[1] == pytest.approx(1 / 61 + 1 / 62)


def test_rrf_weights_favour_a_list():
    fused = reciprocal_rank_fusion([[1, 2], [2, 1]], k=1, weights=[3.0, 1.0])
    assert fused[0][0] == 1


def test_rrf_needs_one_weight_per_list():
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([[1], [2]], weights=[1.0])


def test_weighted_sum_normalises_each_list():
    fused = weighted_sum_fusion([[(1, 10.0), (2, 5.0), (3, 0.0)], [(3, 0.9), (2, 0.8), (1, 0.1)]])
    scores = dict(fused)
    assert scores[1] == pytest.approx(1.0 + 0.0)
    assert scores[2] == pytest.approx(0.5 + 0.875)
    assert fused[0][0] == 2
