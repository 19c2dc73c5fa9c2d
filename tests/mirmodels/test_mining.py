"""Triplet loss and online mining (mirmodels.losses) against brute-force loops over anchors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pyjama_tools.core.errors import ParameterError
from mirmodels.losses import (
    TripletLoss,
    mine_hard,
    mine_random,
    mine_semihard,
    pairwise_distances,
    triplet_loss,
    triplet_masks,
)

# 4 works x 3 performances + one work with a single performance (an anchor without positive)
LABELS = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4])


def _embeddings(seed: int = 0, dim: int = 4) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.normal(size=(len(LABELS), dim)))  # float64: no ties, exact comparisons


def _brute_distances(x: np.ndarray) -> np.ndarray:
    n, dim = x.shape
    d = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            d[i, j] = sum((x[i, k] - x[j, k]) ** 2 for k in range(dim)) / dim
    return d


def _positives(a: int) -> list[int]:
    return [p for p in range(len(LABELS)) if p != a and LABELS[p] == LABELS[a]]


def _negatives(a: int) -> list[int]:
    return [n for n in range(len(LABELS)) if LABELS[n] != LABELS[a]]


def _brute_hard(d: np.ndarray) -> set[tuple[int, int, int]]:
    triplets = set()
    for a in range(len(LABELS)):
        pos, neg = _positives(a), _negatives(a)
        if pos and neg:
            triplets.add((a, max(pos, key=lambda p: d[a, p]), min(neg, key=lambda n: d[a, n])))
    return triplets


def _brute_semihard(d: np.ndarray, margin: float) -> tuple[set[tuple[int, int, int]], dict[str, int]]:
    """FaceNet's semi-hard rule as TensorFlow Addons implements it, branch by branch."""
    triplets, branches = set(), {"semihard": 0, "beyond margin": 0, "all closer": 0}
    for a in range(len(LABELS)):
        neg = _negatives(a)
        if not neg:
            continue
        for p in _positives(a):
            semihard = [n for n in neg if d[a, p] < d[a, n] < d[a, p] + margin]
            beyond = [n for n in neg if d[a, n] >= d[a, p] + margin]
            if semihard:
                branches["semihard"] += 1
                triplets.add((a, p, min(semihard, key=lambda n: d[a, n])))
            elif beyond:
                branches["beyond margin"] += 1
                triplets.add((a, p, min(beyond, key=lambda n: d[a, n])))
            else:  # every negative is closer than the positive: the least hard one
                branches["all closer"] += 1
                triplets.add((a, p, max(neg, key=lambda n: d[a, n])))
    return triplets, branches


def _as_set(triplets) -> set[tuple[int, int, int]]:
    return {tuple(int(v) for v in t) for t in zip(triplets.anchor, triplets.positive, triplets.negative)}


def test_distances_are_squared_euclidean_over_dimension():
    x = _embeddings()
    d = pairwise_distances(x)
    np.testing.assert_allclose(d.numpy(), _brute_distances(x.numpy()), atol=1e-12)
    plain = pairwise_distances(x, normalize=False)
    np.testing.assert_allclose(plain.numpy(), d.numpy() * x.shape[1], atol=1e-12)


def test_distance_value_by_hand():
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    # squared distance 25, divided by the embedding size 2
    assert pairwise_distances(x)[0, 1].item() == pytest.approx(12.5)


def test_masks():
    positive, negative = triplet_masks(torch.tensor([0, 0, 1]))
    assert positive.tolist() == [[False, True, False], [True, False, False], [False, False, False]]
    assert negative.tolist() == [[False, False, True], [False, False, True], [True, True, False]]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hard_mining_matches_brute_force(seed):
    x = _embeddings(seed)
    d = pairwise_distances(x)
    mined = mine_hard(d, torch.from_numpy(LABELS))
    expected = _brute_hard(_brute_distances(x.numpy()))
    assert _as_set(mined) == expected
    assert len(expected) == 12  # the lone performance of work 4 is no anchor


