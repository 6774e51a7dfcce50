"""scheduler.coalesce: calls with the same key in flight at once share one answer."""

import threading

import pytest

from nova_runtime.scheduler.coalesce import Coalescer


def run_together(coalescer, targets, release):
    """Start ``targets`` in threads; once all but the first wait on the first's
    flight, set ``release`` and join them."""
    threads = [threading.Thread(target=target) for target in targets]
    for thread in threads:
        thread.start()
    for _ in range(500):
        if coalescer.shared == len(threads) - 1:
            break
        threading.Event().wait(0.01)
    release.set()
    for thread in threads:
        thread.join(5)


def test_calls_in_flight_together_share_the_first_ones_answer():
    coalescer = Coalescer()
    release = threading.Event()
    calls = []

    def slow_query():
        calls.append(1)
        release.wait(5)
        return {"answer": len(calls)}

    answers = []
    run_together(coalescer, [lambda: answers.append(coalescer.call("q", slow_query))] * 4,
                 release)
    assert coalescer.shared == 3
    assert calls == [1] and answers == [{"answer": 1}] * 4

    # Once answered nothing is kept: the next call asks again.
    assert coalescer.call("q", lambda: "fresh") == "fresh"


def test_different_keys_do_not_wait_for_each_other():
    coalescer = Coalescer()
    inner = []
    outer = coalescer.call("a", lambda: inner.append(coalescer.call("b", lambda: "b")) or "a")
    assert (outer, inner) == ("a", ["b"])


def test_the_leaders_error_reaches_every_sharer_and_the_next_call_tries_again():
    coalescer = Coalescer()
    release = threading.Event()

    def failing():
        release.wait(5)
        raise RuntimeError("Placement did not answer")

    errors = []

    def call():
        try:
            coalescer.call("q", failing)
        except RuntimeError as exc:
            errors.append(str(exc))

    run_together(coalescer, [call] * 3, release)
    assert errors == ["Placement did not answer"] * 3
    with pytest.raises(ValueError):
        coalescer.call("q", lambda: int("x"))
    assert coalescer.call("q", lambda: 1) == 1


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_with_a_max_age_a_recent_answer_is_reused_until_it_is_too_old_or_forgotten():
    clock = Clock()
    coalescer = Coalescer(max_age=5, clock=clock)
    answers = iter(range(10))

    def ask():
        return next(answers)

    assert coalescer.call("q", ask) == 0
    clock.now += 4.9
    assert (coalescer.call("q", ask), coalescer.reused) == (0, 1)
    assert coalescer.answer("q", ask) == (0, True)
    assert coalescer.call("other", ask) == 1  # another key asks for itself
    clock.now += 0.1  # 5 s after the first answer came
    assert coalescer.answer("q", ask) == (2, False)
    assert coalescer.answer("q", ask, fresh=True) == (3, False)  # and keeps the fresh one
    assert coalescer.call("q", ask) == 3
    coalescer.forget("q")
    assert coalescer.call("q", ask) == 4
    with pytest.raises(ValueError):  # an error is not kept
        coalescer.call("e", lambda: int("x"))
    assert coalescer.call("e", ask) == 5
    coalescer.forget()  # every key
    assert (coalescer.call("q", ask), coalescer.call("e", ask)) == (6, 7)


def test_an_answer_is_dated_from_its_arrival_not_from_the_call():
    clock = Clock()
    coalescer = Coalescer(max_age=1, clock=clock)

    def slow():  # an answer that takes longer than max_age to come
        clock.now += 1.5
        return "candidates"

    assert coalescer.answer("q", slow) == ("candidates", False)
    clock.now += 0.9
    assert coalescer.answer("q", slow) == ("candidates", True)
