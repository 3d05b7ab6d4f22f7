"""Make the small files the invalid-manifest corpus points at: `python make_assets.py`
(`python make_assets.py media` makes only the v2 videos and sounds).

Each breaks (or, for good.* and ref.*, passes) one of the API's input rules. Committed, so the
corpus also works from the command line (`shots validate tests/manifests/invalid/*.yaml`).
"""

import os
import sys
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))  # tests/, for media.py


def main() -> None:
    Image.new("RGB", (640, 360), (20, 60, 120)).save(HERE / "good.jpg", quality=70)
    Image.new("RGB", (640, 360), (200, 120, 40)).save(HERE / "good.png")
    Image.new("RGB", (480, 640), (230, 190, 160)).save(HERE / "face.jpg", quality=70)
    Image.new("RGB", (300, 400), (90, 90, 90)).save(HERE / "small.png")  # short side must be over 300
    Image.new("RGB", (1000, 320), (90, 90, 90)).save(HERE / "wide.png")  # 3.1:1, over 5:2
    Image.new("RGB", (640, 360), (90, 90, 90)).save(HERE / "really-a-gif.jpg", format="GIF")
    Image.new("1", (9000, 9000)).save(HERE / "huge.png", optimize=True)  # 81 megapixels in 10 KB: sides over 8192
    (HERE / "notes.jpg").write_text("not an image, just text with a .jpg name\n")
    link = HERE / "outside.jpg"  # a symlink out of the project
    if link.is_symlink() or link.exists():
        link.unlink()
    os.symlink("/etc/passwd", link)


def media() -> None:
    """v2 (MiniMax-H3) references: good ones, and one per broken video or audio rule."""
    from media import make_video, make_wav

    make_video(HERE / "ref.mp4", seconds=2)  # 2 s, 24 fps, H.264 + AAC: passes
    make_wav(HERE / "ref.wav", seconds=2)  # passes
    make_video(HERE / "eight-seconds.mp4", seconds=8, size=(256, 256))  # two of them make 16 s, over 15
    make_video(HERE / "slow.mp4", seconds=2, fps=15, sound=None)  # under 23.976 fps
    make_wav(HERE / "short.wav", seconds=1)  # under 2 s


if __name__ == "__main__":
    if sys.argv[1:] != ["media"]:
        main()
    media()
