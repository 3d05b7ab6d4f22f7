"""`shots`, without the report that `shots run` writes after a run: the runner's own figures.

A separate script, importing nothing but the CLI, so that a measured child process loads what
`shots` loads and no more (bench/scale.py imports the manifest checker for its own use).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline import cli  # noqa: E402

if __name__ == "__main__":
    cli._report_after_run = lambda *args, **kwargs: None
    sys.exit(cli.main(sys.argv[1:]))