@pytest.mark.parametrize("seed,margin", [(0, 1.0), (1, 0.5), (2, 2.0), (3, 0.2)])
def test_semihard_mining_matches_brute_force(seed, margin):
    x = _embeddings(seed)
    d = pairwise_distances(x)
    mined = mine_semihard(d, torch.from_numpy(LABELS), margin)
    expected, branches = _brute_semihard(_brute_distances(x.numpy()), margin)
    assert _as_set(mined) == expected
    assert len(mined.anchor) == 12 * 2  # every anchor-positive pair
    assert branches["semihard"] > 0 and branches["beyond margin"] + branches["all closer"] > 0


def test_semihard_never_takes_a_negative_closer_than_the_positive_when_a_farther_one_exists():
    # 1-D, D = 1: anchor 0 at 0, its positive 1 at 1 (d_ap = 1); work 1 at 0.2 (d 0.04) and 3 (d 9)
    x = torch.tensor([[0.0], [1.0], [0.2], [3.0]], dtype=torch.float64)
    labels = torch.tensor([0, 0, 1, 1])
    d = pairwise_distances(x)
    mined = mine_semihard(d, labels, margin=1.0)
    chosen = {(a, p): n for a, p, n in _as_set(mined)}
    assert chosen[(0, 1)] == 3  # no semi-hard negative in (1, 2): the closest farther one (loss 0), not 0.2
    # anchor 1 at 1, positive 0 (d_ap 1): item 2 is closer (0.64), item 3 farther (4, beyond the margin)
    assert chosen[(1, 0)] == 3
    # anchor 2 at 0.2, positive 3 (d_ap 7.84): both other-work items are closer (0.04, 0.64): the farthest
    assert chosen[(2, 3)] == 1
    loss = triplet_loss(x, labels, margin=1.0, mining="semihard")
    # pairs (0,1), (1,0): 0; (2,3): 7.84 - 0.64 + 1; (3,2): d_ap 7.84, farther: item 0 (9) -> 0
    assert loss.item() == pytest.approx((7.84 - 0.64 + 1) / 4)


def test_semihard_negative_lies_between_positive_and_margin():
    x = _embeddings(3)
    d = pairwise_distances(x)
    mined = mine_semihard(d, torch.from_numpy(LABELS), 1.0)
    d_ap = d[mined.anchor, mined.positive]
    d_an = d[mined.anchor, mined.negative]
    inside = (d_an > d_ap) & (d_an < d_ap + 1.0)
    assert inside.any()


def test_random_mining_draws_valid_and_uniform_triplets():
    x = _embeddings()
    d = pairwise_distances(x)
    labels = torch.from_numpy(LABELS)
    counts_pos = np.zeros((len(LABELS), len(LABELS)))
    counts_neg = np.zeros((len(LABELS), len(LABELS)))
    generator = torch.Generator().manual_seed(0)
    draws = 600
    for _ in range(draws):
        mined = mine_random(d, labels, generator=generator)
        assert mined.anchor.tolist() == list(range(12))
        for a, p, n in zip(mined.anchor.tolist(), mined.positive.tolist(), mined.negative.tolist()):
            assert p in _positives(a) and n in _negatives(a)
            counts_pos[a, p] += 1
            counts_neg[a, n] += 1
    # 2 positives per anchor -> ~300 each; 10 or 9 negatives -> ~60-67 each (binomial sd < 12)
    pos_freq = counts_pos[counts_pos > 0]
    assert len(pos_freq) == 24 and np.all(np.abs(pos_freq - draws / 2) < 60)
    neg_freq = counts_neg[counts_neg > 0]
    assert len(neg_freq) == sum(len(_negatives(a)) for a in range(12))
    assert neg_freq.min() > 30 and neg_freq.max() < 110


def test_random_mining_is_reproducible_with_a_generator():
    d = pairwise_distances(_embeddings())
    labels = torch.from_numpy(LABELS)
    first = mine_random(d, labels, generator=torch.Generator().manual_seed(5))
    second = mine_random(d, labels, generator=torch.Generator().manual_seed(5))
    assert _as_set(first) == _as_set(second)


