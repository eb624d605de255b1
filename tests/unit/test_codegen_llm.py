"""The LLM path with the real `openai` client against a local scripted endpoint:
generation with repair rounds, bad endpoints, and the verified --llm rewrite."""

from __future__ import annotations

import json
import socket
import textwrap
from pathlib import Path

import pytest
import redis

from codegen.generate import generate, load_functions
from codegen.llm import LLMClient, LLMConfig, extract_code
from codegen.rewrite import distribute_verified
from codegen.verify import verify
from dicec import keys
from dicec.errors import LLMError, RegistryError
from dicec.settings import Settings
from tests.support.fake_llm import Reply, fake_llm
from worker_models.registry import catalogue_functions

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference-programs"
FUNCTIONS = catalogue_functions()
FAST_BACKOFF_S = 0.01
# A DB of its own: the registry test writes registry keys without touching DB 0's.
REGISTRY_TEST_DB = 14

GOOD = textwrap.dedent("""
    import hermod
    from PIL import Image


    async def execute_query(image_filename):
        image = Image.open(image_filename)
        dogs = await hermod.call("glip", image=image, object_name="dog")
        print(f"{len(dogs)} dogs")
        return len(dogs)
""")
BROKEN = GOOD.replace("async def execute_query(image_filename):", "async def execute_query(:")
UNKNOWN_FUNCTION = GOOD.replace('"glip", image=image, object_name="dog"', '"sam", image=image')
WRONG_PARAMETER = GOOD.replace("object_name=", "object=")


def fenced(code: str, chatter: str = "Here is the program:") -> str:
    return f"{chatter}\n```python\n{code}```\nIt prints the number of dogs."


def client(base_url: str, timeout_s: float = 5.0, retries: int = 2) -> LLMClient:
    return LLMClient(
        LLMConfig(
            base_url=base_url,
            api_key="test-key",
            model="fake-model",
            timeout_s=timeout_s,
            max_retries=retries,
            backoff_base_s=FAST_BACKOFF_S,
        )
    )


def test_a_good_program_is_accepted_first_time_and_the_prompt_carries_the_docs() -> None:
    with fake_llm([fenced(GOOD)]) as server:
        result = generate("How many dogs?", FUNCTIONS, client(server.base_url), repair_rounds=2)
    assert result.source == GOOD.lstrip("\n") and result.attempts == 1
    request = server.requests[0]
    assert request["model"] == "fake-model"
    system = request["messages"][0]["content"]
    glip = next(f for f in FUNCTIONS if f.name == "glip")
    assert glip.documentation in system
    assert json.dumps(glip.parameters_schema, sort_keys=True) in system
    assert server.user_messages(0)[-1] == "Query: How many dogs?"


@pytest.mark.parametrize(
    ("first", "problem"),
    [
        (fenced(BROKEN), "does not parse"),
        (fenced(UNKNOWN_FUNCTION), "unknown function 'sam'"),
        (fenced(WRONG_PARAMETER), "glip has no parameter 'object'"),
        ("I cannot help with images, sorry.", "contains no Python program"),
    ],
)
def test_invalid_answers_are_sent_back_and_repaired(first: str, problem: str) -> None:
    with fake_llm([first, fenced(GOOD)]) as server:
        result = generate("How many dogs?", FUNCTIONS, client(server.base_url), repair_rounds=2)
    assert result.attempts == 2 and "dogs" in result.source
    repair = server.user_messages(1)[-1]
    assert problem in repair
    assert server.requests[1]["messages"][-2] == {"role": "assistant", "content": first}


def test_never_valid_fails_after_the_repair_rounds() -> None:
    with (
        fake_llm([fenced(UNKNOWN_FUNCTION)] * 5) as server,
        pytest.raises(LLMError, match=r"no valid program in 3 attempt.*unknown function"),
    ):
        generate("How many dogs?", FUNCTIONS, client(server.base_url), repair_rounds=2)
    assert len(server.requests) == 3


