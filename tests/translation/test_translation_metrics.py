"""Translation metrics: pixel agreement (L1, PSNR, SSIM) against values computed by hand, and the
reference classifier's training, determinism and cache."""
import math

import numpy as np
import pytest
import torch

from gankit.errors import GankitError
from gankit.metrics.translation import TranslationClassifier, pixel_metrics


def test_pixel_metrics_of_a_known_offset():
    g = torch.Generator().manual_seed(0)
    tgt = torch.randint(20, 200, (4, 1, 16, 16), generator=g).to(torch.uint8)
    out = tgt + 10  # no overflow: values stay below 255
    m = pixel_metrics(out, tgt)
    assert m["l1"] == pytest.approx(10 / 127.5)
    assert m["psnr"] == pytest.approx(20 * math.log10(255 / 10))  # MSE = 100
    assert m["ssim"] < 1.0
    same = pixel_metrics(tgt, tgt)
    assert same["l1"] == 0 and same["ssim"] == pytest.approx(1.0) and same["psnr"] == math.inf


def test_ssim_of_colour_images_averages_channels():
    from skimage.metrics import structural_similarity

    g = torch.Generator().manual_seed(1)
    a = torch.randint(0, 256, (1, 3, 16, 16), generator=g).to(torch.uint8)
    b = torch.randint(0, 256, (1, 3, 16, 16), generator=g).to(torch.uint8)
    per_channel = [structural_similarity(a[0, c].numpy(), b[0, c].numpy(), data_range=255) for c in range(3)]
    assert pixel_metrics(b, a)["ssim"] == pytest.approx(np.mean(per_channel))


def test_pixel_metrics_reject_mismatched_inputs():
    with pytest.raises(GankitError, match="uint8 images of one shape"):
        pixel_metrics(torch.zeros(2, 1, 8, 8, dtype=torch.uint8), torch.zeros(2, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(GankitError, match="uint8"):
        pixel_metrics(torch.zeros(2, 1, 8, 8), torch.zeros(2, 1, 8, 8))


def _two_classes(n=400):
    """Bright squares top-left (class 0) or bottom-right (class 1) on noise: an easy task."""
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(n, 1, 16, 16, generator=g) * 60).to(torch.uint8)
    y = torch.arange(n) % 2
    x[y == 0, :, 2:7, 2:7] = 220
    x[y == 1, :, 9:14, 9:14] = 220
    return x, y


def test_classifier_learns_is_deterministic_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    x, y = _two_classes()
    c = TranslationClassifier(x, y, ["tl", "br"], "domains", epochs=2)
    assert c.accuracy > 0.95 and c.path.is_file()
    assert torch.equal(c.predict(x[:50]), y[:50])
    assert c.features(x[:5]).shape == (5, 128)
    monkeypatch.setattr(TranslationClassifier, "_train", lambda *a: pytest.fail("trained again despite the cache"))
    again = TranslationClassifier(x, y, ["tl", "br"], "domains", epochs=2)
    assert again.weights_hash == c.weights_hash and again.accuracy == c.accuracy


def test_classifier_retrains_when_the_data_change(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    x, y = _two_classes()
    a = TranslationClassifier(x, y, ["tl", "br"], "domains", epochs=1)
    x2 = x.clone()
    x2[0, 0, 0, 0] ^= 1  # one pixel
    b = TranslationClassifier(x2, y, ["tl", "br"], "domains", epochs=1)
    assert a.path != b.path