@pytest.mark.parametrize("mining", ["random", "semihard", "hard"])
def test_loss_value_matches_brute_force(mining):
    x = _embeddings(4)
    margin = 1.0
    loss, mined = triplet_loss(x, torch.from_numpy(LABELS), margin=margin, mining=mining,
                               generator=torch.Generator().manual_seed(1), return_triplets=True)
    d = _brute_distances(x.numpy())
    hinge = [max(0.0, d[a, p] - d[a, n] + margin) for a, p, n in _as_set(mined)]
    assert loss.item() == pytest.approx(np.mean(hinge), abs=1e-12)


def test_hard_loss_by_hand():
    # 1-D embeddings: work 0 at 0 and 1, work 1 at 1.5 and 4 (D = 1)
    x = torch.tensor([[0.0], [1.0], [1.5], [4.0]])
    labels = torch.tensor([0, 0, 1, 1])
    # anchor 0: d_ap 1, d_an 2.25 -> 0 ; anchor 1: d_ap 1, d_an 0.25 -> 1.75
    # anchor 2: d_ap 6.25, d_an 0.25 -> 7 ; anchor 3: d_ap 6.25, d_an 9 -> 0
    loss = triplet_loss(x, labels, margin=1.0, mining="hard")
    assert loss.item() == pytest.approx((0 + 1.75 + 7 + 0) / 4)


def test_gradients_flow_and_are_finite_with_identical_embeddings():
    x = torch.zeros(6, 3, requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    loss = triplet_loss(x, labels, mining="hard")
    assert loss.item() == pytest.approx(1.0)  # all distances 0 -> margin
    loss.backward()
    assert torch.isfinite(x.grad).all()


def test_batch_without_triplets_gives_zero_loss_connected_to_graph():
    x = torch.randn(4, 3, requires_grad=True)
    for labels in (torch.tensor([0, 0, 0, 0]), torch.tensor([0, 1, 2, 3])):
        for mining in ("random", "semihard", "hard"):
            loss = triplet_loss(x, labels, mining=mining)
            assert loss.item() == 0.0
            loss.backward()
            assert torch.equal(x.grad, torch.zeros_like(x))


def test_bfloat16_embeddings_are_scored_in_float32():
    x = _embeddings(0).float()
    labels = torch.from_numpy(LABELS)
    low = triplet_loss(x.bfloat16(), labels, mining="hard")
    assert low.dtype == torch.float32
    assert low.item() == pytest.approx(triplet_loss(x, labels, mining="hard").item(), rel=0.05)


@pytest.mark.parametrize("mining", ["semihard", "hard"])
def test_distances_stay_float32_under_bf16_autocast(mining):
    # bf16-mixed training runs the loss inside autocast, which would do the Gram product in bf16:
    # a near-duplicate pair (a close cover) would come out ~100x too far and mining would change
    torch.manual_seed(0)
    x = torch.randn(16, 32)
    x[1] = x[0] + 0.01 * torch.randn(32)
    reference = pairwise_distances(x.double())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        distances = pairwise_distances(x)
        loss, triplets = triplet_loss(x, torch.arange(16) // 4, mining=mining, return_triplets=True)
    assert distances.dtype == torch.float32
    torch.testing.assert_close(distances.double(), reference, atol=1e-5, rtol=1e-4)
    expected, expected_triplets = triplet_loss(x.double(), torch.arange(16) // 4, mining=mining, return_triplets=True)
    assert _as_set(triplets) == _as_set(expected_triplets)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_module_and_bad_parameters():
    module = TripletLoss(margin=0.5, mining="semi-hard")
    assert module.params.mining == "semihard"
    assert "semihard" in repr(module)
    x = _embeddings()
    assert module(x, torch.from_numpy(LABELS)).item() >= 0
    with pytest.raises(ParameterError, match=r"^mining: unknown mining strategy 'nearest'; known: hard, random, semihard$"):
        TripletLoss(mining="nearest")
    with pytest.raises(ParameterError, match="margin=0"):
        TripletLoss(margin=0)
    with pytest.raises(ParameterError, match="labels: 3 labels for 13 embeddings"):
        triplet_loss(x, torch.tensor([0, 1, 2]))
    with pytest.raises(ParameterError, match=r"expected shape \(B, D\)"):
        pairwise_distances(torch.zeros(2, 3, 4))
