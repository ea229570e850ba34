"""Tests for the run-search filter language: exact trees, precedence, every error, and two invariants."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

import driftloop.filtering as filtering
from driftloop.errors import InvalidFilter
from driftloop.filtering import (
    And,
    Comparison,
    Expression,
    Field,
    FieldKind,
    Not,
    Operator,
    Or,
    OrderBy,
    Value,
    parse_filter,
    parse_order_by,
)


def metric(key: str) -> Field:
    return Field("metric", key)


def param(key: str) -> Field:
    return Field("param", key)


def tag(key: str) -> Field:
    return Field("tag", key)


def attribute(key: str) -> Field:
    return Field("attribute", key)


A = Comparison(metric("a"), "<", 1)
B = Comparison(metric("b"), "<", 2)
C = Comparison(metric("c"), "<", 3)
D = Comparison(metric("d"), "<", 4)


def test_public_surface() -> None:
    assert sorted(filtering.__all__) == sorted(
        ["And", "Comparison", "Expression", "Field", "FieldKind", "Not", "Operator", "Or", "OrderBy", "Value",
         "parse_filter", "parse_order_by"]
    )  # fmt: skip
    assert set(get_args(Operator)) == {
        "=", "!=", "<", "<=", ">", ">=", "like", "ilike", "not like", "not ilike",
        "in", "not in", "is null", "is not null",
    }  # fmt: skip


def test_nodes_are_frozen_and_slotted() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        A.op = ">"  # type: ignore[misc]
    assert not hasattr(A, "__dict__")


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t "])
def test_no_filter_gives_none(text: str | None) -> None:
    assert parse_filter(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.rmse < 0.5", Comparison(metric("rmse"), "<", 0.5)),
        ("metrics.rmse<0.5", Comparison(metric("rmse"), "<", 0.5)),
        ("metric.val.loss >= 1e-3", Comparison(metric("val.loss"), ">=", 0.001)),
        ("metrics.`val loss` = -2", Comparison(metric("val loss"), "=", -2)),
        ("METRICS.x > +1", Comparison(metric("x"), ">", 1)),
        ("metrics.x <= -.5", Comparison(metric("x"), "<=", -0.5)),
        ("metrics.x != 2E3", Comparison(metric("x"), "!=", 2000.0)),
        ("metrics.x > 1.", Comparison(metric("x"), ">", 1.0)),
        ("metrics.x in (1, 2.5)", Comparison(metric("x"), "in", (1, 2.5))),
        ("metrics.x IS NULL", Comparison(metric("x"), "is null", None)),
        ('params."my param" = "x"', Comparison(param("my param"), "=", "x")),
        ("params.lr = 0.01", Comparison(param("lr"), "=", 0.01)),
        ("param.model == 'lgbm'", Comparison(param("model"), "=", "lgbm")),
        ("params.depth > 3", Comparison(param("depth"), ">", 3)),
        ("params.x = 'it\\'s'", Comparison(param("x"), "=", "it's")),
        ('params.x = "say \\"hi\\""', Comparison(param("x"), "=", 'say "hi"')),
        ("params.x = 'a\\\\b'", Comparison(param("x"), "=", "a\\b")),
        ("params.x like 'a\\%'", Comparison(param("x"), "like", "a\\%")),
        ("params.x not in (1, 'b',)", Comparison(param("x"), "not in", (1, "b"))),
        ("params.x in ('a')", Comparison(param("x"), "in", ("a",))),
        ("params.x Not ILike '%a%'", Comparison(param("x"), "not ilike", "%a%")),
        ("tags.stage <> 'dev'", Comparison(tag("stage"), "!=", "dev")),
        ("tag.a/b-c_d.e = 'x'", Comparison(tag("a/b-c_d.e"), "=", "x")),
        ("tags.`it\\`s` is not null", Comparison(tag("it`s"), "is not null", None)),
        ("attributes.status = 'RUNNING'", Comparison(attribute("status"), "=", "running")),
        ("status in ('failed', 'Killed')", Comparison(attribute("status"), "in", ("failed", "killed"))),
        ("attribute.id = 'abc'", Comparison(attribute("run_id"), "=", "abc")),
        ("attr.run_name LIKE 'x%'", Comparison(attribute("name"), "like", "x%")),
        ("attributes.\"user\" = 'bob'", Comparison(attribute("user"), "=", "bob")),
        ("user ilike '%bob%'", Comparison(attribute("user"), "ilike", "%bob%")),
        ("name not like 'tmp%'", Comparison(attribute("name"), "not like", "tmp%")),
        ("Experiment_ID = '0'", Comparison(attribute("experiment_id"), "=", 0)),
        ("experiment_id in (1, '2')", Comparison(attribute("experiment_id"), "in", (1, 2))),
        ("parent_run_id is null", Comparison(attribute("parent_run_id"), "is null", None)),
        ("start_time > 1700000000", Comparison(attribute("start_time"), ">", 1700000000.0)),
        ("end_time <= '2024-01-01'", Comparison(attribute("end_time"), "<=", 1704067200.0)),
        ("start_time < '2024-01-01T12:00:00Z'", Comparison(attribute("start_time"), "<", 1704110400.0)),
        ("start_time = '2024-01-01T12:00:00+02:00'", Comparison(attribute("start_time"), "=", 1704103200.0)),
        ("end_time in (0, '1970-01-02')", Comparison(attribute("end_time"), "in", (0.0, 86400.0))),
    ],
)
def test_parses_each_comparison(text: str, expected: Comparison) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize(
    ("text", "expected_type"),
    [("params.n = 10", int), ("params.n = 10.0", float), ("params.n = '10'", str), ("start_time > 1", float)],
)
def test_keeps_the_python_type_of_literals(text: str, expected_type: type) -> None:
    comparison = parse_filter(text)
    assert isinstance(comparison, Comparison)
    assert type(comparison.value) is expected_type


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.a < 1 or metrics.b < 2 and metrics.c < 3", Or((A, And((B, C))))),
        ("metrics.a < 1 and metrics.b < 2 or metrics.c < 3", Or((And((A, B)), C))),
        ("not metrics.a < 1 and metrics.b < 2", And((Not(A), B))),
        ("metrics.a < 1 or not metrics.b < 2 and metrics.c < 3", Or((A, And((Not(B), C))))),
        ("not (metrics.a < 1 or metrics.b < 2)", Not(Or((A, B)))),
        ("(metrics.a < 1 or metrics.b < 2) and metrics.c < 3", And((Or((A, B)), C))),
        ("metrics.a < 1 and (metrics.b < 2 and metrics.c < 3) and metrics.d < 4", And((A, B, C, D))),
        ("(metrics.a < 1 or metrics.b < 2) or (metrics.c < 3 or metrics.d < 4)", Or((A, B, C, D))),
        ("((metrics.a < 1))", A),
        ("NOT not metrics.a < 1", Not(Not(A))),
        ("metrics.a < 1 AND\n\tmetrics.b < 2", And((A, B))),
    ],
)
def test_precedence_and_flattening(text: str, expected: Expression) -> None:
    assert parse_filter(text) == expected


def test_not_like_differs_from_not_before_the_comparison() -> None:
    assert parse_filter("params.x not like 'a'") == Comparison(param("x"), "not like", "a")
    assert parse_filter("not params.x like 'a'") == Not(Comparison(param("x"), "like", "a"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.rmse", OrderBy(metric("rmse"))),
        ("start_time DESC", OrderBy(attribute("start_time"), descending=True)),
        ("params.lr asc", OrderBy(param("lr"), descending=False)),
        ("metrics.`val loss` desc", OrderBy(metric("val loss"), descending=True)),
        ("  id  ", OrderBy(attribute("run_id"))),
    ],
)
def test_parses_order_by(text: str, expected: OrderBy) -> None:
    assert parse_order_by(text) == expected


def assert_caret_points_at_position(error: InvalidFilter) -> None:
    """The last two lines of the message are the text and a caret under ``error.position``."""
    shown, caret = str(error).splitlines()[-2:]
    column = caret.index("^")
    assert caret == " " * column + "^"
    if error.position < len(error.text):
        character = error.text[error.position]
        assert shown[column] == (character if character.isprintable() else " ")
    else:
        assert column == len(shown)


def test_error_message_matches_the_documented_form() -> None:
    with pytest.raises(InvalidFilter) as caught:
        parse_filter("metrics.rmse < and params.x = 1")
    assert str(caught.value) == (
        "Expected a value after '<' at column 16, got 'and'.\n  metrics.rmse < and params.x = 1\n                 ^"
    )
    assert caught.value.position == 15
    assert caught.value.text == "metrics.rmse < and params.x = 1"


FILTER_ERRORS = [
    ("params.x = 'abc", 11, "Expected a closing ' for this quote at column 12, got the end of the filter."),
    ('params.x = "abc\\"', 11, 'Expected a closing " for this quote'),
    ("metrics.`val loss < 1", 8, "Expected a closing ` for this quote"),
    ("metrix.rmse < 1", 0, "got 'metrix.'. Did you mean 'metrics.'?"),
    ("paramz.x = 1", 0, "Did you mean 'params.'?"),
    ("rmse < 1", 0, "Expected an attribute (run_id, name, status, start_time, end_time, experiment_id, "),
    ("rmse < 1", 0, "parent_run_id, user) or a field such as metrics.rmse at column 1, got 'rmse'."),
    ("attributes.colour = 'x'", 11, "after 'attributes.' at column 12, got 'colour'."),
    ("starttime < 1", 0, "Did you mean 'start_time'?"),
    ("metrics. < 1", 8, "Expected a key right after 'metrics.' at column 9, got nothing."),
    ('metrics."" < 1', 8, "got an empty key"),
    (
        "metrics.rmse < 1 metrics.mae > 2",
        17,
        "Expected AND, OR or the end of the filter at column 18, got 'me",
    ),
    ("metrics.x < 1)", 13, "Expected AND, OR or the end of the filter at column 14, got ')'."),
    ("()", 1, "Expected a comparison inside the parentheses at column 2, got ')'."),
    ("(metrics.x < 1", 14, "got the end of the filter. The '(' at column 1 is still open."),
    ("metrics.rmse = 'low'", 15, "Expected a number to compare metrics.rmse with at column 16, got the str"),
    ("metrics.rmse = 'low'", 15, "got the string 'low'. Metrics compare with numbers only."),
    ("metrics.rmse in (1, 'a')", 20, "Expected a number to compare metrics.rmse with"),
    ("metrics.rmse like '1%'", 13, "Expected one of =, !=, <, <=, >, >=, IN, NOT IN, IS NULL, IS NOT NULL "),
    ("metrics.rmse like '1%'", 13, "for metrics.rmse at column 14, got 'like'. Metrics compare with numbers"),
    ("status = 'done'", 9, "Expected a status (running, finished, failed, killed) at column 10, got the str"),
    ("status = 1", 9, "Expected a status"),
    ("status < 'running'", 7, "Expected one of =, !=, IN, NOT IN for status"),
    ("start_time > 'yesterday'", 13, "Expected epoch seconds or an ISO-8601 date"),
    ("start_time like '2024%'", 11, "for start_time at column 12, got 'like'."),
    ("name = 1", 7, "Expected a string to compare name with at column 8, got the number 1. Write '1' in"),
    ("name < 'b'", 5, "for name at column 6"),
    ("experiment_id = 'abc'", 16, "Expected an experiment id (a whole number such as 3) at column 17, got"),
    ("experiment_id = 1.5", 16, "got the number 1.5"),
    ("experiment_id like '1%'", 14, "IS NULL, IS NOT NULL for experiment_id at column 15, got 'like'."),
    ("params.x like 1", 14, "Expected a string pattern after LIKE at column 15, got the number 1."),
    ("params.x = null", 11, "got 'null'. To test for a missing value write IS NULL or IS NOT NULL."),
    ("params.x is nul", 12, "Expected NULL after IS at column 13, got 'nul'."),
    ("params.x is not 'a'", 16, "Expected NULL after IS NOT"),
    ("params.x not = 1", 13, "Expected LIKE, ILIKE or IN after NOT at column 14, got '='."),
    ("params.x in 'a'", 12, "Expected '(' and a list of values after IN at column 13, got the string 'a'."),
    ("params.x in ()", 13, "Expected at least one value in the list after IN at column 14, got ')'."),
    ("params.x in ('a' 'b')", 17, "Expected ',' or ')' in the list of values"),
    ("params.x in ('a', null)", 18, "Expected a value in the list at column 19, got 'null'."),
    ("params.x = ('a')", 11, "Expected a value after '=' at column 12, got '('."),
    ("params.x", 8, "Expected an operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, IS NULL) after params.x "),
    ("params.x", 8, "at column 9, got the end of the filter."),
    ("params.x 1", 9, "got the number 1"),
    ("and params.x = 1", 0, "Expected a field such as metrics.rmse, params.lr or status at column 1, got"),
    ("1 = params.x", 0, "got the number 1"),
    ("metrics.x < 1 and", 17, "Expected a field such as metrics.rmse, params.lr or status at column 18, got"),
    ("not", 3, "got the end of the filter"),
    ("`x` = 1", 0, "Expected a prefix such as metrics. before a key in backticks at column 1, got '`'."),
    ("params.x # 1", 9, "Expected a field, a value, an operator or a parenthesis at column 10, got '#'."),
    ("params.x ! 1", 9, "Expected an operator such as != or <= at column 10, got '!'."),
    ("metrics.x < 1abc", 12, "Expected a number at column 13, got '1abc'."),
    ("metrics.x < 1e", 12, "got '1e'"),
    ("metrics.x < 1.2.3", 12, "got '1.2.3'"),
    ("metrics.x < 1e999", 12, "Expected a finite number"),
    ("metrics.x < 99999999999999999999", 12, "Expected a whole number that fits in 64 bits"),
    ("metrics.x < " + "9" * 5000, 12, "Expected a whole number that fits in 64 bits"),
    ("metrics.x < 1\nand foo = 2", 18, "Expected an attribute"),
    ("(" * 101 + "metrics.x < 1" + ")" * 101, 100, "Expected at most 100 nested parentheses and NOTs"),
    ("not " * 101 + "metrics.x < 1", 400, "Expected at most 100 nested parentheses and NOTs"),
    ("metrics.x < 1 and " * 100 + "bogus = 1", 1800, "got 'bogus'"),
]


@pytest.mark.parametrize(("text", "position", "fragment"), FILTER_ERRORS)
def test_filter_errors(text: str, position: int, fragment: str) -> None:
    with pytest.raises(InvalidFilter) as caught:
        parse_filter(text)
    error = caught.value
    assert fragment in error.message
    assert f"at column {position + 1}," in error.message
    assert (error.text, error.position) == (text, position)
    assert_caret_points_at_position(error)


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("", 0, "Expected a field to order by at column 1, got the end of the order-by clause."),
        ("metrics.rmse <", 13, "got '<'"),
        (
            "metrics.rmse sideways",
            13,
            "Expected ASC, DESC or the end of the order-by clause at column 14, got",
        ),
        ("metrics.rmse desc, params.x", 17, "got ','"),
        ("metrix.rmse", 0, "Did you mean 'metrics.'?"),
        ("desc", 0, "Expected a field such as metrics.rmse"),
    ],
)
def test_order_by_errors(text: str, position: int, fragment: str) -> None:
    with pytest.raises(InvalidFilter) as caught:
        parse_order_by(text)
    assert fragment in caught.value.message
    assert caught.value.position == position
    assert_caret_points_at_position(caught.value)


@pytest.mark.parametrize("parse", [parse_filter, parse_order_by])
def test_refuses_text_longer_than_ten_thousand_characters(parse: Callable[[str], object]) -> None:
    parse_filter("metrics.x < 1" + " " * (10_000 - 13))
    with pytest.raises(InvalidFilter) as caught:
        parse("metrics.x < 1" + " " * (10_001 - 13))
    assert caught.value.message == "Expected a filter of at most 10000 characters, got 10001."
    assert caught.value.position == 10_000


# Round trip: random valid trees, rendered in varied but equivalent spellings, parse back to themselves.

PLAIN_KEY = st.text(st.sampled_from("abcXYZ019_-./é"), min_size=1, max_size=8)
ANY_KEY = st.text(min_size=1, max_size=8)
INTEGERS = st.integers(-(2**63), 2**63 - 1)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
NUMBERS = INTEGERS | FLOATS
SCALARS = NUMBERS | st.text(max_size=8)
ORDERING: list[Operator] = ["=", "!=", "<", "<=", ">", ">="]
PATTERN: list[Operator] = ["like", "ilike", "not like", "not ilike"]
PRESENCE: list[Operator] = ["is null", "is not null"]
KINDS: list[FieldKind] = ["metric", "param", "tag"]
ATTRIBUTE_SPELLINGS = {"run_id": ["run_id", "id"], "name": ["name", "run_name"]}


def values_for(op: Operator, scalars: st.SearchStrategy[str | int | float]) -> st.SearchStrategy[Value]:
    if op in PRESENCE:
        return st.none()
    if op in ("in", "not in"):
        return st.lists(scalars, min_size=1, max_size=3).map(tuple)
    return scalars


@st.composite
def comparisons(draw: st.DrawFn) -> Comparison:
    kind = draw(st.sampled_from([*KINDS, "attribute"]))
    if kind == "attribute":
        field = attribute(draw(st.sampled_from(sorted(filtering._ATTRIBUTES))))
    else:
        field = Field(kind, draw(PLAIN_KEY | ANY_KEY))
    numeric_ops: list[Operator] = [*ORDERING, "in", "not in", *PRESENCE]
    if field.kind == "metric":
        op = draw(st.sampled_from(numeric_ops))
        return Comparison(field, op, draw(values_for(op, NUMBERS)))
    if field.kind in ("param", "tag"):
        op = draw(st.sampled_from(get_args(Operator)))
        scalars = st.text(max_size=8) if op in PATTERN else SCALARS
        return Comparison(field, op, draw(values_for(op, scalars)))
    if field.key == "status":
        op = draw(st.sampled_from(["=", "!=", "in", "not in"]))
        return Comparison(field, op, draw(values_for(op, st.sampled_from(filtering._STATUSES))))
    if field.key == "experiment_id":
        op = draw(st.sampled_from(numeric_ops))
        return Comparison(field, op, draw(values_for(op, st.integers(0, 2**53))))
    if field.key in ("start_time", "end_time"):
        op = draw(st.sampled_from(numeric_ops))
        return Comparison(field, op, draw(values_for(op, FLOATS)))
    op = draw(st.sampled_from(["=", "!=", *PATTERN, "in", "not in", *PRESENCE]))
    return Comparison(field, op, draw(values_for(op, st.text(max_size=8))))


def combine(kind: type[And] | type[Or], items: list[Expression]) -> Expression:
    flat: list[Expression] = []
    for item in items:
        flat.extend(item.items if isinstance(item, kind) else [item])
    return kind(tuple(flat))


EXPRESSIONS: st.SearchStrategy[Expression] = st.recursive(
    comparisons(),
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=3).map(lambda items: combine(And, items)),
        st.lists(children, min_size=2, max_size=3).map(lambda items: combine(Or, items)),
        children.map(Not),
    ),
    max_leaves=10,
)


class Renderer:
    """Writes a tree as filter text, drawing the spelling of each keyword, prefix and quote at random."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data

    def choose(self, options: list[str]) -> str:
        return self.data.draw(st.sampled_from(options))

    def keyword(self, word: str) -> str:
        return self.choose([word.lower(), word.upper(), word.capitalize()])

    def expression(self, expression: Expression) -> str:
        if isinstance(expression, Comparison):
            return self.optional_parentheses(self.comparison(expression))
        if isinstance(expression, Not):
            inner = self.expression(expression.item)
            needs = isinstance(expression.item, (And, Or))
            return f"{self.keyword('not')} {f'({inner})' if needs else inner}"
        joiner = f" {self.keyword('and' if isinstance(expression, And) else 'or')} "
        # Only an OR inside an AND needs parentheses: NOT binds tighter than AND, AND tighter than OR.
        parts = [
            f"({self.expression(item)})" if isinstance(item, Or) else self.expression(item) for item in expression.items
        ]
        return self.optional_parentheses(joiner.join(parts))

    def optional_parentheses(self, text: str) -> str:
        return self.choose([text, f"({text})"])

    def comparison(self, comparison: Comparison) -> str:
        op = comparison.op
        spellings: dict[str, list[str]] = {"=": ["=", "=="], "!=": ["!=", "<>"]}
        operator = self.choose(spellings.get(op, [op])) if op in ORDERING else self.keyword(op)
        text = f"{self.field(comparison.field)} {operator}"
        if isinstance(comparison.value, tuple):
            values = ", ".join(self.literal(value, comparison.field) for value in comparison.value)
            return f"{text} ({values})"
        if comparison.value is None:
            return text
        return f"{text} {self.literal(comparison.value, comparison.field)}"

    def field(self, field: Field) -> str:
        if field.kind == "attribute":
            name = self.keyword(self.choose(ATTRIBUTE_SPELLINGS.get(field.key, [field.key])))
            return self.choose(["", "attributes.", "attribute.", "attr."]) + name
        plural = f"{field.kind}s."
        prefix = self.choose([plural, plural[:-2] + "."])
        if all(character.isalnum() or character in "_-./" for character in field.key):
            return prefix + field.key
        return prefix + self.quoted(field.key, self.choose(["`", '"']))

    def literal(self, value: str | int | float, field: Field) -> str:
        if isinstance(value, str):
            return self.quoted(value, self.choose(["'", '"']))
        if field == attribute("experiment_id"):
            return self.choose([repr(value), f"'{value}'"])  # ids are accepted quoted too
        return repr(value)

    @staticmethod
    def quoted(text: str, quote: str) -> str:
        escaped = text.replace("\\", "\\\\").replace(quote, "\\" + quote)
        return f"{quote}{escaped}{quote}"