def test_endpoint_down_fails_fast_with_the_cause() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(LLMError, match=r"failed 2 time\(s\): cannot connect"):
        client(f"http://127.0.0.1:{port}/v1", retries=1).complete(
            [{"role": "user", "content": "hi"}]
        )


def test_slow_endpoint_times_out_and_is_retried_a_bounded_number_of_times() -> None:
    with (
        fake_llm([Reply(content=fenced(GOOD), delay_s=30)] * 2) as server,
        pytest.raises(LLMError, match=r"failed 2 time\(s\): no answer within 0.3 s"),
    ):
        generate("q", FUNCTIONS, client(server.base_url, timeout_s=0.3, retries=1))
    assert len(server.requests) == 2


def test_garbage_and_server_errors_are_retried() -> None:
    replies = [
        Reply(raw=b"<html>proxy error</html>"),
        Reply(status=503, raw=b"{}"),
        Reply(raw=b'{"choices": []}'),
        fenced(GOOD),
    ]
    with fake_llm(replies) as server:
        result = generate("q", FUNCTIONS, client(server.base_url, retries=3), repair_rounds=0)
    assert result.attempts == 1 and len(server.requests) == 4


def test_a_refused_request_is_not_retried() -> None:
    refusal = Reply(status=401, raw=b'{"error": {"message": "bad key"}}')
    with (
        fake_llm([refusal]) as server,
        pytest.raises(LLMError, match="refused the request: HTTP 401"),
    ):
        client(server.base_url).complete([{"role": "user", "content": "hi"}])
    assert len(server.requests) == 1


def test_code_is_extracted_from_fences_or_bare_python() -> None:
    assert extract_code(fenced(GOOD)) == GOOD.lstrip("\n")
    two_blocks = "```bash\npip install x\n```\n" + fenced(GOOD)
    assert extract_code(two_blocks) == GOOD.lstrip("\n")
    assert extract_code(GOOD) == GOOD.strip() + "\n"
    assert extract_code("just words") is None
    assert extract_code("def execute_query(:\n") is None


def test_the_prompt_reads_the_live_registry() -> None:
    settings = Settings(redis_url=f"redis://127.0.0.1:6379/{REGISTRY_TEST_DB}")
    r = redis.Redis.from_url(settings.redis_url)
    info = next(f for f in FUNCTIONS if f.name == "glip").model_copy(
        update={"documentation": "LIVE-REGISTRY-DOC: finds things."}
    )
    r.set(keys.registry_function_key("glip"), info.model_dump_json())
    r.sadd(keys.registry_functions_set(), "glip")
    try:
        source = load_functions(settings=settings)
        assert [f.name for f in source.functions] == ["glip"]
        assert "live registry" in source.origin
        with fake_llm([fenced(GOOD)]) as server:
            generate("q", source.functions, client(server.base_url))
        assert "LIVE-REGISTRY-DOC" in server.requests[0]["messages"][0]["content"]
    finally:
        r.delete(keys.registry_function_key("glip"), keys.registry_functions_set())
    with pytest.raises(RegistryError, match="registry .* is empty"):
        load_functions(settings=settings)
    assert "offline" in load_functions(offline=True).origin


def test_registry_unreachable_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(RegistryError, match="cannot read the function registry"):
        load_functions(settings=Settings(redis_url=f"redis://127.0.0.1:{port}/0"))
    secret = Settings(redis_url=f"redis://:s3cret-pw@127.0.0.1:{port}/0")
    with pytest.raises(RegistryError) as raised:
        load_functions(settings=secret)
    assert "s3cret-pw" not in str(raised.value) and "***" in str(raised.value)


