"""The run-search filter language: a tokenizer, a recursive-descent parser and a small typed tree.

A filter selects runs by their metrics, params, tags and attributes::

    metrics.rmse < 0.5 and params.model in ('lgbm', 'xgb') and not status = 'failed'

Keywords are case-insensitive; ``not`` binds tighter than ``and``, which binds tighter than ``or``.
Types are checked while parsing (a metric against a number, a status against a known status, a time
against epoch seconds or an ISO-8601 date), so the store compiles a tree that is already valid. Every
mistake raises :class:`~driftloop.errors.InvalidFilter`, whose message names the column and draws a
caret under it.

>>> parse_filter("metrics.rmse < 0.5 and params.model = 'lgbm'")  # doctest: +NORMALIZE_WHITESPACE
And(items=(Comparison(field=Field(kind='metric', key='rmse'), op='<', value=0.5),
           Comparison(field=Field(kind='param', key='model'), op='=', value='lgbm')))
>>> parse_order_by("start_time DESC")
OrderBy(field=Field(kind='attribute', key='start_time'), descending=True)
>>> parse_filter("metrics.rmse < and params.x = 1")
Traceback (most recent call last):
    ...
driftloop.errors.InvalidFilter: Expected a value after '<' at column 16, got 'and'.
  metrics.rmse < and params.x = 1
                 ^
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, TypeAlias, get_args

from driftloop.errors import InvalidFilter

__all__ = [
    "And",
    "Comparison",
    "Expression",
    "Field",
    "FieldKind",
    "Not",
    "Operator",
    "Or",
    "OrderBy",
    "Value",
    "parse_filter",
    "parse_order_by",
]

FieldKind: TypeAlias = Literal["metric", "param", "tag", "attribute"]
Operator: TypeAlias = Literal[
    "=", "!=", "<", "<=", ">", ">=", "like", "ilike", "not like", "not ilike",
    "in", "not in", "is null", "is not null",
]  # fmt: skip
_Scalar: TypeAlias = str | int | float
Value: TypeAlias = str | int | float | tuple[str | int | float, ...] | None


@dataclass(frozen=True, slots=True)
class Field:
    """A metric, param or tag of a run by its key, or one of the run's attributes by its canonical name."""

    kind: FieldKind
    key: str


@dataclass(frozen=True, slots=True)
class Comparison:
    """``field op value``; ``value`` is None for IS NULL and IS NOT NULL, a tuple for IN and NOT IN."""

    field: Field
    op: Operator
    value: Value


@dataclass(frozen=True, slots=True)
class And:
    """All of at least two expressions, none of them an ``And``."""

    items: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """Any of at least two expressions, none of them an ``Or``."""

    items: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """The negation of an expression."""

    item: Expression


Expression: TypeAlias = Comparison | And | Or | Not


@dataclass(frozen=True, slots=True)
class OrderBy:
    """One ``<field> [ASC|DESC]`` clause."""

    field: Field
    descending: bool = False


_MAX_LENGTH = 10_000
_MAX_DEPTH = 100  # nested parentheses and NOTs; keeps the recursion far from Python's limit
_INT64 = range(-(2**63), 2**63)

_PREFIXES: dict[str, FieldKind] = {
    "metrics": "metric", "metric": "metric", "params": "param", "param": "param", "tags": "tag", "tag": "tag",
    "attributes": "attribute", "attribute": "attribute", "attr": "attribute",
}  # fmt: skip
_PLURALS: dict[FieldKind, str] = {
    "metric": "metrics", "param": "params", "tag": "tags", "attribute": "attributes",
}  # fmt: skip
_ATTRIBUTES = ("run_id", "name", "status", "start_time", "end_time", "experiment_id", "parent_run_id", "user")
_ATTRIBUTE_ALIASES = {"id": "run_id", "run_name": "name"} | {name: name for name in _ATTRIBUTES}
_TIME_ATTRIBUTES = ("start_time", "end_time")
_STATUSES = ("running", "finished", "failed", "killed")
_KEYWORDS = ("and", "or", "not", "like", "ilike", "in", "is", "null", "asc", "desc")

