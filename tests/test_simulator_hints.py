"""A create's shot and take reach the built-in simulator (its previz label and take variation) as
X-Shots-* headers, and no other server: the real API is told only the API's fields."""

from __future__ import annotations

import asyncio

import pytest

from pipeline.minimax.dialects import Clients

V1 = {"model": "MiniMax-Hailuo-02", "prompt": "A gull", "duration": 6, "resolution": "768P"}
V2 = {"model": "MiniMax-H3", "content": [{"type": "text", "text": "A gull"}], "duration": 4,
      "resolution": "768P", "ratio": "16:9"}


@pytest.mark.parametrize("hinted", [False, True])
def test_hints_are_sent_only_by_a_client_made_for_the_built_in_simulator(sim, hinted):
    async def create_both() -> None:
        async with Clients(api_key="sim-key", base_url=sim.base_url, simulator_hints=hinted) as client:
            await client.create(V1, hints={"shot": "s09", "take": 3})
            await client.create(V2, hints={"shot": "s09", "take": 3})

    asyncio.run(create_both())
    labels = [(t["label"], t["take"]) for t in (*sim.tasks(), *sim.v2_tasks())]
    if hinted:
        assert labels == [("s09 · take 3", 3)] * 2
    else:  # the simulator numbers identical requests itself and labels them from the prompt
        assert labels == [("A gull · #1", 1)] * 2


def test_the_embedded_run_labels_each_previz_with_its_shot_and_take(tmp_path):
    import json
    import os
    import subprocess

    from runs import ROOT, shots_cmd

    env = {k: v for k, v in os.environ.items() if not k.startswith("MINIMAX_")}
    run = subprocess.run(shots_cmd("run", str(ROOT / "manifests" / "example.yaml"), "--out", str(tmp_path),
                                   "--only", "s02-keeper", "--json", "--no-lock-file"),
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    records = [json.loads(line) for line in (tmp_path / "lighthouse-teaser" / ".simulator" / "tasks.jsonl")
               .read_text().splitlines()]
    assert sorted(r["render"]["label"] for r in records) == ["s02-keeper · take 1", "s02-keeper · take 2"]
