"""Redaction before cutting: wherever a secret falls in a job's output, whatever the capture keeps and
whatever limit an excerpt or a tail is cut to, no run of six of the secret's characters is left."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cronsync.adapters.process import Capture
from cronsync.userspace.secrets import Redactor

SECRET = "SeCrEtToKeN-4f9a2b7c1d8e6f3a5b"
FRAGMENT_CHARS = 6  # no run this long of a secret may be left
REDACT = Redactor([SECRET])


def fragments_in(text: str) -> list[str]:
    windows = {SECRET[i : i + FRAGMENT_CHARS] for i in range(len(SECRET) - FRAGMENT_CHARS + 1)}
    return [w for w in windows if w in text]


@given(
    st.lists(st.integers(min_value=0, max_value=3000), max_size=6),
    st.integers(min_value=0, max_value=3000),
    st.integers(min_value=64, max_value=2048),
    st.integers(min_value=0, max_value=1500),
    st.lists(st.integers(min_value=1, max_value=700), max_size=8),
)
def test_no_cut_leaves_a_fragment(
    positions: list[int], size: int, capture_bytes: int, limit: int, chunk_sizes: list[int]
) -> None:
    data = bytearray(b"." * size)
    for position in positions:
        data[position : position + len(SECRET)] = SECRET.encode()
    capture = Capture(capture_bytes)
    rest = bytes(data)
    for chunk_size in [*chunk_sizes, len(rest)]:
        capture.add(rest[:chunk_size])
        rest = rest[chunk_size:]
    for text in (capture.excerpt(limit, REDACT), capture.tail_text(limit, REDACT), capture.text(REDACT)):
        assert fragments_in(text) == [], text


def test_fragments_anywhere_are_redacted_but_ordinary_text_is_kept() -> None:
    assert REDACT(f"x {SECRET[:9]}… y") == "x ***… y"
    assert REDACT(f"…{SECRET[-8:]} z") == "…*** z"
    assert REDACT(f"{SECRET}{SECRET} and {SECRET[3:12]}") == "****** and ***"
    assert (
        REDACT(f"{SECRET[:5]} stays: too short to be a fragment")
        == f"{SECRET[:5]} stays: too short to be a fragment"
    )
    assert Redactor(["abcd"])("abcd abc") == "*** abc"


def test_without_redaction_the_excerpt_is_unchanged() -> None:
    capture = Capture(10)
    capture.add(b"ABCDE" + b"x" * 1000 + b"VWXYZ")
    identity = Redactor()
    assert capture.excerpt(10, identity) == capture.excerpt(10) == "ABCDE\n[… 1000 bytes omitted …]\nVWXYZ"
