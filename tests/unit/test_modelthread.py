"""The model thread: one thread, a shallow stack whatever the caller's depth, results and
exceptions handed back as if the call ran in the caller."""

from __future__ import annotations

import inspect
import threading

import pytest

from worker_models.modelthread import THREAD_NAME, ModelThread

SHALLOW_FRAMES = 12  # the thread's bootstrap and executor frames, and the call itself


def _deep(depth: int, fn):
    return fn() if depth == 0 else _deep(depth - 1, fn)


@pytest.fixture
def model_thread():
    thread = ModelThread()
    yield thread
    thread.close()


def test_every_call_runs_on_the_one_model_thread(model_thread):
    names = {model_thread.run(lambda: threading.current_thread().name) for _ in range(5)}
    idents = {model_thread.run(threading.get_ident) for _ in range(5)}
    assert len(names) == 1 and names.pop().startswith(THREAD_NAME)
    assert len(idents) == 1 and idents.pop() != threading.get_ident()


def test_a_call_made_deep_in_a_stack_runs_on_a_shallow_one(model_thread):
    here = _deep(200, lambda: len(inspect.stack(0)))
    there = _deep(200, lambda: model_thread.run(lambda: len(inspect.stack(0))))
    assert here > 200
    assert there <= SHALLOW_FRAMES


def test_result_and_exception_come_back_to_the_caller(model_thread):
    assert model_thread.run(lambda: 6 * 7) == 42

    def broken() -> None:
        raise ValueError("bad call")

    with pytest.raises(ValueError, match="bad call"):
        model_thread.run(broken)
    assert model_thread.run(lambda: "still serving") == "still serving"


def test_a_closed_model_thread_starts_again_on_the_next_call(model_thread):
    first = model_thread.run(threading.get_ident)
    model_thread.close()
    assert model_thread.run(lambda: "again") == "again"
    assert model_thread.run(threading.get_ident) != threading.get_ident()
    assert first != threading.get_ident()
