"""The init's one-pass form reader gives the metadata (or the refusal) the general reader gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from streamkeeper.cm.endpoints import MAX_KEY, MAX_METADATA, _form_to_metadata, _pairs_to_metadata
from streamkeeper.concurrency.service import InvalidRequest
from streamkeeper.ops.forms import form_pairs

PIECES = ["a", "b", "=", "&", "%", "+", "%20", "%C3%A9", "%zz", "é", "k" * (MAX_KEY + 1), "=" + "v" * 2049]
FORMISH = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)
MANY = st.integers(0, MAX_METADATA + 3).map(lambda n: "&".join(f"f{i}=v" for i in range(n)))


def read(reader, text):
    into: dict[str, str] = {}
    try:
        reader(text, into)
    except InvalidRequest as exc:
        return "refused", str(exc), exc.status
    return into


@given(st.one_of(FORMISH, MANY, st.text(max_size=60)))
@settings(max_examples=1500)
def test_one_pass_reader_matches_the_general_one(text):
    assert read(_form_to_metadata, text) == read(lambda t, into: _pairs_to_metadata(form_pairs(t), into), text)


def test_a_player_form_and_its_limits():
    assert read(_form_to_metadata, "channel=news&deviceId=dev+1&title=A%26B") == {
        "channel": "news", "deviceId": "dev 1", "title": "A&B"}
    assert read(_form_to_metadata, "=x")[0] == "refused"
    assert read(_form_to_metadata, "&".join(f"f{i}=v" for i in range(MAX_METADATA + 1)))[0] == "refused"
