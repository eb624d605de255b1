import json
from pathlib import Path

import pytest
import yaml

from dicec.errors import CallValidationError, ResultValidationError, UnknownFunctionError
from worker_models.calls import check_result, prepare_call
from worker_models.catalogue import CATALOGUE, get_spec

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference-programs"


def test_catalogue_has_the_paper_functions_and_noop():
    assert set(CATALOGUE) == {"glip", "blip", "xvlm", "yolov8", "blip2", "depth", "noop"}
    for spec in CATALOGUE.values():
        assert spec.documentation and spec.architecture


def test_glip_schemas_have_the_form_of_the_papers_function_resource():
    paper = yaml.safe_load((REFERENCE / "glip_function.yaml").read_text())["status"]
    ours = get_spec("glip")
    paper_params = json.loads(paper["parametersSchema"])
    assert ours.parameters_schema()["properties"] == paper_params["properties"]
    assert ours.parameters_schema()["required"] == paper_params["required"]
    paper_box = json.loads(paper["resultSchema"])["$defs"]["BoundingBox"]
    our_box = ours.result_schema()["$defs"]["BoundingBox"]
    assert paper_box["required"] == our_box["required"]
    assert ours.image_params() == ["image"]


def test_call_validation_names_the_problem():
    with pytest.raises(UnknownFunctionError, match="unknown function 'sam'"):
        prepare_call("sam", {})
    with pytest.raises(CallValidationError, match="missing parameter 'question'"):
        prepare_call("blip", {"image": "img:" + "0" * 64})
    with pytest.raises(CallValidationError, match="unexpected parameter 'colour'"):
        prepare_call("blip", {"image": "img:" + "0" * 64, "question": "q", "colour": 1})
    with pytest.raises(CallValidationError, match="parameter 'question'"):
        prepare_call("blip", {"image": "img:" + "0" * 64, "question": 42})


def test_results_are_checked_and_glip_is_unwrapped():
    assert (
        check_result(get_spec("glip"), {"result": [{"x": 1, "y": 2, "width": 3, "height": 4}]})[0][
            "x"
        ]
        == 1
    )
    assert check_result(get_spec("xvlm"), {"result": True, "score": 0.7}) == {
        "result": True,
        "score": 0.7,
    }
    objects = check_result(
        get_spec("yolov8"),
        {"objects": [{"x": 0, "y": 0, "width": 1, "height": 1, "class": "car", "score": 0.5}]},
    )["objects"]
    assert objects[0]["class"] == "car"
    with pytest.raises(ResultValidationError, match="blip: result does not match"):
        check_result(get_spec("blip"), {"answer": None})
