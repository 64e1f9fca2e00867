"""The bounded head+tail output buffer: exact while small, constant-size and honest when large."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cronsync.adapters.process import Capture


def test_small_output_is_kept_whole() -> None:
    capture = Capture(100)
    for chunk in (b"hello ", b"", b"world\n"):
        capture.add(chunk)
    assert capture.text() == "hello world\n" and capture.dropped == 0 and capture.total == 12


def test_large_output_keeps_head_and_tail_and_counts_the_gap() -> None:
    capture = Capture(10)
    capture.add(b"ABCDE" + b"x" * 1000)
    capture.add(b"VWXYZ")
    assert capture.total == 1010 and capture.dropped == 1000
    assert capture.excerpt(10) == "ABCDE\n[… 1000 bytes omitted …]\nVWXYZ"
    assert capture.tail_text(3) == "…XYZ"


@given(st.lists(st.binary(max_size=300), max_size=30), st.integers(min_value=2, max_value=200))
def test_head_and_tail_are_the_real_start_and_end(chunks: list[bytes], limit: int) -> None:
    capture = Capture(limit)
    for chunk in chunks:
        capture.add(chunk)
    whole = b"".join(chunks)
    half = limit // 2
    assert capture.total == len(whole)
    assert bytes(capture.head) == whole[:half]
    assert len(capture.head) + len(capture.tail) <= 2 * half
    if capture.dropped:
        assert bytes(capture.tail) == whole[-half:]
    else:
        assert bytes(capture.head + capture.tail) == whole
