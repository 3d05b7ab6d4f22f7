"""shots: a YAML shot list in, MiniMax (Hailuo) videos and a results ledger out."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("shots")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"