# -- --llm: the rewrite is used only when it verifies equivalent -----------------------------
FAITHFUL_REWRITE = """
import asyncio
import hermod
from PIL import Image


async def get_car_details(car_patch, index):
    color, model, damaged, overturned = await asyncio.gather(
        hermod.call("blip", image=car_patch, question="What is the color of the car?"),
        hermod.call("blip", image=car_patch, question="What is the model of the car?"),
        hermod.call("xvlm", image=car_patch, object_name="car", property="damaged"),
        hermod.call("xvlm", image=car_patch, object_name="car", property="overturned"),
        return_exceptions=True,
    )
    for outcome in (color, model, damaged, overturned):  # the first failure, in order
        if isinstance(outcome, BaseException):
            raise outcome
    return (f"Car {index + 1}: Color - {color.get('answer', 'Unknown')}, "
            f"Model - {model.get('answer', 'Unknown')}, "
            f"Damaged - {damaged.get('result', False)}, "
            f"Overturned - {overturned.get('result', False)}")


async def execute_query(image_filename):
    image = Image.open(image_filename)
    cars = await hermod.call("glip", image=image, object_name="car")
    if not cars:
        print("No cars detected in the image.")
        return
    patches = [image.crop((c["x"], c["y"], c["x"] + c["width"], c["y"] + c["height"]))
               for c in cars]
    infos = await asyncio.gather(*[get_car_details(p, i) for i, p in enumerate(patches)],
                                 return_exceptions=True)
    for info in infos:
        if isinstance(info, BaseException):
            raise info
        print(info)
"""


def test_the_papers_rewrite_is_refused_it_swallows_call_failures() -> None:
    """claims_distributed.py catches every exception and prints "Error occurred": under a
    failing call the serial program raises. The strengthened verifier sees it."""
    serial = (REFERENCE / "claims_serial.py").read_text()
    paper_rewrite = (REFERENCE / "claims_distributed.py").read_text()
    report = verify(serial, paper_rewrite, seeds=4)
    assert not report.equivalent
    assert any("CallFailedError" in r for r in report.reasons), report.reasons


def test_an_equivalent_llm_rewrite_is_used() -> None:
    serial = (REFERENCE / "claims_serial.py").read_text()
    with fake_llm([fenced(FAITHFUL_REWRITE)]) as server:
        chosen = distribute_verified(
            serial, "claims_serial.py", FUNCTIONS, client(server.base_url), seeds=4
        )
    assert chosen.made_by == "llm" and chosen.report.equivalent
    assert "get_car_details" in chosen.source
    assert "claims_serial.py" in server.user_messages(0)[0] or "glip" in server.user_messages(0)[0]


def test_a_non_equivalent_llm_rewrite_falls_back_to_the_compiler_with_the_reason() -> None:
    serial = (REFERENCE / "claims_serial.py").read_text()
    drops_a_call = (
        (REFERENCE / "claims_distributed.py")
        .read_text()
        .replace(
            'hermod.call("xvlm", image=car_patch, object_name="car", property="overturned"),',
            'hermod.call("xvlm", image=car_patch, object_name="car", property="damaged"),',
        )
    )
    with fake_llm([fenced(drops_a_call)]) as server:
        chosen = distribute_verified(
            serial, "claims_serial.py", FUNCTIONS, client(server.base_url), seeds=4
        )
    assert chosen.made_by == "compiler" and chosen.report.equivalent
    message = next(m for m in chosen.messages if "LLM rewrite not used" in m)
    assert "not equivalent" in message and "calls differ" in message
    assert "_each_car" in chosen.source


def test_llm_down_during_rewrite_falls_back_to_the_compiler() -> None:
    serial = (REFERENCE / "muffins_imagepatch_serial.py").read_text()
    with fake_llm([Reply(status=500, raw=b"{}")] * 3) as server:
        chosen = distribute_verified(
            serial, "muffins.py", FUNCTIONS, client(server.base_url, retries=1), seeds=2
        )
    assert chosen.made_by == "compiler"
    assert any("LLM rewrite not used" in m and "HTTP 500" in m for m in chosen.messages)
