"""Rendering: animated GIFs of stick figures, filmstrips and series plots are valid image files."""
import numpy as np
import pytest
from PIL import Image

from gankit.errors import GankitError
from gankit.sequence import render
from gankit.sequence import skeleton as sk


@pytest.fixture(scope="module")
def clips():
    x, y = sk.make_motion(4, seed=0, frames=12)
    return x, y


def test_gif_is_animated_with_one_frame_per_step(tmp_path, clips):
    x, y = clips
    path = render.render_motion_gif(x, sk.skeleton_info(), tmp_path / "m.gif", fps=10,
                                    titles=[sk.ACTIONS[k] for k in y])
    im = Image.open(path)
    assert im.format == "GIF" and im.is_animated and im.n_frames == 12
    assert im.info.get("duration") == 100  # 10 fps
    frames = []
    for k in (0, 6):
        im.seek(k)
        frames.append(np.asarray(im.convert("L"), dtype=np.int16))
    assert np.abs(frames[0] - frames[1]).sum() > 0  # the figures move
    assert (frames[0] < 128).any()  # something is drawn


def test_mp4_without_ffmpeg_is_a_clear_error(tmp_path, clips, monkeypatch):
    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    with pytest.raises(GankitError, match="ffmpeg is not installed; write a .gif"):
        render.render_motion_gif(clips[0], sk.skeleton_info(), tmp_path / "m.mp4")


def test_filmstrip_and_series_plots_are_pngs(tmp_path, clips):
    strip = render.motion_filmstrip(clips[0], sk.skeleton_info(), tmp_path / "s.png", frames=5)
    assert Image.open(strip).format == "PNG"
    series = np.random.default_rng(0).normal(size=(6, 20, 3))
    p = render.plot_series(series, tmp_path / "p.png", real=series[::-1], names=["a", "b", "c"])
    im = Image.open(p)
    assert im.format == "PNG" and im.size[0] > im.size[1] / 2
