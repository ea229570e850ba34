"""Request formats: ours, MLflow's /invocations and the Open Inference Protocol V2, parsed and answered.

Request bodies marked "as documented" are copied from the MLflow, KServe, MLServer and Open Inference Protocol
documentation (fixing only JSON syntax slips where the documentation has them, as noted).
"""

from __future__ import annotations

import math
import re
import uuid
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftloop.errors import HTTP_STATUS, InvalidInput
from driftloop.serving._protocol_mlflow import encode_mlflow, parse_mlflow
from driftloop.serving._protocol_native import encode_native, parse_native
from driftloop.serving._protocol_v2 import encode_v2, encode_v2_metadata, parse_v2, v2_datatype
from driftloop.serving._protocols import ParsedRequest, UnsupportedMediaType, dumps, load_json_object, media_type

JSON = "application/json"


def body(document: Any) -> bytes:
    return orjson.dumps(document)


# -- JSON and media types ------------------------------------------------------------------------------------


def test_non_finite_literals_that_pythons_json_writes_are_read_as_floats() -> None:
    document = load_json_object(b'{"a": [NaN, Infinity, -Infinity, 1.5]}')
    values = document["a"]
    assert math.isnan(values[0]) and values[1] == math.inf and values[2] == -math.inf and values[3] == 1.5


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"a": 1', "not valid JSON: unexpected end of data: line 1 column 8"),
        (b"", "not valid JSON: Input is a zero-length, empty document"),
        (b'{"a": NaN', "not valid JSON"),  # NaN is allowed, but the body is still broken: orjson's message
        (b'{"a": "\xff"}', "not valid JSON"),
        (b"[1, 2]", "must be a JSON object ({...}); got a list of 2 values"),
        (b'"text"', "got the string 'text'"),
    ],
)
def test_malformed_json_is_invalid_input_saying_where(raw: bytes, expected: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(expected)):
        load_json_object(raw)


def test_unsupported_media_type_is_an_invalid_input_answered_with_415() -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        media_type("application/json; charset=latin-1")
    assert isinstance(caught.value, InvalidInput)
    assert HTTP_STATUS[caught.value.code] == 415
    assert caught.value.code in HTTP_STATUS  # the error table stays as errors.py defines it
    assert "charset=latin-1" in caught.value.message
    assert media_type(" text/CSV ; charset=utf-8") == "text/csv"


# -- ours ------------------------------------------------------------------------------------------------------


def test_native_records_with_a_request_id_in_each() -> None:
    parsed = parse_native(
        body(
            {
                "records": [
                    {"area": 50.0, "district": "a", "request_id": "r1"},
                    {"area": None, "district": "b", "request_id": "r2"},
                ],
                "probabilities": True,
            }
        ),
        JSON,
    )
    assert parsed == ParsedRequest(
        columns={"area": [50.0, None], "district": ["a", "b"]},
        rows=2,
        request_ids=["r1", "r2"],
        probabilities=True,
        params={},
        protocol="native",
    )


def test_native_columns_with_request_ids_and_records_missing_a_column() -> None:
    parsed = parse_native(body({"columns": {"area": [50.0, 80.0], "rooms": [2, 3]}, "request_ids": ["x", "y"]}))
    assert (parsed.columns, parsed.rows, parsed.request_ids, parsed.probabilities) == (
        {"area": [50.0, 80.0], "rooms": [2, 3]},
        2,
        ["x", "y"],
        False,
    )
    gaps = parse_native(body({"records": [{"area": 1.0}, {"rooms": 2}]}))
    assert gaps.columns == {"area": [1.0, None], "rooms": [None, 2]}
    assert gaps.request_ids is None


