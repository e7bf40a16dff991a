"""The service's dynamic batching (aiexport.api.answers.Coalescer): concurrent questions are answered
by one engine call; a wave of askers is let in before the call, a lone question is held only while
other askers are in flight, and the wait is bounded."""

from __future__ import annotations

import json
import threading
import time
from contextlib import ExitStack
from datetime import date
from typing import Any

from aiexport.api.answers import Coalescer


class Engine:
    """A stand-in engine call that records the size of every batch it answers."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def __call__(self, bodies: list[dict[str, Any]], options: tuple[Any, ...], batch: bool) -> list[bytes]:
        self.batches.append(len(bodies))
        return [f"{options[0]}:{b['q']}".encode() for b in bodies]


def test_a_lone_question_is_answered_at_once_however_long_the_engine_may_linger() -> None:
    engine = Engine()
    c = Coalescer("lone", engine, linger_ms=20_000, quiet_ms=10_000)
    t0 = time.monotonic()
    with c.asking():
        answer = c.submit(("d",), {"q": 1}).result(timeout=10)
    assert answer == b"d:1"
    assert time.monotonic() - t0 < 5  # not held for the 20 s linger nor the 10 s quiet
    assert engine.batches == [1]


def test_a_lone_question_waits_for_askers_in_flight_and_not_beyond_the_linger() -> None:
    """A question that missed the last wave (its client was a few ms late) waits for that wave's
    clients, whose answers are going out and who ask again at once, instead of taking a whole engine
    call for itself while they queue behind it (50 clients: waves then split in two for a while;
    benchmarks/load.py, 2026-11-30). With none ever coming, it goes alone after the linger."""
    engine = Engine()
    c = Coalescer("straggler", engine, linger_ms=5_000, quiet_ms=400)
    with ExitStack() as askers:
        for _ in range(3):  # the late question's asker and two whose answers are going out
            askers.enter_context(c.asking())
        late = c.submit(("d",), {"q": 1})
        time.sleep(0.2)
        rest = [c.submit(("d",), {"q": i}) for i in (2, 3)]
        assert [f.result(timeout=10) for f in (late, *rest)] == [b"d:1", b"d:2", b"d:3"]
    assert engine.batches == [3]  # the old rule ran the late one alone: [1, 2]

    alone = Engine()
    c = Coalescer("straggler-alone", alone, linger_ms=300, quiet_ms=50)
    with ExitStack() as askers:
        for _ in range(2):  # another asker in flight who never asks
            askers.enter_context(c.asking())
        t0 = time.monotonic()
        assert c.submit(("d",), {"q": 1}).result(timeout=10) == b"d:1"
        waited = time.monotonic() - t0
    assert alone.batches == [1] and 0.25 <= waited < 5


def test_questions_arriving_together_wait_for_the_rest_of_their_wave() -> None:
    engine = Engine()
    c = Coalescer("wave", engine, linger_ms=5_000, quiet_ms=1_000)
    with ExitStack() as askers:
        for _ in range(3):
            askers.enter_context(c.asking())
        with c.cv:  # both are queued before the engine looks
            first = [c.submit(("d",), {"q": i}) for i in (1, 2)]
        time.sleep(0.2)  # the third asker's question comes 0.2 s later, within `quiet`
        third = c.submit(("d",), {"q": 3})
        answers = [f.result(timeout=10) for f in (*first, third)]
    assert answers == [b"d:1", b"d:2", b"d:3"]
    assert engine.batches == [3]  # one engine call for the whole wave


def test_the_wait_for_askers_in_flight_is_bounded_by_the_linger() -> None:
    engine = Engine()
    c = Coalescer("bounded", engine, linger_ms=300, quiet_ms=50)
    with ExitStack() as askers:
        for _ in range(5):  # five in flight, only two ever ask
            askers.enter_context(c.asking())
        t0 = time.monotonic()
        with c.cv:
            futures = [c.submit(("d",), {"q": i}) for i in (1, 2)]
        answers = [f.result(timeout=10) for f in futures]
        waited = time.monotonic() - t0
    assert answers == [b"d:1", b"d:2"]
    assert engine.batches == [2]
    assert 0.25 <= waited < 5  # it waited for the others, then went without them


def test_a_wave_waits_for_an_asker_answered_a_moment_ago_to_ask_again() -> None:
    """A client in a loop asks again as soon as it has its answer: while answers of the last wave are
    still going out, the quiet gap is counted from the last of them, not from the last question (else
    the wave closes without those clients, and they wait a whole engine call for the next one)."""
    engine = Engine()
    c = Coalescer("returning", engine, linger_ms=5_000, quiet_ms=400)
    with ExitStack() as askers:
        askers.enter_context(c.asking())
        askers.enter_context(c.asking())
        with c.cv:  # two questions queued before the engine looks: the wave is forming
            first = [c.submit(("d",), {"q": i}) for i in (1, 2)]
        time.sleep(0.3)
        with c.asking():  # another asker gets its answer now, 0.3 s into the 0.4 s quiet gap ...
            pass
        time.sleep(0.3)  # ... and asks again 0.3 s later: 0.6 s after the last question, 0.3 s after its answer
        with c.asking():
            again = c.submit(("d",), {"q": 3})
            answers = [f.result(timeout=10) for f in (*first, again)]
    assert answers == [b"d:1", b"d:2", b"d:3"]
    assert engine.batches == [3]  # it joined the wave


def test_questions_with_different_options_are_answered_by_separate_calls_of_one_wave() -> None:
    engine = Engine()
    c = Coalescer("options", engine, linger_ms=50, quiet_ms=10)
    with c.cv:
        futures = [c.submit((day,), {"q": i}) for i, day in enumerate(["d1", "d2", "d1"])]
    assert [f.result(timeout=10) for f in futures] == [b"d1:0", b"d2:1", b"d1:2"]
    assert sorted(engine.batches) == [1, 2]


def test_callers_are_counted_only_while_in_flight() -> None:
    c = Coalescer("count", Engine())
    done = threading.Event()

    def ask() -> None:
        with c.asking():
            done.wait(10)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5
    while c.callers < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert c.callers == 4
    done.set()
    for t in threads:
        t.join(10)
    assert c.callers == 0


def test_new_questions_asked_together_through_the_service_each_get_their_own_answer_and_nobody_stays_counted(tmp_path) -> None:
    import asyncio

    import httpx

    from aiexport.api import answers, create_app
    from tests.test_api_support import fresh_database, make_keys

    with fresh_database("sqlite", tmp_path):
        key = make_keys()["viewer"]
        specs = [{"id": f"chip{i}", "int8": 100 + 150 * i, "die_area_mm2": 600, "io_bidir_gbps": 900, "datacenter": "yes"}
                 for i in range(30)]

        async def ask_all() -> list[httpx.Response]:
            transport = httpx.ASGITransport(app=create_app())
            async with httpx.AsyncClient(transport=transport, base_url="https://testserver",
                                         headers={"Authorization": f"Bearer {key}"}) as client:
                return await asyncio.gather(*(client.post("/v1/classify", json=s, params={"as_of": "2026-01-15"}) for s in specs))

        together = asyncio.run(ask_all())
        assert all(r.status_code == 200 for r in together), [r.text for r in together if r.status_code != 200]
        assert answers._classifier.callers == 0  # every asker left the count once answered
        for spec, r in zip(specs, together, strict=True):
            alone = json.loads(answers._classify_rows([spec], (date(2026, 1, 15), None), batch=False)[0])
            assert r.json() == alone  # the answer it would get alone, under its own id


def test_answers_to_be_recorded_go_to_the_recorder_together_and_are_given_once_committed(monkeypatch) -> None:
    from concurrent.futures import Future

    from aiexport.api import recorder

    handed: list[list[Any]] = []
    commits: list[Future[None]] = []

    def submit_many(entries: list[Any]) -> list[Future[None]]:
        handed.append(entries)
        futures: list[Future[None]] = [Future() for _ in entries]
        commits.extend(futures)
        return futures

    monkeypatch.setattr(recorder, "submit_many", submit_many)

    def engine(bodies: list[dict[str, Any]], options: tuple[Any, ...], batch: bool) -> list[bytes]:
        return [json.dumps({"q": b["q"], "rulebook_hash": "r"}).encode() for b in bodies]

    c = Coalescer("recorded", engine, linger_ms=50, quiet_ms=10)
    with c.cv:
        futures = [c.submit(("d",), {"q": i}, ("classify", {"request": i}, "key #1")) for i in range(3)]
        plain = c.submit(("d",), {"q": 9})  # an asker that records its answer itself
    assert json.loads(plain.result(timeout=10)) == {"q": 9, "rulebook_hash": "r"}
    deadline = time.monotonic() + 5
    while not handed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(handed) == 1 and [user for _, user in handed[0]] == ["key #1"] * 3  # one hand-over for the call
    assert [(e.input, e.output["q"], e.rulebook_hash) for e, _ in handed[0]] == [({"request": i}, i, "r") for i in range(3)]
    assert not any(f.done() for f in futures)  # not given before it is on record
    for commit in commits:
        commit.set_result(None)
    assert [json.loads(f.result(timeout=10))["q"] for f in futures] == [0, 1, 2]


def test_a_wave_closes_at_once_when_every_open_connection_is_asking(monkeypatch) -> None:
    # `aiexport serve` counts its open connections (api/connections.py): when every one of them has a
    # question in flight, no other question can come, and the engine does not wait out `quiet`
    from aiexport.api import connections

    engine = Engine()
    c = Coalescer("all-asking", engine, linger_ms=20_000, quiet_ms=5_000)

    def wave(open_connections: int, questions: tuple[int, ...]) -> tuple[list[bytes], float]:
        monkeypatch.setattr(connections, "_open", open_connections)
        with ExitStack() as askers:
            for _ in questions:
                askers.enter_context(c.asking())
            t0 = time.monotonic()
            with c.cv:
                futures = [c.submit(("d",), {"q": q}) for q in questions]
            answers = [f.result(timeout=30) for f in futures]
        return answers, time.monotonic() - t0

    answers, took = wave(3, (1, 2, 3))
    assert answers == [b"d:1", b"d:2", b"d:3"] and engine.batches == [3]
    assert took < 2  # not the 5 s quiet gap
    # one more connection open (idle, or about to ask): the engine waits for the rest of the wave again
    answers, took = wave(4, (4, 5, 6))
    assert answers == [b"d:4", b"d:5", b"d:6"] and took >= 4.5


def test_work_handed_to_a_polars_thread_comes_back_with_its_value_or_its_error() -> None:
    from aiexport.queries import on_engine_thread

    where: list[threading.Thread] = []

    def work() -> int:
        where.append(threading.current_thread())
        return 41 + 1

    assert on_engine_thread(work) == 42
    assert where and where[0] is not threading.current_thread()  # it ran on a polars thread, once
    assert len(where) == 1
    boom = ValueError("a bad row")
    try:
        on_engine_thread(lambda: (_ for _ in ()).throw(boom))
    except ValueError as exc:
        assert exc is boom  # the very error, not polars' wrapping of it
    else:
        raise AssertionError("the error was lost")


def test_engine_calls_of_both_kinds_run_at_once_on_polars_threads_and_answer_as_on_the_callers_thread() -> None:
    """The coalescers' calls run on polars' threads (`queries.on_engine_thread`); several at once, with
    polars' thread pool as the tests have it (two or more threads: one may wait for polars while
    another call runs), must neither deadlock nor change an answer."""
    from aiexport.api import answers
    from aiexport.queries import on_engine_thread

    day = date(2026, 1, 15)
    specs = [[{"id": f"c{k}-{i}", "int8": 100 + 97 * i + k, "die_area_mm2": 500, "io_bidir_gbps": 900, "datacenter": "yes"}
              for i in range(20)] for k in range(4)]
    txs = [[{"id": f"t{k}-{i}", "kind": "export", "item": ["H100", "H20", "A100"][i % 3], "destination_country": ["CN", "DE", "AE"][k % 3],
             "end_use": "datacenter", "party_list_status": "none", "item_origin": "us_origin", "date": "2026-01-15"} for i in range(20)]
           for k in range(4)]
    calls = ([lambda b=b: answers._classify_rows(b, (day, None), batch=True) for b in specs]
             + [lambda b=b: answers._check_rows(b, (day, None, False, False), batch=True) for b in txs])
    expected = [call() for call in calls]
    got: dict[int, Any] = {}

    def ask(i: int) -> None:
        for _ in range(3):
            got[i] = on_engine_thread(calls[i])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "an engine call never came back"
    assert [got[i] for i in range(len(calls))] == expected