_SYMBOL_OPERATORS: dict[str, Operator] = {
    "=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=",
}  # fmt: skip
_WORD_OPERATORS: dict[str, Operator] = {
    "like": "like", "ilike": "ilike", "in": "in",
    "not like": "not like", "not ilike": "not ilike", "not in": "not in",
}  # fmt: skip
_ALL_OPERATORS: tuple[Operator, ...] = get_args(Operator)
_ORDERING: tuple[Operator, ...] = ("=", "!=", "<", "<=", ">", ">=")
_PATTERN: tuple[Operator, ...] = ("like", "ilike", "not like", "not ilike")
_MEMBERSHIP: tuple[Operator, ...] = ("in", "not in")
_PRESENCE: tuple[Operator, ...] = ("is null", "is not null")
_NUMERIC_OPERATORS = _ORDERING + _MEMBERSHIP + _PRESENCE
_TEXT_OPERATORS = ("=", "!=", *_PATTERN, *_MEMBERSHIP, *_PRESENCE)
_STATUS_OPERATORS = ("=", "!=", *_MEMBERSHIP)

_TokenKind: TypeAlias = Literal["name", "number", "string", "operator", "(", ")", ",", "end"]
_PUNCTUATION: dict[str, _TokenKind] = {"(": "(", ")": ")", ",": ","}


def parse_filter(text: str | None) -> Expression | None:
    """Parse a run-search filter; None or blank text means "every run" and gives None.

    Raises:
        InvalidFilter: the text does not parse, breaks a typing rule or is longer than 10,000 characters.
    """
    if text is None:
        return None
    _check_length(text)
    if not text.strip():
        return None
    return _Parser(text, "filter").parse_filter()


def parse_order_by(text: str) -> OrderBy:
    """Parse one ``<field> [ASC|DESC]`` clause, such as ``metrics.rmse`` or ``start_time DESC``.

    Raises:
        InvalidFilter: the clause does not parse.
    """
    _check_length(text)
    return _Parser(text, "order-by clause").parse_order_by()


def _check_length(text: str) -> None:
    if len(text) > _MAX_LENGTH:
        raise InvalidFilter(
            f"Expected a filter of at most {_MAX_LENGTH} characters, got {len(text)}.",
            text=text,
            position=_MAX_LENGTH,
        )


def _invalid(text: str, position: int, expected: str, got: str, hint: str = "") -> InvalidFilter:
    message = f"Expected {expected} at column {position + 1}, got {got}." + (f" {hint}" if hint else "")
    return InvalidFilter(f"{message}\n{_excerpt(text, position)}", text=text, position=position)


