"""The root of every error shots raises on purpose, and the exit codes the CLI maps them to.

    ShotsError                 exit 2 unless a subclass says otherwise
    ├── InputError             bad manifest, bad flag, unreadable file (2)
    ├── AbortError             a run cannot go on: account, lock, disk (3)
    └── pipeline.minimax.client.ApiError  the API client's tree (see api.py)
"""

EXIT_OK = 0
EXIT_SHOTS_FAILED = 1
EXIT_INVALID = 2
EXIT_ABORTED = 3
EXIT_INTERRUPTED = 130


class ShotsError(Exception):
    """Something the user can act on; str() is the one-line message the CLI prints."""

    exit_code = EXIT_INVALID


class InputError(ShotsError):
    """Invalid input or usage: a manifest, a flag, a file."""

    exit_code = EXIT_INVALID


class AbortError(ShotsError):
    """The run stops before or during work: account-wide API failure, run lock held, disk."""

    exit_code = EXIT_ABORTED
