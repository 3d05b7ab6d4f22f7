"""A status the client does not know: logged once, polled until the deadline, then reported pending.

The simulator only speaks documented statuses, so this one test answers through a fake
transport (STYLE.md: only for a response the simulator cannot produce).
"""

import asyncio
import logging

import httpx

from pipeline.run import ledger, retry
from pipeline.minimax.client import MiniMaxClient
from pipeline.run.ledger import LedgerWriter
from pipeline.manifest.checker import load
from pipeline.run.options import RunOptions
from pipeline.run.runner import Runner
from pipeline.run import workflow

from runs import t2v_shots, write_manifest


def test_unknown_status_is_logged_once_and_polled_until_the_deadline(tmp_path, caplog, monkeypatch):
    queries = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/video_generation":
            return httpx.Response(200, json={"task_id": "106916112212032", "base_resp": {"status_code": 0}})
        queries.append(request.url.params["task_id"])
        return httpx.Response(200, json={"task_id": "106916112212032", "status": "Reviewing",
                                         "base_resp": {"status_code": 0, "status_msg": "success"}})

    monkeypatch.setattr(retry, "POLL_DEADLINE", 300.0)  # 0.3 s at this time scale
    manifest = load(write_manifest(tmp_path, t2v_shots(1)))
    prepared = workflow.prepare(manifest, "fake", tmp_path / "out")
    writer = LedgerWriter(ledger.ledger_path(prepared.out_dir))

    async def main():
        http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
        async with http:
            client = MiniMaxClient(api_key="k", base_url="http://fake.invalid", http=http)
            runner = Runner(client=client, writer=writer, view=prepared.view, out_dir=prepared.out_dir,
                            body_of=lambda spec: {"model": spec.shot.model, "prompt": spec.shot.prompt},
                            options=RunOptions(time_scale=0.001, rpm=600, seed=1))
            return await runner.run(prepared.plan)

    with caplog.at_level(logging.WARNING, logger="shots.runner"):
        result = asyncio.run(main())
    writer.close()
    take = result.results[0]
    assert take.outcome == "pending"
    assert "still Reviewing after the polling deadline" in take.detail
    warnings = [r.message for r in caplog.records if "unknown status" in r.message]
    assert len(warnings) == 1 and "'Reviewing'" in warnings[0]
    assert len(queries) >= 5  # it kept polling
    # The task id is recorded: the next run polls it again, it never creates a second task.
    assert ledger.load(prepared.out_dir).get("s001", 1, prepared.specs[0].fingerprint).state == "submitted"