def _excerpt(text: str, position: int, width: int = 80) -> str:
    """The text around ``position`` on one line (at most ``width`` characters) and a caret under it."""
    start = max(0, min(position - width // 2, len(text) - width))
    # Newlines and tabs become spaces so the caret stays under its character.
    shown = "".join(char if char.isprintable() else " " for char in text[start : start + width])
    before = "…" if start > 0 else ""
    after = "…" if start + width < len(text) else ""
    return f"  {before}{shown}{after}\n  {' ' * (len(before) + position - start)}^"


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_digit(char: str) -> bool:
    return "0" <= char <= "9"  # ASCII only: int() would also accept other scripts' digits


def _is_name_char(char: str) -> bool:
    return char.isalnum() or char in "_-./"


def _suggestion(word: str, choices: tuple[str, ...], suffix: str = "") -> str:
    matches = difflib.get_close_matches(word.lower(), choices, n=1)
    return f"Did you mean '{matches[0]}{suffix}'?" if matches else ""


def _label(field: Field) -> str:
    return field.key if field.kind == "attribute" else f"{_PLURALS[field.kind]}.{field.key}"


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _TokenKind
    text: str  # as written
    position: int
    value: _Scalar = ""  # a name with its key unquoted, a number, or a string's content

    def is_keyword(self, *words: str) -> bool:
        return self.kind == "name" and self.text.lower() in words


class _Tokenizer:
    """Cuts the text into tokens; each token remembers its offset so that errors can point at it."""

    def __init__(self, text: str, subject: str) -> None:
        self._text = text
        self._subject = subject
        self._index = 0

    def tokens(self) -> list[_Token]:
        tokens: list[_Token] = []
        while not tokens or tokens[-1].kind != "end":
            while self._index < len(self._text) and self._text[self._index].isspace():
                self._index += 1
            tokens.append(self._token())
        return tokens

    def _token(self) -> _Token:
        start, text = self._index, self._text
        if start == len(text):
            return _Token("end", "", start)
        char = text[start]
        if char in _PUNCTUATION:
            self._index += 1
            return _Token(_PUNCTUATION[char], char, start)
        if char in "=!<>":
            return self._operator()
        if char in "'\"":
            value = self._quoted()
            return _Token("string", text[start : self._index], start, value)
        if self._starts_number():
            return self._number()
        if char.isalpha() or char == "_":
            return self._name()
        if char == "`":
            raise _invalid(text, start, "a prefix such as metrics. before a key in backticks", "'`'")
        raise _invalid(text, start, "a field, a value, an operator or a parenthesis", f"'{char}'")

    def _operator(self) -> _Token:
        start = self._index
        for length in (2, 1):
            symbol = self._text[start : start + length]
            if len(symbol) == length and symbol in _SYMBOL_OPERATORS:
                self._index += length
                return _Token("operator", symbol, start)
        raise _invalid(self._text, start, "an operator such as != or <=", f"'{self._text[start]}'")

    def _quoted(self) -> str:
        """Read a string or a key from its opening quote; a backslash escapes a quote or a backslash."""
        start, text = self._index, self._text
        quote = text[start]
        characters: list[str] = []
        self._index += 1
        while self._index < len(text):
            char = text[self._index]
            self._index += 1
            if char == quote:
                return "".join(characters)
            if char == "\\" and self._index < len(text) and text[self._index] in "\\'\"`":
                char = text[self._index]
                self._index += 1
            characters.append(char)
        raise _invalid(text, start, f"a closing {quote} for this quote", f"the end of the {self._subject}")

    def _starts_number(self) -> bool:
        rest = self._text[self._index : self._index + 3]
        rest = rest[1:] if rest[:1] in ("+", "-") else rest
        rest = rest[1:] if rest[:1] == "." else rest
        return _is_digit(rest[:1])

    def _number(self) -> _Token:
        start, text = self._index, self._text
        index = self._skip_digits(start + 1 if text[start] in "+-" else start)
        is_float = index < len(text) and text[index] == "."
        if is_float:
            index = self._skip_digits(index + 1)
        complete = True
        if index < len(text) and text[index] in "eE":
            is_float = True
            exponent = index + (2 if text[index + 1 : index + 2] in ("+", "-") else 1)
            index = self._skip_digits(exponent)
            complete = index > exponent
        word_end = index  # a number glued to a word ("1abc", "1.2.3") is refused as a whole
        while word_end < len(text) and (_is_name_char(text[word_end]) or text[word_end] in "+-"):
            word_end += 1
        if word_end > index or not complete:
            raise _invalid(text, start, "a number", f"'{_shorten(text[start:word_end])}'")
        raw = text[start:index]
        self._index = index
        if is_float:
            number = float(raw)
            if not math.isfinite(number):
                raise _invalid(text, start, "a finite number", f"'{_shorten(raw)}'")
            return _Token("number", raw, start, number)
        # Checking the length first avoids int()'s own limit on very long digit strings.
        whole = int(raw) if len(raw) <= 20 else 2**63
        if whole not in _INT64:
            hint = "Write it with an exponent (1e30) to compare it as a float."
            raise _invalid(text, start, "a whole number that fits in 64 bits", f"'{_shorten(raw)}'", hint)
        return _Token("number", raw, start, whole)

    def _skip_digits(self, index: int) -> int:
        while index < len(self._text) and _is_digit(self._text[index]):
            index += 1
        return index

    def _name(self) -> _Token:
        start, text = self._index, self._text
        while self._index < len(text) and _is_name_char(text[self._index]):
            self._index += 1
        word = text[start : self._index]
        is_prefix = word.endswith(".") and word.count(".") == 1
        if is_prefix and self._index < len(text) and text[self._index] in '`"':
            key = self._quoted()
            return _Token("name", text[start : self._index], start, word + key)
        return _Token("name", word, start, word)


class _Parser:
    """Recursive descent, one method per level: disjunction > conjunction > negation > primary."""

    def __init__(self, text: str, subject: str) -> None:
        self._text = text
        self._subject = subject
        self._tokens = _Tokenizer(text, subject).tokens()
        self._index = 0
        self._depth = 0

    def parse_filter(self) -> Expression:
        expression = self._disjunction()
        self._expect_end("AND, OR or the end of the filter")
        return expression

    def parse_order_by(self) -> OrderBy:
        if self._peek().kind == "end":
            raise self._error("a field to order by", self._peek())
        field = self._field()
        descending = False
        if self._peek().is_keyword("asc", "desc"):
            descending = self._advance().text.lower() == "desc"
        self._expect_end("ASC, DESC or the end of the order-by clause")
        return OrderBy(field, descending)

    # Plumbing.

    def _peek(self) -> _Token:
        return self._tokens[self._index]

    def _advance(self) -> _Token:
        token = self._tokens[self._index]
        if token.kind != "end":
            self._index += 1
        return token

    def _error(self, expected: str, token: _Token, hint: str = "") -> InvalidFilter:
        return _invalid(self._text, token.position, expected, self._describe(token), hint)

    def _describe(self, token: _Token) -> str:
        if token.kind == "end":
            return f"the end of the {self._subject}"
        if token.kind in ("string", "number"):
            return f"the {token.kind} {_shorten(token.text)}"
        return f"'{_shorten(token.text)}'"

    def _expect_end(self, expected: str) -> None:
        if self._peek().kind != "end":
            raise self._error(expected, self._peek())

    def _enter(self, token: _Token) -> None:
        self._depth += 1
        if self._depth > _MAX_DEPTH:
            raise self._error(f"at most {_MAX_DEPTH} nested parentheses and NOTs", token)

    # Boolean structure.

    def _disjunction(self) -> Expression:
        items = [self._conjunction()]
        while self._peek().is_keyword("or"):
            self._advance()
            items.append(self._conjunction())
        return _flatten(Or, items)

    def _conjunction(self) -> Expression:
        items = [self._negation()]
        while self._peek().is_keyword("and"):
            self._advance()
            items.append(self._negation())
        return _flatten(And, items)

    def _negation(self) -> Expression:
        if not self._peek().is_keyword("not"):
            return self._primary()
        self._enter(self._advance())
        item = self._negation()
        self._depth -= 1
        return Not(item)

    def _primary(self) -> Expression:
        opening = self._peek()
        if opening.kind != "(":
            return self._comparison()
        self._advance()
        self._enter(opening)
        if self._peek().kind == ")":
            raise self._error("a comparison inside the parentheses", self._peek())
        expression = self._disjunction()
        if self._peek().kind != ")":
            hint = f"The '(' at column {opening.position + 1} is still open."
            raise self._error("AND, OR or ')'", self._peek(), hint)
        self._advance()
        self._depth -= 1
        return expression

    # Comparisons.

    def _comparison(self) -> Comparison:
        field = self._field()
        operator_token = self._peek()
        op = self._operator(field)
        allowed = _operators_for(field)
        if op not in allowed:
            expected = f"one of {', '.join(o.upper() for o in allowed)} for {_label(field)}"
            hint = "Metrics compare with numbers only." if field.kind == "metric" else ""
            raise self._error(expected, operator_token, hint)
        after = f"'{operator_token.text}'" if operator_token.kind == "operator" else op.upper()
        return Comparison(field, op, self._value(field, op, after))

    def _field(self) -> Field:
        token = self._advance()
        if token.kind != "name" or token.text.lower() in _KEYWORDS:
            raise self._error("a field such as metrics.rmse, params.lr or status", token)
        prefix, dot, key = str(token.value).partition(".")
        if not dot:
            name = self._attribute(prefix, token.position, "or a field such as metrics.rmse")
            return Field("attribute", name)
        kind = _PREFIXES.get(prefix.lower())
        if kind is None:
            hint = _suggestion(prefix, tuple(_PLURALS.values()), ".")
            expected = "a field prefix metrics., params., tags. or attributes."
            raise _invalid(self._text, token.position, expected, f"'{_shorten(prefix)}.'", hint)
        key_position = token.position + len(prefix) + 1
        if not key:
            got = "nothing" if token.text == f"{prefix}." else "an empty key"
            hint = f"Write a key with other characters in backticks: {prefix}.`val loss`."
            raise _invalid(self._text, key_position, f"a key right after '{prefix}.'", got, hint)
        if kind == "attribute":
            return Field(kind, self._attribute(key, key_position, f"after '{prefix}.'"))
        return Field(kind, key)

    def _attribute(self, name: str, position: int, context: str) -> str:
        canonical = _ATTRIBUTE_ALIASES.get(name.lower())
        if canonical is None:
            expected = f"an attribute ({', '.join(_ATTRIBUTES)}) {context}"
            hint = _suggestion(name, _ATTRIBUTES)
            raise _invalid(self._text, position, expected, f"'{_shorten(name)}'", hint)
        return canonical

    def _operator(self, field: Field) -> Operator:
        token = self._advance()
        if token.kind == "operator":
            return _SYMBOL_OPERATORS[token.text]
        word = token.text.lower() if token.kind == "name" else ""
        if word in _WORD_OPERATORS:
            return _WORD_OPERATORS[word]
        if word == "not":
            following = self._advance()
            if following.is_keyword("like", "ilike", "in"):
                return _WORD_OPERATORS[f"not {following.text.lower()}"]
            raise self._error("LIKE, ILIKE or IN after NOT", following)
        if word == "is":
            negated = self._peek().is_keyword("not")
            if negated:
                self._advance()
            if not self._peek().is_keyword("null"):
                raise self._error(f"NULL after {'IS NOT' if negated else 'IS'}", self._peek())
            self._advance()
            return "is not null" if negated else "is null"
        expected = f"an operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, IS NULL) after {_label(field)}"
        raise self._error(expected, token)

    def _value(self, field: Field, op: Operator, after: str) -> Value:
        if op in _PRESENCE:
            return None
        if op not in _MEMBERSHIP:
            return self._scalar(field, op, f"a value after {after}")
        opening = self._advance()
        if opening.kind != "(":
            raise self._error(f"'(' and a list of values after {after}", opening)
        if self._peek().kind == ")":
            raise self._error(f"at least one value in the list after {after}", self._peek())
        values = [self._scalar(field, op, "a value in the list")]
        while self._peek().kind == ",":
            self._advance()
            if self._peek().kind == ")":
                break  # a trailing comma, as in Python's one-element tuple
            values.append(self._scalar(field, op, "a value in the list"))
        if self._peek().kind != ")":
            raise self._error("',' or ')' in the list of values", self._peek())
        self._advance()
        return tuple(values)

    def _scalar(self, field: Field, op: Operator, expected: str) -> _Scalar:
        token = self._advance()
        if token.is_keyword("null"):
            raise self._error(expected, token, "To test for a missing value write IS NULL or IS NOT NULL.")
        if token.kind not in ("number", "string"):
            raise self._error(expected, token)
        label = _label(field)
        if field.kind == "metric":
            if token.kind != "number":
                hint = "Metrics compare with numbers only."
                raise self._error(f"a number to compare {label} with", token, hint)
        elif field.kind in ("param", "tag"):
            if op in _PATTERN and token.kind != "string":
                raise self._error(f"a string pattern after {op.upper()}", token)
        elif field.key == "status":
            status = str(token.value).lower()
            if token.kind != "string" or status not in _STATUSES:
                raise self._error(f"a status ({', '.join(_STATUSES)})", token)
            return status
        elif field.key in _TIME_ATTRIBUTES:
            return self._time(token)
        elif field.key == "experiment_id":
            return self._experiment_id(token)
        elif token.kind != "string":
            raise self._error(f"a string to compare {label} with", token, f"Write '{token.text}' in quotes.")
        return token.value

    def _experiment_id(self, token: _Token) -> int:
        """Experiment ids are whole numbers; ``'3'`` is accepted too, as ids are often quoted."""
        if isinstance(token.value, int):
            return token.value
        digits = str(token.value) if token.kind == "string" else ""
        if 0 < len(digits) <= 18 and all(_is_digit(char) for char in digits):
            return int(digits)
        raise self._error("an experiment id (a whole number such as 3)", token)

    def _time(self, token: _Token) -> float:
        """Epoch seconds as a float; an ISO-8601 date or datetime without an offset is taken as UTC."""
        if token.kind == "number":
            return float(token.value)
        try:
            moment = datetime.fromisoformat(str(token.value))
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
        except (ValueError, OverflowError):
            expected = "epoch seconds or an ISO-8601 date such as '2024-05-01' or '2024-05-01T12:00:00Z'"
            raise self._error(expected, token) from None


def _operators_for(field: Field) -> tuple[Operator, ...]:
    if field.kind in ("param", "tag"):
        return _ALL_OPERATORS
    if field.kind == "metric" or field.key in (*_TIME_ATTRIBUTES, "experiment_id"):
        return _NUMERIC_OPERATORS
    if field.key == "status":
        return _STATUS_OPERATORS
    return _TEXT_OPERATORS


def _flatten(kind: type[And] | type[Or], items: list[Expression]) -> Expression:
    """One item stays itself; ``a and (b and c)`` becomes ``And((a, b, c))``."""
    flat: list[Expression] = []
    for item in items:
        flat.extend(item.items if isinstance(item, kind) else (item,))
    return flat[0] if len(flat) == 1 else kind(tuple(flat))
