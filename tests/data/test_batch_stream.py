"""BatchStream: shuffled drop-last epochs, exact resume, scaling of uint8 images."""
from __future__ import annotations

import pytest
import torch

from gankit.data import BatchStream, Data
from gankit.errors import GankitError

CPU = torch.device("cpu")


def indexed(n: int) -> Data:
    """x encodes the example's index (float (N, 1)); y repeats it, so batches reveal what they hold."""
    return Data(torch.arange(n, dtype=torch.float32)[:, None], torch.arange(n), name="indexed")


def take(stream: BatchStream, k: int) -> list[list[int]]:
    out = []
    for _ in range(k):
        x, y = stream.next()
        ids = x[:, 0].long().tolist()
        assert ids == y.tolist()  # x and y stay paired
        out.append(ids)
    return out


def flat(batches):
    return [i for b in batches for i in b]


def test_each_epoch_is_a_permutation():
    n, bs = 24, 4
    s = BatchStream(indexed(n), bs, seed=0, device=CPU)
    epochs = [flat(take(s, n // bs)) for _ in range(3)]
    for e in epochs:
        assert sorted(e) == list(range(n))
    assert epochs[0] != epochs[1] and epochs[1] != epochs[2]
    assert epochs[0] != list(range(n))  # shuffled
    assert s.state_dict()["epoch"] == 2


@pytest.mark.parametrize("n,bs", [(10, 3), (11, 3), (9, 2)])
def test_drop_last_epochs(n, bs):
    s = BatchStream(indexed(n), bs, seed=5, device=CPU)
    used = bs * (n // bs)  # the n % bs left-over examples wait for a later epoch
    seen = set()
    for _ in range(8):
        batches = take(s, n // bs)
        assert all(len(b) == bs for b in batches)  # never a short batch
        e = flat(batches)
        assert len(set(e)) == used  # no example twice in an epoch
        seen |= set(e)
    assert seen == set(range(n))  # the left-out examples change with the epoch


def test_seed_changes_order_and_same_seed_repeats():
    a = flat(take(BatchStream(indexed(32), 8, seed=1, device=CPU), 4))
    b = flat(take(BatchStream(indexed(32), 8, seed=1, device=CPU), 4))
    c = flat(take(BatchStream(indexed(32), 8, seed=2, device=CPU), 4))
    assert a == b and a != c


@pytest.mark.parametrize("stop", [0, 1, 3, 5, 6, 7, 12])
def test_resume_mid_epoch(stop):
    n, bs = 20, 4  # 5 batches per epoch
    ref = BatchStream(indexed(n), bs, seed=7, device=CPU)
    expected = take(ref, stop + 9)

    first = BatchStream(indexed(n), bs, seed=7, device=CPU)
    assert take(first, stop) == expected[:stop]
    state = dict(first.state_dict())
    del first

    resumed = BatchStream(indexed(n), bs, seed=7, device=CPU)
    resumed.load_state_dict({k: int(v) for k, v in state.items()})  # as after a JSON round trip
    assert take(resumed, 9) == expected[stop:]


def test_batch_larger_than_dataset():
    with pytest.raises(GankitError) as e:
        BatchStream(indexed(5), 8, seed=0, device=CPU)
    msg = str(e.value)
    assert "5" in msg and "8" in msg and "batch" in msg


def test_batch_equal_to_dataset():
    s = BatchStream(indexed(6), 6, seed=0, device=CPU)
    assert sorted(flat(take(s, 1))) == list(range(6)) and sorted(flat(take(s, 1))) == list(range(6))


def test_uint8_images_become_floats_in_range():
    values = torch.tensor([0, 1, 127, 128, 254, 255], dtype=torch.uint8)
    x = values.view(6, 1, 1, 1).expand(6, 3, 4, 4).contiguous()
    s = BatchStream(Data(x, torch.arange(6)), 6, seed=0, device=CPU)
    xb, yb = s.next()
    assert xb.dtype == torch.float32 and xb.shape == (6, 3, 4, 4)
    assert xb.min() >= -1 and xb.max() <= 1
    expected = values[yb].double() / 255 * 2 - 1  # 0 -> -1, 255 -> +1, linear between
    torch.testing.assert_close(xb[:, 0, 0, 0].double(), expected, atol=1e-6, rtol=0)
    # and the stored data is not changed by the scaling
    assert s.x.dtype == torch.uint8 and torch.equal(s.x, x)


def test_unlabelled_data():
    s = BatchStream(Data(torch.randn(8, 2)), 4, seed=0, device=CPU)
    xb, yb = s.next()
    assert yb is None and xb.shape == (4, 2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_same_batches_on_cuda():
    cpu = take(BatchStream(indexed(40), 8, seed=3, device=CPU), 12)
    cuda = BatchStream(indexed(40), 8, seed=3, device=torch.device("cuda"))
    x, _ = cuda.next()
    assert x.device.type == "cuda"
    assert [x[:, 0].long().tolist()] + take(cuda, 11) == cpu