def test_native_single_record_with_a_request_id_beside_it() -> None:
    parsed = parse_native(body({"record": {"area": 50.0}, "request_id": "only"}))
    assert (parsed.columns, parsed.rows, parsed.request_ids) == ({"area": [50.0]}, 1, ["only"])


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            {"records": [{"a": 1}], "columns": {"a": [1]}},
            "exactly one of 'records', 'columns', 'record'; got 'records', 'columns'",
        ),
        ({"request_ids": ["a"]}, "exactly one of 'records', 'columns', 'record'; got none of them"),
        ({"record": {"a": 1}, "probability": True}, "Unknown key 'probability'"),
        ({"record": {"a": 1}, "probabilities": "yes"}, "'probabilities' must be true or false; got the string 'yes'"),
        ({"record": [1, 2]}, "'record' must be a JSON object"),
        ({"records": []}, "'records' holds no records"),
        ({"records": {"a": 1}}, "'records' must be a list of records"),
        ({"records": [{"a": 1}, 3]}, r"records\[1\] must be a record"),
        ({"columns": {"a": [1, 2], "b": [1]}}, "Column 'b' of 'columns' has 1 values; column 'a' has 2"),
        ({"columns": {"a": 1}}, "Column 'a' of 'columns' must be a list of values"),
        ({"columns": {"a": []}}, "hold no rows"),
        ({"records": [{"a": 1}, {"a": 2}], "request_ids": ["x"]}, "'request_ids' lists 1 ids; the body holds 2 rows"),
        ({"records": [{"a": 1}, {"a": 2}], "request_ids": ["x", "x"]}, "'x' appears more than once"),
        ({"records": [{"a": 1, "request_id": "x"}, {"a": 2}]}, "Records 1 have no 'request_id'"),
        ({"records": [{"a": 1, "request_id": "x"}], "request_ids": ["y"]}, "in one place only"),
        ({"records": [{"a": 1}, {"a": 2}], "request_id": "x"}, "names one row, but the body holds 2"),
        ({"record": {"a": 1}, "request_id": 7}, "request_id is the number 7"),
        ({"records": [{"a": 1}], "request_ids": [""]}, r"request_ids \(row 0\) is the string ''"),
        ({"record": {"a": 1}, "request_id": "x" * 257}, "at most 256 characters"),
    ],
)
def test_native_malformed_bodies_say_what_is_wrong(document: dict[str, Any], expected: str) -> None:
    with pytest.raises(InvalidInput, match=expected):
        parse_native(body(document))


def test_native_refuses_a_body_that_is_not_json() -> None:
    with pytest.raises(UnsupportedMediaType, match=r"takes a JSON body.*'text/plain'"):
        parse_native(b'{"record": {"a": 1}}', "text/plain")


def test_native_answer_round_trips_with_numpy_values() -> None:
    encoded = encode_native(
        "houses",
        3,
        np.array(["no", "yes"]),
        probabilities=np.array([[0.75, 0.25], [0.5, 0.5]], dtype=np.float32),
        classes=np.array(["no", "yes"], dtype=object),
        request_ids=["r1", "r2"],
    )
    assert orjson.loads(encoded) == {
        "model": "houses",
        "version": 3,
        "predictions": ["no", "yes"],
        "probabilities": [[0.75, 0.25], [0.5, 0.5]],
        "classes": ["no", "yes"],
        "request_ids": ["r1", "r2"],
    }
    plain = orjson.loads(encode_native("houses", "4", np.array([np.nan, 2.0])))
    assert plain == {"model": "houses", "version": "4", "predictions": [None, 2.0]}


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.text(min_size=1, max_size=8).filter(lambda name: name != "request_id"),
        st.integers(min_value=1, max_value=4),
        min_size=1,
        max_size=5,
    ).flatmap(
        lambda widths: st.integers(min_value=1, max_value=4).flatmap(
            lambda rows: st.fixed_dictionaries(
                {
                    name: st.lists(
                        st.none()
                        | st.booleans()
                        | st.integers(-(2**40), 2**40)
                        | st.floats(allow_nan=False, allow_infinity=False)
                        | st.text(max_size=5),
                        min_size=rows,
                        max_size=rows,
                    )
                    for name in widths
                }
            )
        )
    )
)
def test_every_way_of_sending_the_same_rows_parses_to_the_same_columns(columns: dict[str, list[Any]]) -> None:
    names = list(columns)
    rows = len(columns[names[0]])
    records = [{name: columns[name][row] for name in names} for row in range(rows)]
    split = {"columns": names, "data": [[columns[name][row] for name in names] for row in range(rows)]}
    parsed = [
        parse_native(body({"columns": columns})),
        parse_native(body({"records": records})),
        parse_mlflow(body({"dataframe_split": split})),
        parse_mlflow(body({"dataframe_records": records})),
        parse_mlflow(body({"instances": records})),
        parse_mlflow(body({"inputs": columns})),
    ]
    for request in parsed:
        assert request.columns == columns
        assert list(request.columns) == names  # request order is kept
        assert request.rows == rows and request.tensor is None


# -- MLflow ----------------------------------------------------------------------------------------------------


