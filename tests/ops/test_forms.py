"""The hot paths' form reader gives what the standard library's would, for any text."""

from __future__ import annotations

from urllib.parse import parse_qsl

from hypothesis import given, settings
from hypothesis import strategies as st

from streamkeeper.ops.forms import form_pairs

# Text made of the characters that matter to the format, and a few that do not.
FORMISH = st.lists(st.sampled_from(list("ab=&%+ 2F0é;?") + ["%20", "%C3%A9", "%zz", "%"]), max_size=30).map("".join)


@given(FORMISH)
@settings(max_examples=2000)
def test_form_pairs_match_parse_qsl(text):
    assert form_pairs(text) == parse_qsl(text, keep_blank_values=True)


@given(st.text(max_size=60))
def test_form_pairs_match_parse_qsl_on_any_text(text):
    assert form_pairs(text) == parse_qsl(text, keep_blank_values=True)


def test_a_player_form():
    assert form_pairs("channel=news&deviceId=dev-1&contentType=live&title=A+b%26c&blank=&flag") == [
        ("channel", "news"), ("deviceId", "dev-1"), ("contentType", "live"), ("title", "A b&c"), ("blank", ""),
        ("flag", ""),
    ]
