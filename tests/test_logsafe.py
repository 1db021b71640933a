"""Personal data is masked in every log record, tracebacks included."""
from __future__ import annotations

import logging

import pytest

from stream import logsafe


@pytest.mark.parametrize("text, hidden, kept", [
    ("viewer posted 13812345678 in room r1", "13812345678", "room r1"),      # mobile
    ("扣扣 123456789 私聊", "123456789", "私聊"),                              # QQ number
    ("加vx: abc_12345 便宜", "abc_12345", "便宜"),                              # WeChat id after a contact word
    ("微信号 wxid8899aa", "wxid8899aa", "微信号"),
])
def test_mask_hides_contact_data(text: str, hidden: str, kept: str) -> None:
    masked = logsafe.mask(text)
    assert hidden not in masked and kept in masked


def test_short_numbers_stay_readable() -> None:
    assert logsafe.mask("partition 3 offset 1234 took 12 ms") == "partition 3 offset 1234 took 12 ms"


def test_every_record_is_masked_including_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    previous = logging.getLogRecordFactory()
    logsafe.install()
    try:
        log = logging.getLogger("some.library")
        with caplog.at_level(logging.INFO):
            log.info("handle %s seen", "13912345678")
            try:
                raise ValueError("bad event text: 加微信 zhang_san88")
            except ValueError:
                log.exception("failed")
        text = caplog.text + "".join(r.exc_text or "" for r in caplog.records)
        assert "13912345678" not in text and "zhang_san88" not in text
        assert "handle 13*********" in text and "ValueError" in text
    finally:
        logging.setLogRecordFactory(previous)


def test_ids_are_shortened() -> None:
    assert logsafe.mask_id("anchor-12345") == "a***5"
