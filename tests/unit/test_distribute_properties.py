"""Property: whatever serial program goes in, the compiler's output verifies equivalent
(same returned value, printed lines and calls on every stand-in run) and never needs more
rounds than the serial program."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codegen.distribute import distribute
from codegen.verify import verify
from tests.support.random_programs import ImagePatchProgramBuilder, ProgramBuilder

# Modest, so that the whole file stays well under a minute on two cores.
EXAMPLES = 40
SEEDS = 4
IMAGE = ((64, 48),)
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def check(serial: str) -> None:
    distributed = distribute(serial, "random.py").source
    report = verify(serial, distributed, seeds=SEEDS, image_sizes=IMAGE)
    assert report.equivalent, f"{serial}\n{distributed}\n{report.summary()}"
    assert all(c.rounds_distributed <= c.rounds_serial for c in report.cases)


@SETTINGS
@given(st.data())
def test_random_hermod_programs_stay_equivalent(data: st.DataObject) -> None:
    check(ProgramBuilder(data).build())


@SETTINGS
@given(st.data())
def test_random_imagepatch_programs_stay_equivalent(data: st.DataObject) -> None:
    check(ImagePatchProgramBuilder(data).build())