def test_mlflow_dataframe_split_as_documented() -> None:
    parsed = parse_mlflow(b'{"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 2, 3], [4, 5, 6]]}}', JSON)
    assert (parsed.columns, parsed.rows, parsed.protocol, parsed.params) == (
        {"a": [1, 4], "b": [2, 5], "c": [3, 6]},
        2,
        "mlflow",
        {},
    )
    # The `mlflow models serve --help` example, with an index.
    with_index = parse_mlflow(
        b'{"dataframe_split": {"columns": ["a", "b"], "index": [0, 1, 2], "data": [[1, 2], [3, 4], [5, 6]]}}'
    )
    assert with_index.columns == {"a": [1, 3, 5], "b": [2, 4, 6]}


def test_mlflow_dataframe_records_as_documented() -> None:
    parsed = parse_mlflow(b'{"dataframe_records": [{"a": 1,"b": 2,"c": 3}, {"a": 4,"b": 5,"c": 6}]}')
    assert (parsed.columns, parsed.rows) == ({"a": [1, 4], "b": [2, 5], "c": [3, 6]}, 2)


def test_mlflow_instances_and_inputs_as_documented() -> None:
    instances = parse_mlflow(
        b"""{
            "instances": [
                {"a": "s1", "b": 1, "c": [1, 2, 3]},
                {"a": "s2", "b": 2, "c": [4, 5, 6]},
                {"a": "s3", "b": 3, "c": [7, 8, 9]}
            ]
        }"""
    )
    inputs = parse_mlflow(
        b'{"inputs": {"a": ["s1", "s2", "s3"], "b": [1, 2, 3], "c": [[1, 2, 3], [4, 5, 6], [7, 8, 9]]}}'
    )
    expected = {"a": ["s1", "s2", "s3"], "b": [1, 2, 3], "c": [[1, 2, 3], [4, 5, 6], [7, 8, 9]]}
    # Cells that are lists are passed on as they came; the input checker refuses them for scalar columns.
    assert instances.columns == expected and inputs.columns == expected
    assert instances.rows == inputs.rows == 3


def test_mlflow_inputs_as_a_list_of_rows_is_a_tensor_as_documented() -> None:
    parsed = parse_mlflow(b'{"inputs": [[1, 2], [3, 4], [5, 6]]}', JSON)
    assert parsed.columns == {} and parsed.rows == 3
    assert parsed.tensor is not None and parsed.tensor.dtype == np.float64
    np.testing.assert_array_equal(parsed.tensor, [[1, 2], [3, 4], [5, 6]])
    with_nulls = parse_mlflow(b'{"instances": [[1, null], [true, 2.5]]}')
    assert with_nulls.tensor is not None
    np.testing.assert_array_equal(with_nulls.tensor, [[1.0, np.nan], [1.0, 2.5]])


def test_mlflow_dataframe_split_without_columns_is_a_tensor() -> None:
    parsed = parse_mlflow(b'{"dataframe_split": {"data": [[1.5, 2], [3, 4]]}}')
    assert parsed.tensor is not None and parsed.tensor.shape == (2, 2) and parsed.rows == 2


def test_mlflow_params_as_documented() -> None:
    parsed = parse_mlflow(
        b"""{
            "inputs": {"question": ["What color is it?"],
                       "context": ["Some people said it was green but I know that it is pink."]},
            "params": {"max_answer_len": 10}
        }"""
    )
    assert parsed.params == {"max_answer_len": 10} and parsed.rows == 1
    assert parsed.columns["question"] == ["What color is it?"]


def test_mlflow_reads_the_nan_that_pythons_json_module_writes() -> None:
    import json

    sent = json.dumps({"dataframe_split": {"columns": ["a", "b"], "data": [[float("nan"), float("inf")]]}})
    assert "NaN" in sent  # what MLflow's own client sends for a missing float
    parsed = parse_mlflow(sent.encode())
    assert math.isnan(parsed.columns["a"][0]) and parsed.columns["b"] == [math.inf]


