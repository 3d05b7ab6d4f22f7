"""Lost v2 create answers matched against the task list (pipeline/run/reconcile.py): one
unclaimed fit is adopted, none (once the server has had time) means no task, several stay
uncertain; adopting one task can settle another take."""

from pipeline.run.reconcile import (
    LIST_LAG, Adopt, Ambiguous, Listed, Lost, NoTask, Shape, Wait, reconcile, shape_of,
)

H3 = Shape("MiniMax-H3", 6, "768P", "16:9")


def listed(task_id: str, at: float, **over) -> Listed:
    fields = dict(model="MiniMax-H3", duration=6, resolution="768P", ratio="16:9")
    fields.update(over)
    return Listed(task_id, at, **fields)


def lost(key, sent=1000.0, gone=1010.0, shape=H3) -> Lost:
    return Lost(key, shape, sent, gone)


def test_exactly_one_fitting_task_is_adopted():
    got = reconcile([lost("a")], [listed("111", 1004), listed("222", 900)], claimed=[], now=2000)
    assert got == {"a": Adopt("111")}


def test_a_task_the_ledger_already_holds_is_never_adopted_twice():
    got = reconcile([lost("a")], [listed("111", 1004)], claimed=["111"], now=2000)
    assert got == {"a": NoTask()}


def test_an_empty_list_is_believed_only_after_the_lag():
    early = reconcile([lost("a")], [], claimed=[], now=1010 + LIST_LAG - 1)
    assert early == {"a": Wait(1010 + LIST_LAG)}
    assert reconcile([lost("a")], [], claimed=[], now=1010 + LIST_LAG) == {"a": NoTask()}


def test_several_fits_stay_uncertain_and_name_the_tasks():
    got = reconcile([lost("a")], [listed("222", 1003), listed("111", 1005)], claimed=[], now=2000)
    assert got == {"a": Ambiguous(("111", "222"))}


def test_shape_and_window_both_decide():
    tasks = [
        listed("1", 1004, model="MiniMax-H3-Max"),
        listed("2", 1004, duration=10),
        listed("3", 1004, resolution="2K"),
        listed("4", 1004, ratio="9:16"),
        listed("5", 1004, task_type="regeneration"),
        listed("6", 1000 - 6),  # before the intent, past the skew
        listed("7", 1010 + 6),  # after the answer was given up on
    ]
    assert reconcile([lost("a")], tasks, claimed=[], now=2000) == {"a": NoTask()}


def test_adopting_one_settles_the_next():
    # "b"'s window holds both tasks, "a"'s only the first: a takes 111, which leaves b with 222.
    a = lost("a", sent=1000, gone=1002)
    b = lost("b", sent=1000, gone=1030)
    got = reconcile([b, a], [listed("111", 1001), listed("222", 1020)], claimed=[], now=2000)
    assert got == {"a": Adopt("111"), "b": Adopt("222")}


def test_frames_make_any_ratio_fit():
    body = {"model": "MiniMax-H3", "duration": 6, "resolution": "768P", "ratio": "16:9",
            "content": [{"type": "text", "text": "x"},
                        {"type": "image_url", "image_url": {"url": "sha256:ab"}, "role": "first_frame"}]}
    shape = shape_of(body)
    assert shape.ratio is None
    got = reconcile([lost("a", shape=shape)], [listed("111", 1004, ratio="4:3")], claimed=[], now=2000)
    assert got == {"a": Adopt("111")}
    text_only = shape_of({**body, "content": [{"type": "text", "text": "x"}]})
    assert text_only.ratio == "16:9"


def test_a_task_two_lost_takes_could_each_own_goes_to_neither():
    # a's create made nothing, b's made 111 (or the other way round): the list cannot tell.
    a = lost("a", sent=1000, gone=1010)
    b = lost("b", sent=1002, gone=1012)
    got = reconcile([a, b], [listed("111", 1006)], claimed=[], now=2000)
    assert got == {"a": Ambiguous(("111",)), "b": Ambiguous(("111",))}


def test_a_lost_create_older_than_the_list_shows_is_not_looked_up():
    from pipeline.run.ledger import TakeState
    from pipeline.run.status import listable

    h3 = TakeState("s01", 1, "fp", "uncertain", request={"model": "MiniMax-H3"}, intent_at=1_000_000.0)
    assert listable(h3, now=1_000_000.0 + 86400)
    assert not listable(h3, now=1_000_000.0 + 7 * 86400)  # gone from the list: never "no task, create again"
    v1 = TakeState("s01", 1, "fp", "uncertain", request={"model": "MiniMax-Hailuo-02"}, intent_at=1_000_000.0)
    assert not listable(v1, now=1_000_000.0)
