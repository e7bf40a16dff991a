"""The twin process that does half of a large batch (parties/twin.py): same results, whatever happens to it."""

from __future__ import annotations

import os

import pytest

from aiexport.parties.twin import Twin, can_fork


@pytest.fixture(autouse=True)
def fork_is_used():
    # checked when each test runs: threads left by earlier tests (servers, clients) turn the twin off
    if not can_fork():
        pytest.skip("the twin is not used here (not Linux, one core, or other threads running)")


def test_the_second_half_is_done_in_another_process_that_is_kept():
    twin = Twin(lambda x: (x * 2, os.getpid()))
    (a, here), (b, there) = twin.both((1,), (2,))
    assert (a, b) == (2, 4) and here == os.getpid() and there != here
    (_, _), (_, again) = twin.both((3,), (4,))
    assert again == there  # the same twin, not a new fork
    twin.close()
    assert twin.process.exitcode == 0


def test_a_twin_that_fails_leaves_its_half_to_this_process():
    parent = os.getpid()

    def work(x: int) -> int:
        if os.getpid() != parent:
            raise RuntimeError("fails in the twin only")
        return x + 1

    twin = Twin(work)
    assert twin.both((1,), (2,)) == (2, 3)
    twin.close()


def test_an_error_here_ends_the_twin_so_that_no_stale_answer_is_read_later():
    calls = []

    def work(x: int) -> int:
        calls.append(x)
        if x < 0:
            raise ValueError(x)
        return x

    twin = Twin(work)
    with pytest.raises(ValueError):
        twin.both((-1,), (5,))
    assert twin.both((1,), (2,)) == (1, 2)  # a new twin: not the answer 5 of the batch that failed
    twin.close()


def test_closing_one_twin_ends_it_while_another_runs():
    first, second = Twin(lambda x: x), Twin(lambda x: -x)
    assert first.both((1,), (2,)) == (1, 2) and second.both((1,), (2,)) == (-1, -2)
    first.close()  # the second twin, forked later, must not hold the first one's pipe open
    assert first.process.exitcode == 0
    assert second.both((3,), (4,)) == (-3, -4)
    second.close()


def test_a_fork_of_this_process_does_not_talk_to_this_process_s_twin():
    import multiprocessing

    twin = Twin(lambda x: os.getpid())
    here, there = twin.both((0,), (0,))
    context = multiprocessing.get_context("fork")
    out = context.SimpleQueue()

    def child() -> None:
        out.put(twin.both((0,), (0,))[1])  # its own twin (or itself), never the parent's

    p = context.Process(target=child)
    p.start()
    p.join(timeout=60)
    assert p.exitcode == 0 and out.get() not in (here, there)
    assert twin.both((0,), (0,)) == (here, there)  # the parent's twin still answers the parent
    twin.close()
