"""What the ledger says of a take, decided once (run/status.py): the plan's action, the runner's
starting outcome, the contact sheet's status and `shots status`'s state all follow one table."""

from __future__ import annotations

import json

import pytest

from pipeline.manifest.models import Shot
from pipeline.review import report, summary
from pipeline.run import ledger, request
from pipeline.run.ledger import event
from pipeline.run.plan import PlannedTake, TakeSpec, make_plan, outcome_of
from pipeline.run.status import CREATES, SKIPS, Action, Standing, classify

ENDPOINT = "simulator"
OLD_REQUEST = {"model": "MiniMax-Hailuo-02", "prompt": "old"}
OLD_FP = request.fingerprint(OLD_REQUEST, ENDPOINT)  # made on this endpoint
ELSEWHERE_FP = request.fingerprint(OLD_REQUEST, "https://api.minimax.io")
SPEC = TakeSpec(Shot(id="s01", mode="text_to_video", model="MiniMax-Hailuo-02", prompt="new"), 1, "fpnew",
                {"model": "MiniMax-Hailuo-02", "prompt": "new"})


def view_of(*events) -> ledger.LedgerView:
    return ledger.replay([event(kind, "s01", 1, fp, **fields) for kind, fp, fields in events])


NOW = "fpnew"
HISTORIES = {
    "nothing": [],
    "downloaded": [("intent", NOW, {}), ("submitted", NOW, {"task_id": "t1"}),
                   ("succeeded", NOW, {"file_id": "f1"}),
                   ("downloaded", NOW, {"file": "s01.mp4", "bytes": 3, "sha256": "ab"})],
    "succeeded": [("intent", NOW, {}), ("submitted", NOW, {"task_id": "t1"}), ("succeeded", NOW, {"file_id": "f1"})],
    "submitted": [("intent", NOW, {}), ("submitted", NOW, {"task_id": "t1"})],
    "failed": [("intent", NOW, {}), ("submitted", NOW, {"task_id": "t1"}),
               ("failed", NOW, {"code": 1027, "reason": "flagged"})],
    "intent": [("intent", NOW, {})],
    "uncertain": [("intent", NOW, {}), ("uncertain", NOW, {"reason": "the answer was lost"})],
    "refused, not final": [("intent", NOW, {}), ("create_failed", NOW, {"code": 1002, "reason": "busy"})],
    "edited": [("intent", OLD_FP, {"req": OLD_REQUEST}), ("submitted", OLD_FP, {"task_id": "t0"})],
    "made elsewhere": [("intent", ELSEWHERE_FP, {"req": OLD_REQUEST}), ("submitted", ELSEWHERE_FP, {"task_id": "t0"})],
}

# history -> (standing, action, runner's outcome, the page's status, `shots status` state)
TABLE = {
    "nothing": (Standing.NEW, "submit", "pending", "pending", "new"),
    "downloaded": (Standing.DONE, "up to date", "done", "done", "downloaded"),
    "succeeded": (Standing.GENERATED, "download only", "pending", "pending", "succeeded"),
    "submitted": (Standing.GENERATING, "poll existing task", "pending", "pending", "submitted"),
    "failed": (Standing.FAILED, "failed: skipped", "failed", "failed", "failed"),
    "intent": (Standing.UNCERTAIN, "uncertain: skipped", "uncertain", "uncertain", "intent"),
    "uncertain": (Standing.UNCERTAIN, "uncertain: skipped", "uncertain", "uncertain", "uncertain"),
    "refused, not final": (Standing.NEW, "submit", "pending", "pending", "new"),
    "edited": (Standing.CHANGED, "changed: regenerate", "pending", "changed", "changed"),
    "made elsewhere": (Standing.ELSEWHERE, "submit", "pending", "changed", "changed"),
}


@pytest.mark.parametrize("history", list(TABLE))
def test_every_view_reads_the_one_classification(history):
    standing, action, outcome, page, state = TABLE[history]
    view = view_of(*HISTORIES[history])
    status = classify(SPEC, view, lambda s: None, endpoint=ENDPOINT)
    assert (status.standing, status.action) == (standing, action)
    planned = make_plan([SPEC], view, lambda s: None, endpoint=ENDPOINT).takes[0]
    assert (planned.action, planned.reason) == (status.action, status.reason)
    assert outcome_of(planned)[0] == outcome
    assert report.take_row(1, status).status == page
    assert summary.status_rows([SPEC], view)[0]["state"] == state


def test_a_damaged_video_is_fetched_again_and_the_page_says_why():
    view = view_of(*HISTORIES["downloaded"])
    status = classify(SPEC, view, lambda s: "video s01.mp4 is missing")
    assert (status.standing, status.action) == (Standing.DAMAGED, Action.DOWNLOAD)
    assert status.reason == "video s01.mp4 is missing; the task's file is fetched again (no new charge)"
    row = report.take_row(1, status)
    assert (row.status, row.billed, row.video) == ("pending", True, None)
    assert row.reason == "video s01.mp4 is missing; the next run downloads it again (no new charge)"
    # Without a file check (shots status) the ledger is taken at its word.
    assert classify(SPEC, view).standing is Standing.DONE


def test_the_flags_turn_skips_into_creates():
    failed, uncertain = view_of(*HISTORIES["failed"]), view_of(*HISTORIES["uncertain"])
    assert classify(SPEC, failed, retry_failed=True).action is Action.RETRY_FAILED
    assert classify(SPEC, uncertain, resubmit_uncertain=True).action is Action.RESUBMIT_UNCERTAIN
    assert classify(SPEC, failed, resubmit_uncertain=True).action is Action.FAILED_SKIPPED


def test_a_skipped_take_starts_with_its_final_outcome():
    view = view_of(*HISTORIES["failed"])
    planned = make_plan([SPEC], view, lambda s: None).takes[0]
    assert outcome_of(planned) == ("failed", "flagged")
    done = make_plan([SPEC], view_of(*HISTORIES["downloaded"]), lambda s: None).takes[0]
    assert outcome_of(done) == ("done", "downloaded s01.mp4")
    assert outcome_of(PlannedTake(SPEC, Action.SUBMIT, "not run before", done.state, 0.28)) == ("pending", "")


def test_actions_are_the_words_users_read():
    assert [a.value for a in Action] == [
        "submit", "changed: regenerate", "retry failed", "resubmit uncertain", "look up lost task", "poll existing task",
        "download only", "up to date", "failed: skipped", "uncertain: skipped", "blocked"]
    for action in Action:
        assert action == action.label and f"{action}" == str(action) == action.value
        assert json.dumps({"action": action}) == json.dumps({"action": action.value})
        assert action.creates == (action in CREATES) and action.skips == (action in SKIPS)
    assert "poll existing task" in {Action.POLL} and Action("up to date") is Action.UP_TO_DATE
