"""Make the small images the invalid-manifest corpus points at: `python make_assets.py`.

Each breaks (or, for good.*, passes) one of the API's image rules. Committed, so the corpus
also works from the command line (`shots validate tests/manifests/invalid/*.yaml`).
"""

import os
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent


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


if __name__ == "__main__":
    main()
