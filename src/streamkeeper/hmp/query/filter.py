"""Tokenizer and recursive-descent parser for category filters, and their evaluation.

Grammar (keywords case-insensitive, whitespace between tokens ignored)::

    filter  := clause ( "&" clause )*
    clause  := "category" "::" label [ "NOT" ] "IN" "(" value ( "," value )* ")"
    label   := STRING | BARE
    value   := STRING | BARE+
    STRING  := '"' ECMA-262 (5th edition, 7.8.4) double-quoted string body '"'
    BARE    := a run of characters other than whitespace, quotes, backslash, '&', '(', ')', ',' and "::"

The document asks for quotes, yet its own URL-encoded example leaves labels and values
unquoted (``category::Doctor IN (123, 456)``): an unquoted label is one word, an unquoted value
runs to the next comma or parenthesis (inner spaces kept). Anything holding those characters
still needs quotes.

`IN ("")` means "has this category, whatever the value"; values compare case-insensitively.
Plain Python with no HTTP knowledge: the API maps `FilterSyntaxError` to InvalidFilter (010002).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping

from ..errors import INVALID_FILTER, HmpError

LINE_TERMINATORS = "\n\r\u2028\u2029"
_SIMPLE_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", '"': '"', "'": "'", "\\": "\\"}
_HEX = "0123456789abcdefABCDEF"
MAX_LENGTH = 64 * 1024
_NOT_BARE = "\"&(),'\\"  # quotes and backslashes mean an escaped string: unquoted text may not hold them


class FilterSyntaxError(HmpError):
    def __init__(self, message: str, position: int) -> None:
        super().__init__(INVALID_FILTER, f"{message} at position {position}")
        self.position = position


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # WORD, STRING, "::", "&", "(", ")", ",", END
    text: str
    position: int


def _read_string(text: str, start: int) -> tuple[str, int]:
    """Decode the string literal opening at `start`; returns (value, index after the closing quote)."""
    out: list[str] = []
    i = start + 1
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            return "".join(out), i + 1
        if ch in LINE_TERMINATORS:
            raise FilterSyntaxError("line break inside a string", i)
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= n:
            break
        esc = text[i + 1]
        if esc in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[esc])
            i += 2
        elif esc == "0" and not (i + 2 < n and text[i + 2].isdigit()):
            out.append("\0")
            i += 2
        elif esc in "xu":
            width = 2 if esc == "x" else 4
            digits = text[i + 2:i + 2 + width]
            if len(digits) != width or any(d not in _HEX for d in digits):
                raise FilterSyntaxError(f"malformed \\{esc} escape", i)
            out.append(chr(int(digits, 16)))
            i += 2 + width
        elif esc.isdigit():
            raise FilterSyntaxError("octal escapes are not allowed", i)
        elif esc in LINE_TERMINATORS:  # line continuation
            i += 3 if text[i + 1:i + 3] == "\r\n" else 2
        else:  # a non-escape character stands for itself
            out.append(esc)
            i += 2
    raise FilterSyntaxError("unterminated string", start)


def tokenize(text: str) -> Iterator[Token]:
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch == '"':
            value, end = _read_string(text, i)
            yield Token("STRING", value, i)
            i = end
        elif text.startswith("::", i):
            yield Token("::", "::", i)
            i += 2
        elif ch in "&(),":
            yield Token(ch, ch, i)
            i += 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in _NOT_BARE and not text.startswith("::", j):
                j += 1
            if j == i:
                raise FilterSyntaxError(f"unexpected character {ch!r} (quote the string)", i)
            yield Token("WORD", text[i:j], i)
            i = j
    yield Token("END", "", n)


@dataclass(frozen=True, slots=True)
class Clause:
    label: str
    values: tuple[str, ...]
    negated: bool = False

    def matches(self, categories: Mapping[str, list[str]]) -> bool:
        present = [v for v in categories.get(self.label.casefold(), ()) if v != ""]
        if "" in self.values:
            hit = bool(present)
        else:
            wanted = {v.casefold() for v in self.values}
            hit = any(v.casefold() in wanted for v in present)
        return hit != self.negated


@dataclass(frozen=True, slots=True)
class Filter:
    clauses: tuple[Clause, ...]

    def matches(self, categories: Mapping[str, list[str]]) -> bool:
        """`categories` maps casefolded category labels to the object's values."""
        return all(c.matches(categories) for c in self.clauses)

    def to_text(self) -> str:
        return " & ".join(
            f"category::{quote(c.label)} {'NOT IN' if c.negated else 'IN'} ({', '.join(quote(v) for v in c.values)})"
            for c in self.clauses
        )


def quote(value: str) -> str:
    """A string literal for `value`, escaped the way JSON.stringify does (plus the other line breaks)."""
    out = ['"']
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in "\b\f\n\r\t\v":
            out.append("\\" + {"\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t", "\v": "v"}[ch])
        elif ord(ch) < 0x20 or ch in "\u2028\u2029":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = list(tokenize(text))
        self.at = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.at]

    def take(self, kind: str, word: str | None = None) -> Token:
        tok = self.current
        if tok.kind != kind or (word is not None and tok.text.upper() != word):
            expected = word or {"STRING": "a quoted string", "END": "end of filter"}.get(kind, repr(kind))
            found = "end of filter" if tok.kind == "END" else repr(tok.text if tok.kind != "STRING" else '"' + tok.text + '"')
            raise FilterSyntaxError(f"expected {expected}, found {found}", tok.position)
        self.at += 1
        return tok

    def is_word(self, word: str) -> bool:
        return self.current.kind == "WORD" and self.current.text.upper() == word

    def filter(self) -> Filter:
        clauses = [self.clause()]
        while self.current.kind == "&":
            self.at += 1
            clauses.append(self.clause())
        self.take("END")
        return Filter(tuple(clauses))

    def clause(self) -> Clause:
        self.take("WORD", "CATEGORY")
        self.take("::")
        label = self.current if self.current.kind == "WORD" else self.take("STRING")
        if label.kind == "WORD":
            self.at += 1
        if label.text == "":
            raise FilterSyntaxError("empty category label", label.position)
        negated = self.is_word("NOT")
        if negated:
            self.at += 1
        self.take("WORD", "IN")
        self.take("(")
        values = [self.value()]
        while self.current.kind == ",":
            self.at += 1
            values.append(self.value())
        self.take(")")
        return Clause(label.text, tuple(values), negated)

    def value(self) -> str:
        """A quoted value, or unquoted words up to the next comma or parenthesis (spacing kept)."""
        if self.current.kind != "WORD":
            return self.take("STRING").text
        first = last = self.current
        while self.current.kind == "WORD":
            last = self.current
            self.at += 1
        return self.text[first.position:last.position + len(last.text)]


def parse_filter(text: str) -> Filter:
    """Parse a filter expression; raises FilterSyntaxError (InvalidFilter, 400) for bad input."""
    if len(text) > MAX_LENGTH:
        raise FilterSyntaxError("filter too long", MAX_LENGTH)
    if not text.strip():
        raise FilterSyntaxError("empty filter", 0)
    return _Parser(text).filter()