def test_mlflow_ignores_keys_it_does_not_know_as_mlflow_does() -> None:
    parsed = parse_mlflow(body({"dataframe_records": [{"a": 1}], "note": "hello"}))
    assert parsed.columns == {"a": [1]}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            {"dataframe_split": {"columns": ["a"], "data": [[1]]}, "inputs": [[1]]},
            "exactly one of 'dataframe_split', 'dataframe_records', 'instances', 'inputs' "
            r"\(plus optional 'params'\); its keys are: 'dataframe_split', 'inputs'",
        ),
        ({"data": [[1]], "columns": ["a"]}, "its keys are: 'data', 'columns'"),
        ({}, "its keys are: none"),
        (
            {"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 2, 3], [1, 2, 3], [1, 2, 3], [4, 5]]}},
            r"^dataframe_split.data row 3 has 2 values; 'columns' lists 3\.$",
        ),
        ({"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2, 3]]}}, "row 0 has 3 values; 'columns' lists 2"),
        ({"dataframe_split": {"columns": ["a"], "data": [1, 2]}}, "row 0 must be a list of values; got the number 1"),
        ({"dataframe_split": {"columns": ["a"], "data": []}}, "holds no rows"),
        ({"dataframe_split": {"columns": ["a"], "rows": [[1]]}}, "takes 'columns', 'data' and 'index'; got 'rows'"),
        ({"dataframe_split": {"columns": ["a"], "data": [[1]], "index": [0, 1]}}, "one label per row"),
        ({"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}}, "names 'a' more than once"),
        ({"dataframe_split": {"columns": ["a", 2], "data": [[1, 2]]}}, "item 1 must be a name; got the number 2"),
        ({"dataframe_split": [[1, 2]]}, "'dataframe_split' must be a JSON object with 'columns' and 'data'"),
        ({"inputs": [1, 2, 3]}, "'inputs' is a flat list of values"),
        ({"instances": []}, "'instances' must be a list of records"),
        ({"inputs": [[1, 2], [3]]}, "inputs row 1 has 1 values; row 0 has 2"),
        ({"inputs": [[1, "two"]]}, "inputs row 0 value 1 is the string 'two'; rows without column names hold numbers"),
        ({"inputs": [[[1, 2]], [[3, 4]]]}, r"rows of plain numbers \(2-D\)"),
        ({"inputs": [[1], {"a": 1}]}, "inputs row 1 must be a list of numbers; got an object"),
        ({"inputs": [{"a": 1}, [1]]}, r"inputs\[1\] must be a record"),
        ({"inputs": [[]]}, "hold no values"),
        ({"inputs": {"a": [1]}, "params": [1]}, "'params' must be a JSON object"),
    ],
)
def test_mlflow_malformed_bodies_say_what_is_wrong(document: dict[str, Any], expected: str) -> None:
    with pytest.raises(InvalidInput, match=expected):
        parse_mlflow(body(document), JSON)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=utf-16"]
)
def test_mlflow_refuses_other_media_types_with_415(content_type: str) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        parse_mlflow(b'{"inputs": [[1]]}', content_type)
    assert HTTP_STATUS[caught.value.code] == 415


def test_mlflow_csv_is_typed_per_column_like_pandas() -> None:
    csv = (
        "\ufeffarea,rooms,district,garden,note\r\n"  # a byte-order mark, as spreadsheets write it
        '50.5,2,a,true,"big, bright"\r\n'
        "80,,b,False,\r\n"
        "\r\n"
        "1e2,4,c,TRUE,plain\r\n"
    ).encode()
    parsed = parse_mlflow(csv, "text/csv; charset=utf-8")
    assert parsed.columns == {
        "area": [50.5, 80.0, 100.0],
        "rooms": [2, None, 4],
        "district": ["a", "b", "c"],
        "garden": [True, False, True],
        "note": ["big, bright", None, "plain"],
    }
    assert parsed.rows == 3 and parsed.protocol == "mlflow"
    mixed = parse_mlflow(b"code\n007\nA12\n", "text/csv").columns
    assert mixed == {"code": ["007", "A12"]}  # one non-number keeps the whole column as text


@pytest.mark.parametrize(
    ("csv", "expected"),
    [
        (
            b"1.5,2,3\n4,5,6\n",
            "needs a header row naming the columns; its first row \\('1.5,2,3'\\) holds only numbers",
        ),
        (b"a,b,c\n1,2,3\n4,5\n", "CSV line 3 has 2 fields; the header has 3"),
        (b"", "The CSV body is empty"),
        (b"a,b\n", "a header row but no data rows"),
        (b"a,,c\n1,2,3\n", "must name every column"),
        (b"a,a\n1,2\n", "names 'a' more than once"),
        (b'a,b\n"1,2\n', "does not parse at line"),
        (b"a,b\n\xff,1\n", "not UTF-8"),
    ],
)
def test_mlflow_malformed_csv_says_what_is_wrong(csv: bytes, expected: str) -> None:
    with pytest.raises(InvalidInput, match=expected):
        parse_mlflow(csv, "text/csv")


def test_mlflow_answer_round_trips() -> None:
    assert orjson.loads(encode_mlflow(np.array([0.25, 1.0], dtype=np.float32))) == {"predictions": [0.25, 1.0]}
    assert orjson.loads(encode_mlflow(np.array(["no", "yes"], dtype=object))) == {"predictions": ["no", "yes"]}
    column = np.arange(6.0).reshape(3, 2)[:, 1]  # not contiguous: written through the fallback
    assert orjson.loads(encode_mlflow(column)) == {"predictions": [1.0, 3.0, 5.0]}


# -- Open Inference Protocol V2 --------------------------------------------------------------------------------


def test_v2_tensor_as_in_kserves_documentation() -> None:
    parsed = parse_v2(
        b"""{
          "inputs": [
            {
              "name": "input-0",
              "shape": [2, 4],
              "datatype": "FP32",
              "data": [
                [6.8, 2.8, 4.8, 1.4],
                [6.0, 3.4, 4.5, 1.6]
              ]
            }
          ]
        }""",
        JSON,
    )
    assert parsed.protocol == "v2" and parsed.rows == 2 and parsed.columns == {}
    assert parsed.tensor is not None and parsed.tensor.dtype == np.float32 and parsed.tensor.shape == (2, 4)
    np.testing.assert_allclose(parsed.tensor[1], [6.0, 3.4, 4.5, 1.6], rtol=1e-6)
    assert parsed.request_id is None and parsed.probabilities is False


def test_v2_flat_tensor_data_and_a_one_feature_tensor() -> None:
    parsed = parse_v2(
        body({"id": "7", "inputs": [{"name": "x", "shape": [2, 2], "datatype": "INT64", "data": [1, 2, 3, 4]}]})
    )
    assert parsed.tensor is not None and parsed.tensor.dtype == np.int64 and parsed.request_id == "7"
    np.testing.assert_array_equal(parsed.tensor, [[1, 2], [3, 4]])
    single = parse_v2(body({"inputs": [{"name": "x", "shape": [3], "datatype": "FP64", "data": [1, 2.5, 3]}]}))
    assert single.tensor is not None and single.tensor.shape == (3, 1)


def test_v2_dataframe_as_in_mlservers_documentation() -> None:
    # MLServer's "content type" page; its body ends the inputs with a trailing comma, removed here.
    parsed = parse_v2(
        b"""{
          "parameters": {
            "content_type": "pd"
          },
          "inputs": [
            {
              "name": "First Name",
              "datatype": "BYTES",
              "parameters": {
                "content_type": "str"
              },
              "shape": [2],
              "data": ["Joanne", "Michael"]
            },
            {
              "name": "Age",
              "datatype": "INT32",
              "shape": [2],
              "data": [34, 22]
            }
          ]
        }"""
    )
    assert parsed.columns == {"First Name": ["Joanne", "Michael"], "Age": [34, 22]}
    assert parsed.rows == 2 and parsed.tensor is None and parsed.params == {"content_type": "pd"}


def test_v2_mlservers_abc_example_is_refused_for_its_wrong_shape() -> None:
    # MLServer's pandas example declares shape [3] for four values (and misses commas, added here).
    document = {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {"name": name, "data": [f"{name.lower()}{row}" for row in range(1, 5)], "datatype": "BYTES", "shape": [3]}
            for name in "ABC"
        ],
    }
    with pytest.raises(
        InvalidInput, match=r"inputs\[0\] \('A'\) has shape \[3\], which holds 3 values; its data holds 4"
    ):
        parse_v2(body(document))
    for entry in document["inputs"]:
        entry["shape"] = [4]
    assert parse_v2(body(document)).columns["C"] == ["c1", "c2", "c3", "c4"]


def test_v2_the_specifications_example_mixes_shapes_a_dataframe_cannot_take() -> None:
    # The Open Inference Protocol's own inference request example: two inputs of different shapes.
    spec_example = b"""{
      "id" : "42",
      "inputs" : [
        {"name" : "input0", "shape" : [ 2, 2 ], "datatype" : "UINT32", "data" : [ 1, 2, 3, 4 ]},
        {"name" : "input1", "shape" : [ 3 ], "datatype" : "BOOL", "data" : [ true ]}
      ],
      "outputs" : [{"name" : "output0"}]
    }"""
    with pytest.raises(InvalidInput, match=r"outputs\[0\] must name one of 'predict', 'predict_proba'; got the string"):
        parse_v2(spec_example)
    without_outputs = spec_example.replace(b',\n      "outputs" : [{"name" : "output0"}]', b"")
    with pytest.raises(InvalidInput, match=r"inputs\[0\] \('input0'\) has shape \[2, 2\]; as a dataframe column"):
        parse_v2(without_outputs)


def test_v2_columns_may_be_nested_n_by_1_and_hold_nulls() -> None:
    parsed = parse_v2(
        body(
            {
                "inputs": [
                    {"name": "area", "shape": [2, 1], "datatype": "FP64", "data": [[50.5], [None]]},
                    {"name": "rooms", "shape": [2], "datatype": "INT64", "data": [2, 3]},
                ],
                "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
            }
        )
    )
    assert parsed.columns == {"area": [50.5, None], "rooms": [2, 3]} and parsed.probabilities is True


def test_v2_a_single_bytes_input_is_a_text_column() -> None:
    parsed = parse_v2(body({"inputs": [{"name": "district", "shape": [2], "datatype": "BYTES", "data": ["a", "b"]}]}))
    assert parsed.columns == {"district": ["a", "b"]} and parsed.tensor is None


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        (
            [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3]}],
            r"has shape \[2, 2\], which holds 4 values; its data holds 3",
        ),
        (
            [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, "2"]}],
            "is FP32 but value 1 is the string '2'; a tensor of this datatype holds numbers",
        ),
        (
            [{"name": "x", "shape": [1, 2], "datatype": "INT32", "data": [1, 2.5]}],
            "is INT32 but value 1 is the number 2.5",
        ),
        (
            [{"name": "x", "shape": [1, 2], "datatype": "INT8", "data": [1, 300]}],
            r"holds 300, outside the range of INT8 \[-128, 127\]",
        ),
        (
            [{"name": "x", "shape": [1, 2], "datatype": "UINT8", "data": [-1, 3]}],
            "holds -1, outside the range of UINT8",
        ),
        ([{"name": "x", "shape": [1, 2], "datatype": "BOOL", "data": [1, 0]}], "BOOL values are true or false"),
        ([{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1, None]}], "value 1 is null"),
        (
            [{"name": "x", "shape": [1, 2], "datatype": "FLOAT", "data": [1, 2]}],
            "datatype the string 'FLOAT'; use one of BOOL",
        ),
        ([{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [[1, 2], [3]]}], "ragged 'data'"),
        (
            [{"name": "x", "shape": [1, 2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}],
            r"a tensor input has shape \[rows, features\]",
        ),
        ([{"name": "x", "shape": [0, 2], "datatype": "FP32", "data": []}], "no rows"),
        ([{"name": "x", "shape": "2", "datatype": "FP32", "data": [1, 2]}], "needs a 'shape'"),
        ([{"name": "x", "shape": [2], "datatype": "FP32", "data": 1}], "needs 'data', a list of values"),
        ([{"shape": [1], "datatype": "FP32", "data": [1]}], r"inputs\[0\] needs a 'name'"),
        (
            [{"name": "x", "shape": [1], "datatype": "BYTES", "data": [3]}],
            "is BYTES but value 0 is the number 3; BYTES values are strings",
        ),
        (
            [
                {"name": "a", "shape": [2], "datatype": "FP32", "data": [1, 2]},
                {"name": "b", "shape": [3], "datatype": "FP32", "data": [1, 2, 3]},
            ],
            r"inputs\[1\] \('b'\) has 3 rows; input 'a' has 2",
        ),
        (
            [
                {"name": "a", "shape": [1], "datatype": "FP32", "data": [1]},
                {"name": "a", "shape": [1], "datatype": "FP32", "data": [2]},
            ],
            "Two inputs are named 'a'",
        ),
        (
            [
                {"name": "a", "shape": [1], "datatype": "INT16", "data": [1]},
                {"name": "b", "shape": [1], "datatype": "INT16", "data": [40000]},
            ],
            "holds 40000, outside the range of INT16",
        ),
        ([], "needs 'inputs', a non-empty list"),
    ],
)
def test_v2_malformed_inputs_name_the_input_and_the_fault(inputs: list[Any], expected: str) -> None:
    with pytest.raises(InvalidInput, match=expected):
        parse_v2(body({"inputs": inputs}))


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"id": 42, "inputs": []}, "'id' must be a string; got the number 42"),
        ({"parameters": [1], "inputs": []}, "'parameters' must be a JSON object"),
        ({"parameters": {"content_type": "str"}, "inputs": []}, "content_type 'str' is not supported here"),
        (
            {"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}], "outputs": "predict"},
            "'outputs' must be a list",
        ),
    ],
)
def test_v2_malformed_requests_say_what_is_wrong(document: dict[str, Any], expected: str) -> None:
    with pytest.raises(InvalidInput, match=expected):
        parse_v2(body(document))


