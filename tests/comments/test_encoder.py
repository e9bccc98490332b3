"""Clipping long comments: head and tail kept, words whole, short text untouched."""

from hypothesis import given
from hypothesis import strategies as st

from streams.comments.encoder import HEAD_CHARS, TAIL_CHARS, clip


def test_short_text_is_only_normalised() -> None:
    assert clip("  Parcel   arrived\nlate ") == "Parcel arrived late"


def test_long_text_keeps_its_start_and_its_verdict() -> None:
    text = "The order was placed on Monday. " + "blah " * 400 + "Never buying here again."
    clipped = clip(text)
    assert clipped.startswith("The order was placed on Monday.")
    assert clipped.endswith("Never buying here again.")
    assert " … " in clipped and len(clipped) <= HEAD_CHARS + TAIL_CHARS + 3


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=2000))
def test_clip_is_bounded_and_keeps_short_texts(text: str) -> None:
    clipped = clip(text)
    assert len(clipped) <= HEAD_CHARS + TAIL_CHARS + 3
    normal = " ".join(text.split())
    if len(normal) <= HEAD_CHARS + TAIL_CHARS + 3:
        assert clipped == normal
