"""The filter language's recursive-descent parser, and its entry points parse_filter and parse_order_by."""

from __future__ import annotations

from datetime import UTC, datetime

from driftloop.errors import InvalidFilter
from driftloop.filtering import _syntax
from driftloop.filtering._syntax import And, Comparison, Expression, Field, Not, Operator, Or, OrderBy, Scalar, Value
from driftloop.filtering._tokens import Token, Tokenizer, check_length, invalid, is_digit, shorten, suggestion

_MAX_DEPTH = 100  # nested parentheses and NOTs; keeps the recursion far from Python's limit


def parse_filter(text: str | None) -> Expression | None:
    """Parse a run-search filter; None or blank text means "every run" and gives None.

    Raises:
        InvalidFilter: the text does not parse, breaks a typing rule or is longer than 10,000 characters.
    """
    if text is None:
        return None
    check_length(text)
    if not text.strip():
        return None
    return _Parser(text, "filter").parse_filter()


def parse_order_by(text: str) -> OrderBy:
    """Parse one ``<field> [ASC|DESC]`` clause, such as ``metrics.rmse`` or ``start_time DESC``.

    Raises:
        InvalidFilter: the clause does not parse.
    """
    check_length(text)
    return _Parser(text, "order-by clause").parse_order_by()


class _Parser:
    """Recursive descent, one method per level: disjunction > conjunction > negation > primary."""

    def __init__(self, text: str, subject: str) -> None:
        self._text = text
        self._subject = subject
        self._tokens = Tokenizer(text, subject).tokens()
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

    def _peek(self) -> Token:
        return self._tokens[self._index]

    def _advance(self) -> Token:
        token = self._tokens[self._index]
        if token.kind != "end":
            self._index += 1
        return token

    def _error(self, expected: str, token: Token, hint: str = "") -> InvalidFilter:
        return invalid(self._text, token.position, expected, token.describe(self._subject), hint)

    def _expect_end(self, expected: str) -> None:
        if self._peek().kind != "end":
            raise self._error(expected, self._peek())

    def _enter(self, token: Token) -> None:
        self._depth += 1
        if self._depth > _MAX_DEPTH:
            raise self._error(f"at most {_MAX_DEPTH} nested parentheses and NOTs", token)

    # Boolean structure.

    def _disjunction(self) -> Expression:
        items = [self._conjunction()]
        while self._peek().is_keyword("or"):
            self._advance()
            items.append(self._conjunction())
        return _syntax.flatten(Or, items)

    def _conjunction(self) -> Expression:
        items = [self._negation()]
        while self._peek().is_keyword("and"):
            self._advance()
            items.append(self._negation())
        return _syntax.flatten(And, items)

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
        allowed = _syntax.operators_for(field)
        if op not in allowed:
            expected = f"one of {', '.join(o.upper() for o in allowed)} for {_syntax.field_label(field)}"
            hint = "Metrics compare with numbers only." if field.kind == "metric" else ""
            raise self._error(expected, operator_token, hint)
        after = f"'{operator_token.text}'" if operator_token.kind == "operator" else op.upper()
        return Comparison(field, op, self._value(field, op, after))

    def _field(self) -> Field:
        token = self._advance()
        if token.kind != "name" or token.text.lower() in _syntax.KEYWORDS:
            raise self._error("a field such as metrics.rmse, params.lr or status", token)
        prefix, dot, key = str(token.value).partition(".")
        if not dot:
            name = self._attribute(prefix, token.position, "or a field such as metrics.rmse")
            return Field("attribute", name)
        kind = _syntax.PREFIXES.get(prefix.lower())
        if kind is None:
            hint = suggestion(prefix, tuple(_syntax.PLURALS.values()), ".")
            expected = "a field prefix metrics., params., tags. or attributes."
            raise invalid(self._text, token.position, expected, f"'{shorten(prefix)}.'", hint)
        key_position = token.position + len(prefix) + 1
        if not key:
            got = "nothing" if token.text == f"{prefix}." else "an empty key"
            hint = f"Write a key with other characters in backticks: {prefix}.`val loss`."
            raise invalid(self._text, key_position, f"a key right after '{prefix}.'", got, hint)
        if kind == "attribute":
            return Field(kind, self._attribute(key, key_position, f"after '{prefix}.'"))
        return Field(kind, key)

    def _attribute(self, name: str, position: int, context: str) -> str:
        canonical = _syntax.ATTRIBUTE_ALIASES.get(name.lower())
        if canonical is None:
            expected = f"an attribute ({', '.join(_syntax.ATTRIBUTES)}) {context}"
            hint = suggestion(name, _syntax.ATTRIBUTES)
            raise invalid(self._text, position, expected, f"'{shorten(name)}'", hint)
        return canonical

    def _operator(self, field: Field) -> Operator:
        token = self._advance()
        if token.kind == "operator":
            return _syntax.SYMBOL_OPERATORS[token.text]
        word = token.text.lower() if token.kind == "name" else ""
        if word in _syntax.WORD_OPERATORS:
            return _syntax.WORD_OPERATORS[word]
        if word == "not":
            following = self._advance()
            if following.is_keyword("like", "ilike", "in"):
                return _syntax.WORD_OPERATORS[f"not {following.text.lower()}"]
            raise self._error("LIKE, ILIKE or IN after NOT", following)
        if word == "is":
            negated = self._peek().is_keyword("not")
            if negated:
                self._advance()
            if not self._peek().is_keyword("null"):
                raise self._error(f"NULL after {'IS NOT' if negated else 'IS'}", self._peek())
            self._advance()
            return "is not null" if negated else "is null"
        expected = f"an operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, IS NULL) after {_syntax.field_label(field)}"
        raise self._error(expected, token)

    def _value(self, field: Field, op: Operator, after: str) -> Value:
        if op in _syntax.PRESENCE:
            return None
        if op not in _syntax.MEMBERSHIP:
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

    def _scalar(self, field: Field, op: Operator, expected: str) -> Scalar:
        token = self._advance()
        if token.is_keyword("null"):
            raise self._error(expected, token, "To test for a missing value write IS NULL or IS NOT NULL.")
        if token.kind not in ("number", "string"):
            raise self._error(expected, token)
        label = _syntax.field_label(field)
        if field.kind == "metric":
            if token.kind != "number":
                hint = "Metrics compare with numbers only."
                raise self._error(f"a number to compare {label} with", token, hint)
        elif field.kind in ("param", "tag"):
            if op in _syntax.PATTERN and token.kind != "string":
                raise self._error(f"a string pattern after {op.upper()}", token)
        elif field.key == "status":
            status = str(token.value).lower()
            if token.kind != "string" or status not in _syntax.STATUSES:
                raise self._error(f"a status ({', '.join(_syntax.STATUSES)})", token)
            return status
        elif field.key in _syntax.TIME_ATTRIBUTES:
            return self._time(token)
        elif field.key == "experiment_id":
            return self._experiment_id(token)
        elif token.kind != "string":
            raise self._error(f"a string to compare {label} with", token, f"Write '{token.text}' in quotes.")
        return token.value

    def _experiment_id(self, token: Token) -> int:
        """Experiment ids are whole numbers; ``'3'`` is accepted too, as ids are often quoted."""
        if isinstance(token.value, int):
            return token.value
        digits = str(token.value) if token.kind == "string" else ""
        if 0 < len(digits) <= 18 and all(is_digit(char) for char in digits):
            return int(digits)
        raise self._error("an experiment id (a whole number such as 3)", token)

    def _time(self, token: Token) -> float:
        """Epoch seconds as a float; an ISO-8601 date or datetime without an offset is taken as UTC."""
        if token.kind == "number":
            return float(token.value)
        try:
            moment = datetime.fromisoformat(str(token.value))
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
        except (ValueError, OverflowError):
            expected = "epoch seconds or an ISO-8601 date such as '2024-05-01' or '2024-05-01T12:00:00Z'"
            raise self._error(expected, token) from None
