"""`python -m pipeline.sim`: the simulator in the foreground, with the `shots sim` options."""

import argparse
import sys

from pipeline.errors import ShotsError
from pipeline.sim import add_sim_arguments, config_from_args, serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.sim",
        description="Run the MiniMax-compatible video API simulator on loopback until Ctrl-C. "
                    "Example: python -m pipeline.sim --port 8765 --time-scale 0.01 --rpm 20",
    )
    add_sim_arguments(parser)
    args = parser.parse_args(argv)
    try:
        serve(config_from_args(args), host=args.host, port=args.port)
    except (ShotsError, ValueError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"Error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
