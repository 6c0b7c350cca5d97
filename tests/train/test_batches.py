"""Data order: a function of (seed, epoch, position); ranks split each global batch exactly."""

import pytest
import torch

from ssmem.train.batches import SplitLoader, epoch_permutation, eval_batches, steps_per_epoch, train_batches


def test_order_depends_on_seed_and_epoch_only():
    a = epoch_permutation(100, seed=3, epoch=2)
    assert a.tolist() == epoch_permutation(100, seed=3, epoch=2).tolist()
    assert sorted(a.tolist()) == list(range(100))
    assert a.tolist() != epoch_permutation(100, seed=3, epoch=3).tolist()
    assert a.tolist() != epoch_permutation(100, seed=4, epoch=2).tolist()


def test_resuming_mid_epoch_continues_the_same_batches():
    full = train_batches(103, 10, seed=0, epoch=1, start=0, rank=0, world_size=1, drop_last=True)
    assert len(full) == 10 == steps_per_epoch(103, 10, drop_last=True)
    rest = train_batches(103, 10, seed=0, epoch=1, start=4, rank=0, world_size=1, drop_last=True)
    assert rest == full[4:]
    kept = train_batches(103, 10, seed=0, epoch=1, start=0, rank=0, world_size=1, drop_last=False)
    assert len(kept) == 11 and len(kept[-1]) == 3


def test_ranks_partition_each_global_batch():
    single = train_batches(64, 8, seed=5, epoch=0, start=0, rank=0, world_size=1, drop_last=True)
    shards = [train_batches(64, 8, seed=5, epoch=0, start=0, rank=r, world_size=2, drop_last=True) for r in range(2)]
    for b, batch in enumerate(single):
        assert shards[0][b] + shards[1][b] == batch
    with pytest.raises(ValueError, match="must be divisible by the number of processes"):
        train_batches(64, 7, seed=5, epoch=0, start=0, rank=0, world_size=2, drop_last=True)


def test_eval_batches_cover_the_split_once():
    per_rank = [eval_batches(23, 5, rank=r, world_size=2, max_batches=None) for r in range(2)]
    seen = sorted(i for batches in per_rank for batch in batches for i in batch)
    assert seen == list(range(23))
    assert eval_batches(23, 5, rank=0, world_size=1, max_batches=2) == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]


def test_too_small_a_training_split_is_an_error():
    with pytest.raises(ValueError, match="fewer than one batch of 32"):
        steps_per_epoch(10, 32, drop_last=True)


def test_a_split_loader_serves_every_pass_from_one_dataloader():
    """Each call iterates the batches it is given; the DataLoader (and its workers) stay the same object."""
    data = torch.utils.data.TensorDataset(torch.arange(10.0))
    split = SplitLoader(data, num_workers=1, device=torch.device("cpu"))
    first_loader = split._loader
    assert [b[0].tolist() for b in split([[0, 1], [5]])] == [[0.0, 1.0], [5.0]]
    assert [b[0].tolist() for b in split([[9, 3, 2]])] == [[9.0, 3.0, 2.0]]
    assert split._loader is first_loader and first_loader.persistent_workers


def test_a_split_loader_pins_memory_for_a_gpu_only():
    data = torch.utils.data.TensorDataset(torch.arange(4.0))
    assert SplitLoader(data, num_workers=0, device=torch.device("cuda"))._loader.pin_memory
    assert not SplitLoader(data, num_workers=0, device=torch.device("cpu"))._loader.pin_memory
