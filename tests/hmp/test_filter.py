"""The category filter language, parsed and evaluated directly (no HTTP)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamkeeper.hmp.query import Clause, Filter, FilterSyntaxError, parse_filter
from streamkeeper.hmp.query.filter import quote

SPEC_EXAMPLES = {
    'category::"Patient ID" IN ("123", "456", "First", "Second") & category::"Doctor" IN ("john", "Bob")':
        Filter((Clause("Patient ID", ("123", "456", "First", "Second")), Clause("Doctor", ("john", "Bob")))),
    'category::"Patient ID" NOT IN ("123", "456", "First", "Second") & category::"Doctor" IN ("john", "Bob")':
        Filter((Clause("Patient ID", ("123", "456", "First", "Second"), True), Clause("Doctor", ("john", "Bob")))),
    'category::"Patient ID" IN ("")': Filter((Clause("Patient ID", ("",)),)),
    'category::"Patient ID" NOT IN ("")': Filter((Clause("Patient ID", ("",), True),)),
}


@pytest.mark.parametrize("text", list(SPEC_EXAMPLES))
def test_spec_examples_parse(text):
    assert parse_filter(text) == SPEC_EXAMPLES[text]


def test_the_documents_url_encoded_example_with_unquoted_label_and_values():
    from urllib.parse import unquote_plus

    # As printed, with its stray "%2 2" repaired; it decodes to unquoted 123, 456 and Doctor.
    encoded = ("category%3A%3A%22Patient+ID%22+IN+%28123%2C+456%2C+%22First%22%2C+%22Second%22%29+%26+"
               "category%3A%3ADoctor+IN+%28%22john%22%2C+%22Bob%22%29")
    assert parse_filter(unquote_plus(encoded)) == SPEC_EXAMPLES[list(SPEC_EXAMPLES)[0]]
    assert parse_filter("category::Room NOT IN (New  York , 12b)") == Filter(
        (Clause("Room", ("New  York", "12b"), True),))


def test_keywords_are_case_insensitive_and_whitespace_free():
    assert parse_filter('CATEGORY::"a"not in("x")&category ::  "b" In ( "y" , "z" )') == Filter(
        (Clause("a", ("x",), True), Clause("b", ("y", "z"))))


@pytest.mark.parametrize("literal, value", [
    (r'"say \"hi\""', 'say "hi"'),
    (r'"back\\slash"', "back\\slash"),
    (r'"\b\t\n\v\f\r"', "\b\t\n\v\f\r"),
    (r'"\x41\u00e9\u2028"', "A\u00e9\u2028"),
    (r'"\0"', "\0"),
    (r"'\'", None),  # single quotes are not string delimiters
    (r'"\a\q"', "aq"),  # a non-escape character stands for itself
    ('"line\\\ncontinued"', "linecontinued"),
    (r'"caf\u00E9"', "café"),
])
def test_ecma262_string_escapes(literal, value):
    text = f"category::{literal} IN (\"v\")"
    if value is None:
        with pytest.raises(FilterSyntaxError):
            parse_filter(text)
    else:
        assert parse_filter(text).clauses[0].label == value


@pytest.mark.parametrize("text", [
    "", "   ", "category", 'category::"a"', 'category::"a" IN', 'category::"a" IN ()', 'category::"a" IN ("x"',
    'category::"a" IN ("x",)', 'category::"a" IN ("x") &', 'category::"a" IN ("x") & &', 'category:"a" IN ("x")',
    'category::"a" NOT ("x")', 'category::"a" IS ("x")', 'tag::"a" IN ("x")',
    'category::"a" IN ("x") | category::"b" IN ("y")', 'category::"unterminated IN ("x")',
    'category::"a" IN ("\\x4")', 'category::"a" IN ("\\u12G4")', 'category::"a" IN ("\\1")', 'category::"a" IN ("\\01")',
    'category::"a\nb" IN ("x")', 'category::"" IN ("x")', 'category::"a" IN ("x") category::"b" IN ("y")',
    'category::"a" IN ("x") ;', 'category::a b IN ("x")', 'category::"a" IN (x "y")', '"a" IN ("x")',
    'category::"a" IN ("x"))',
])
def test_malformed_filters_are_invalid_filter(text):
    with pytest.raises(FilterSyntaxError) as info:
        parse_filter(text)
    assert info.value.kind.code == "010002"
    assert info.value.status == 400


def test_evaluation_in_not_in_and_presence():
    cats = {"patient id": ["123", "First"], "doctor": ["John"]}
    assert parse_filter('category::"Patient ID" IN ("first")').matches(cats)
    assert parse_filter('category::"patient id" IN ("999", "123")').matches(cats)
    assert not parse_filter('category::"Patient ID" IN ("999")').matches(cats)
    assert parse_filter('category::"Patient ID" NOT IN ("999")').matches(cats)
    assert not parse_filter('category::"Doctor" NOT IN ("john")').matches(cats)
    assert parse_filter('category::"Doctor" IN ("")').matches(cats)
    assert not parse_filter('category::"Room" IN ("")').matches(cats)
    assert parse_filter('category::"Room" NOT IN ("")').matches(cats)
    assert not parse_filter('category::"Doctor" IN ("john") & category::"Room" IN ("")').matches(cats)
    assert not parse_filter('category::"Room" IN ("")').matches({"room": [""]})


labels = st.text(min_size=1, max_size=12)
values = st.text(max_size=12)
clauses = st.builds(Clause, labels, st.lists(values, min_size=1, max_size=4).map(tuple), st.booleans())
filters = st.lists(clauses, min_size=1, max_size=4).map(lambda cs: Filter(tuple(cs)))


@settings(max_examples=300, deadline=None)
@given(filters)
def test_generated_filters_round_trip(flt):
    assert parse_filter(flt.to_text()) == flt


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_quote_round_trips_any_string(value):
    assert parse_filter(f"category::\"L\" IN ({quote(value)})").clauses[0].values == (value,)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('category::"\\ INOT(),&xu0n\'\n')), max_size=60) | st.text(max_size=60))
def test_arbitrary_text_parses_or_is_invalid_filter(text):
    try:
        parse_filter(text)
    except FilterSyntaxError as exc:
        assert exc.kind.name == "InvalidFilter"
