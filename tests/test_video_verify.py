"""video.verify: a truncated download is never taken for a video (issue 12, point 1)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest
from PIL import Image

from pipeline.run import video


def make_video(path: Path, *, seconds: float = 2.0, fps: int = 24, faststart: bool, audio: bool = False) -> Path:
    """An H.264 MP4; `faststart` puts the index first, as CDNs serve them (and as a cut half still opens)."""
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", format="mp4", options=options) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 160, 90, "yuv420p"
        stream.time_base = Fraction(1, fps)
        sound = out.add_stream("aac", rate=48000) if audio else None
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_image(Image.effect_noise((160, 90), 40 + i).convert("RGB"))
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        if sound is not None:
            for n in range(int(seconds * 48000 / 1024)):
                aframe = av.AudioFrame(format="fltp", layout="mono", samples=1024)
                aframe.planes[0].update(bytes(aframe.planes[0].buffer_size))  # silence
                aframe.sample_rate, aframe.pts = 48000, n * 1024
                out.mux(sound.encode(aframe))
            out.mux(sound.encode(None))
    return path


@pytest.mark.parametrize("faststart", [True, False])
@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.9, 0.99, 0.9999])
def test_a_cut_video_is_refused_wherever_it_is_cut(tmp_path, faststart, fraction):
    whole = make_video(tmp_path / "whole.mp4", faststart=faststart)
    assert video.verify(whole, 2.0).frames == 48
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(video.VideoError, match="truncated|not a playable video"):
        video.verify(cut, 2.0)


def test_the_size_the_api_announced_is_checked(tmp_path):
    whole = make_video(tmp_path / "whole.mp4", faststart=True)
    size = whole.stat().st_size
    assert video.verify(whole, 2.0, expected_bytes=size).duration == pytest.approx(2.0)
    with pytest.raises(video.VideoError, match=f"the API announced {size + 10}"):
        video.verify(whole, 2.0, expected_bytes=size + 10)


def test_audio_is_checked_where_the_model_makes_it(tmp_path):
    silent = make_video(tmp_path / "silent.mp4", faststart=True)
    with pytest.raises(video.VideoError, match="no audio track"):
        video.verify(silent, 2.0, audio=True)
    sound = make_video(tmp_path / "sound.mp4", faststart=True, audio=True)
    assert video.verify(sound, 2.0, audio=True).audio