@given(EXPRESSIONS, st.data())
def test_parsing_a_rendered_tree_gives_the_tree_back(expression: Expression, data: st.DataObject) -> None:
    text = Renderer(data).expression(expression)
    assert parse_filter(text) == expression


@given(st.sampled_from(KINDS), PLAIN_KEY | ANY_KEY, st.booleans(), st.data())
def test_parsing_a_rendered_order_by_gives_it_back(
    kind: FieldKind, key: str, descending: bool, data: st.DataObject
) -> None:
    order = OrderBy(Field(kind, key), descending)
    renderer = Renderer(data)
    direction = renderer.choose([" desc"] if descending else ["", " asc"])
    assert parse_order_by(renderer.field(order.field) + renderer.keyword(direction)) == order


# Arbitrary text: the parser answers with a tree or an InvalidFilter, and the caret is always right.

FRAGMENTS = [
    "metrics.x", "params.y", "tags.z", "status", "start_time", "name", "metrics.", "metrics.`a b`", "attr.",
    "'running'", "'2024-01-01'", "'a\\'b'", "1", "-2.5e3", "1e999", ".5", "(", ")", ",", "and", "or", "not",
    "in", "is", "null", "like", "ilike", "asc", "desc", "=", "==", "<", "<=", "!=", "<>", "!", "`", "'", '"',
    "\\", "\n", "#",
]  # fmt: skip
TEXTS = (
    st.text(max_size=200)
    | st.lists(st.sampled_from(FRAGMENTS), max_size=30).map(lambda parts: " ".join(parts))
    | st.lists(st.sampled_from(FRAGMENTS), max_size=30).map("".join)
)


@given(TEXTS)
def test_arbitrary_text_raises_nothing_but_invalid_filter(text: str) -> None:
    for parse in (parse_filter, parse_order_by):
        try:
            parse(text)
        except InvalidFilter as error:
            assert 0 <= error.position <= len(text)
            assert f"at column {error.position + 1}," in error.message
            assert_caret_points_at_position(error)