def test_v2_refuses_a_body_that_is_not_json() -> None:
    with pytest.raises(UnsupportedMediaType, match=re.escape("/v2/models/{name}/infer takes a JSON body")):
        parse_v2(b"{}", "text/csv")


def test_v2_answer_round_trips_as_in_kserves_documentation() -> None:
    answer = orjson.loads(encode_v2("sklearn-v2-iris", "1", np.array([1, 1]), request_id="823248cc"))
    assert answer == {
        "model_name": "sklearn-v2-iris",
        "model_version": "1",
        "id": "823248cc",
        "outputs": [{"name": "predict", "shape": [2], "datatype": "INT64", "data": [1, 1]}],
    }


def test_v2_answer_with_probabilities_and_a_made_up_id() -> None:
    answer = orjson.loads(
        encode_v2(
            "churn",
            "2",
            ["stay", "leave"],
            probabilities=np.array([[0.9, 0.1], [0.3, 0.7]], dtype=np.float32),
        )
    )
    uuid.UUID(answer["id"])  # the protocol's answer always has an id
    predict, probabilities = answer["outputs"]
    assert predict == {"name": "predict", "shape": [2], "datatype": "BYTES", "data": ["stay", "leave"]}
    assert probabilities["name"] == "predict_proba" and probabilities["shape"] == [2, 2]
    assert probabilities["datatype"] == "FP32"
    np.testing.assert_allclose(probabilities["data"], [0.9, 0.1, 0.3, 0.7], rtol=1e-6)  # row-major, flat


