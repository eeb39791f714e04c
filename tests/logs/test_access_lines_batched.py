"""Access lines written on the event loop go out together at the end of the loop's turn, in the order they were
written among every other record, and none is lost at a flush."""

from __future__ import annotations

import asyncio
import io
import logging

from pledge.logs import JsonFormatter, JsonHandler


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def _handler() -> tuple[JsonHandler, CountingStream]:
    stream = CountingStream()
    handler = JsonHandler(stream)
    handler.setFormatter(JsonFormatter())
    return handler, stream


def test_lines_of_one_loop_turn_are_one_write_after_the_turn() -> None:
    handler, stream = _handler()

    async def one_turn() -> str:
        for number in range(5):
            handler.write_line(f"line {number}\n")
        written_during_the_turn = stream.getvalue()
        await asyncio.sleep(0)  # the turn ends
        await asyncio.sleep(0)
        return written_during_the_turn

    assert asyncio.run(one_turn()) == ""
    assert stream.getvalue() == "".join(f"line {number}\n" for number in range(5))
    assert stream.writes == 1


def test_a_record_logged_after_pending_lines_comes_after_them() -> None:
    handler, stream = _handler()
    logger = logging.Logger("test.batched")
    logger.addHandler(handler)

    async def interleaved() -> None:
        handler.write_line("access line\n")
        logger.warning("a record after it")

    asyncio.run(interleaved())
    first, second = stream.getvalue().splitlines()
    assert first == "access line"
    assert "a record after it" in second


def test_off_the_loop_a_line_is_written_at_once_and_a_flush_writes_what_is_pending() -> None:
    handler, stream = _handler()
    handler.write_line("at once\n")
    assert stream.getvalue() == "at once\n"

    async def pending_then_flushed() -> str:
        handler.write_line("pending\n")
        handler.flush()  # logging.shutdown at exit flushes every handler
        return stream.getvalue()

    assert asyncio.run(pending_then_flushed()) == "at once\npending\n"
