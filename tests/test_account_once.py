"""A run stopped by an account error (bad key, no balance) says the error once (issue 14)."""

from __future__ import annotations

import pytest

from runs import KEY, run_cli, t2v_shots, write_manifest

STOPPED = "stopped: account error (see below)"


@pytest.mark.parametrize("keys, no_balance, said", [
    (("someone-else",), (), "the API secret key is not valid (1004)"),  # MINIMAX_API_KEY the sim does not know
    ((KEY,), (KEY,), "insufficient balance"),
])
def test_rows_point_below_and_the_error_is_last(sim_factory, tmp_path, keys, no_balance, said):
    sim = sim_factory(keys=keys, no_balance_keys=no_balance)
    manifest = write_manifest(tmp_path, t2v_shots(6))
    done = run_cli(sim, "run", str(manifest), "--out", str(tmp_path / "out"), "--concurrency", "4", "--rpm", "60",
                   cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("s00")]
    assert len(rows) == 6 and all(row.endswith(STOPPED) for row in rows), done.stdout
    assert said not in done.stdout
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ") and said in last


def test_the_error_is_printed_once(sim_factory, tmp_path):
    sim = sim_factory(keys=("someone-else",))
    manifest = write_manifest(tmp_path, t2v_shots(3))
    done = run_cli(sim, "run", str(manifest), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 3
    assert (done.stdout + done.stderr).count("(1004)") == 1, done.stdout + done.stderr