def test_v2_metadata_from_column_types() -> None:
    metadata = orjson.loads(
        encode_v2_metadata(
            "houses",
            ["3"],
            [("area", "float64"), ("rooms", "int32"), ("district", "string"), ("sold", "timestamp[us, tz=UTC]")],
            prediction_datatype="int64",
            classes=["cheap", "dear"],
        )
    )
    assert metadata == {
        "name": "houses",
        "versions": ["3"],
        "platform": "driftloop",
        "parameters": {"content_type": "pd"},
        "inputs": [
            {"name": "area", "datatype": "FP64", "shape": [-1]},
            {"name": "rooms", "datatype": "INT32", "shape": [-1]},
            {"name": "district", "datatype": "BYTES", "shape": [-1]},
            {"name": "sold", "datatype": "BYTES", "shape": [-1]},
        ],
        "outputs": [
            {"name": "predict", "datatype": "INT64", "shape": [-1]},
            {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 2]},
        ],
    }
    with pytest.raises(InvalidInput, match="No V2 datatype stands for the column type 'decimal'"):
        encode_v2_metadata("houses", ["3"], [("price", "decimal")])


@pytest.mark.parametrize(
    ("values", "datatype"),
    [
        (np.array([True]), "BOOL"),
        (np.array([1], dtype=np.uint16), "UINT16"),
        (np.array([1.0], dtype=np.float16), "FP16"),
        ([1, 2], "INT64"),
        ([1.5], "FP64"),
        (np.array(["a"], dtype=object), "BYTES"),
        ("FP32", "FP32"),
        ("bool", "BOOL"),
        ("uint8", "UINT8"),
        ("date", "BYTES"),
    ],
)
def test_v2_datatypes_of_values_and_column_types(values: Any, datatype: str) -> None:
    assert v2_datatype(values) == datatype


def test_dumps_writes_numpy_scalars_and_arrays() -> None:
    assert orjson.loads(dumps({"a": np.int32(3), "b": np.array([[1, 2]], dtype=np.int8), "c": np.str_("x")})) == {
        "a": 3,
        "b": [[1, 2]],
        "c": "x",
    }
