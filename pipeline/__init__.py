"""shots: a YAML shot list in, MiniMax (Hailuo) videos and a results ledger out."""

__version__ = "0.1.0"  # the one place it is written: pyproject.toml reads it from here
