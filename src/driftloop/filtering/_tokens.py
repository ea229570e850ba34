"""The filter language's tokenizer, and the errors that point at a column of the text."""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Literal, TypeAlias

from driftloop.errors import InvalidFilter
from driftloop.filtering._syntax import SYMBOL_OPERATORS, Scalar

MAX_LENGTH = 10_000
"""The longest filter or order-by clause accepted, in characters."""
_INT64 = range(-(2**63), 2**63)
_TokenKind: TypeAlias = Literal["name", "number", "string", "operator", "(", ")", ",", "end"]
_PUNCTUATION: dict[str, _TokenKind] = {"(": "(", ")": ")", ",": ","}


def check_length(text: str) -> None:
    """Refuse a text longer than MAX_LENGTH before any work is spent on it."""
    if len(text) > MAX_LENGTH:
        raise InvalidFilter(
            f"Expected a filter of at most {MAX_LENGTH} characters, got {len(text)}.",
            text=text,
            position=MAX_LENGTH,
        )


def invalid(text: str, position: int, expected: str, got: str, hint: str = "") -> InvalidFilter:
    """The error for a mistake at ``position``: what was expected, what came, and a caret under it."""
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


def suggestion(word: str, choices: tuple[str, ...], suffix: str = "") -> str:
    """A hint naming the choice closest to a misspelt word, or nothing."""
    matches = difflib.get_close_matches(word.lower(), choices, n=1)
    return f"Did you mean '{matches[0]}{suffix}'?" if matches else ""


def shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_digit(char: str) -> bool:
    return "0" <= char <= "9"  # ASCII only: int() would also accept other scripts' digits


def _is_name_char(char: str) -> bool:
    return char.isalnum() or char in "_-./"


@dataclass(frozen=True, slots=True)
class Token:
    """One piece of the text, with the offset it starts at so that errors can point at it."""

    kind: _TokenKind
    text: str  # as written
    position: int
    value: Scalar = ""  # a name with its key unquoted, a number, or a string's content

    def is_keyword(self, *words: str) -> bool:
        return self.kind == "name" and self.text.lower() in words

    def describe(self, subject: str) -> str:
        """The token as an error message names it; ``subject`` is what the text is (a filter…)."""
        if self.kind == "end":
            return f"the end of the {subject}"
        if self.kind in ("string", "number"):
            return f"the {self.kind} {shorten(self.text)}"
        return f"'{shorten(self.text)}'"


class Tokenizer:
    """Cuts the text into tokens; each token remembers its offset so that errors can point at it."""

    def __init__(self, text: str, subject: str) -> None:
        self._text = text
        self._subject = subject
        self._index = 0

    def tokens(self) -> list[Token]:
        tokens: list[Token] = []
        while not tokens or tokens[-1].kind != "end":
            while self._index < len(self._text) and self._text[self._index].isspace():
                self._index += 1
            tokens.append(self._token())
        return tokens

    def _token(self) -> Token:
        start, text = self._index, self._text
        if start == len(text):
            return Token("end", "", start)
        char = text[start]
        if char in _PUNCTUATION:
            self._index += 1
            return Token(_PUNCTUATION[char], char, start)
        if char in "=!<>":
            return self._operator()
        if char in "'\"":
            value = self._quoted()
            return Token("string", text[start : self._index], start, value)
        if self._starts_number():
            return self._number()
        if char.isalpha() or char == "_":
            return self._name()
        if char == "`":
            raise invalid(text, start, "a prefix such as metrics. before a key in backticks", "'`'")
        raise invalid(text, start, "a field, a value, an operator or a parenthesis", f"'{char}'")

    def _operator(self) -> Token:
        start = self._index
        for length in (2, 1):
            symbol = self._text[start : start + length]
            if len(symbol) == length and symbol in SYMBOL_OPERATORS:
                self._index += length
                return Token("operator", symbol, start)
        raise invalid(self._text, start, "an operator such as != or <=", f"'{self._text[start]}'")

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
        raise invalid(text, start, f"a closing {quote} for this quote", f"the end of the {self._subject}")

    def _starts_number(self) -> bool:
        rest = self._text[self._index : self._index + 3]
        rest = rest[1:] if rest[:1] in ("+", "-") else rest
        rest = rest[1:] if rest[:1] == "." else rest
        return is_digit(rest[:1])

    def _number(self) -> Token:
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
            raise invalid(text, start, "a number", f"'{shorten(text[start:word_end])}'")
        raw = text[start:index]
        self._index = index
        if is_float:
            number = float(raw)
            if not math.isfinite(number):
                raise invalid(text, start, "a finite number", f"'{shorten(raw)}'")
            return Token("number", raw, start, number)
        # Checking the length first avoids int()'s own limit on very long digit strings.
        whole = int(raw) if len(raw) <= 20 else 2**63
        if whole not in _INT64:
            hint = "Write it with an exponent (1e30) to compare it as a float."
            raise invalid(text, start, "a whole number that fits in 64 bits", f"'{shorten(raw)}'", hint)
        return Token("number", raw, start, whole)

    def _skip_digits(self, index: int) -> int:
        while index < len(self._text) and is_digit(self._text[index]):
            index += 1
        return index

    def _name(self) -> Token:
        start, text = self._index, self._text
        while self._index < len(text) and _is_name_char(text[self._index]):
            self._index += 1
        word = text[start : self._index]
        is_prefix = word.endswith(".") and word.count(".") == 1
        if is_prefix and self._index < len(text) and text[self._index] in '`"':
            key = self._quoted()
            return Token("name", text[start : self._index], start, word + key)
        return Token("name", word, start, word)
