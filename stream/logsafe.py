"""Personal data never reaches the worker's logs.

Logs go to places with weaker access control and shorter lives than the evidence topics,
so phone numbers, QQ numbers and WeChat ids are masked in every log record, whichever
library wrote it (a log-record factory sees them all, tracebacks included). Full evidence
lives only on the evidence-bearing topics (standard 4.3.2.2(4)).
"""
from __future__ import annotations

import logging
import re
from typing import Any

# Mainland mobiles and QQ numbers are runs of 5+ digits; keep the length, hide the digits.
_DIGITS = re.compile(r"(?<!\d)\d{5,}(?!\d)")
# An id after a contact word: 微信/vx/wx/QQ/扣扣 followed by an optional separator and the id.
_HANDLE = re.compile(r"(?i)(微信号?|威信|薇信|v信|vx|wx|qq|扣扣|企鹅)(\s*[:：]?\s*)([a-z][-_a-z0-9]{4,19})")


def mask(text: str) -> str:
    text = _HANDLE.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)[0]}***", text)
    return _DIGITS.sub(lambda m: f"{m.group(0)[:2]}{'*' * (len(m.group(0)) - 2)}", text)


def mask_id(subject_id: str) -> str:
    """A user/anchor/merchant id for logs: enough to tell two apart, not to look one up."""
    return f"{subject_id[:1]}***{subject_id[-1:]}" if len(subject_id) > 2 else "***"


def install() -> None:
    """Mask every log record from now on (idempotent)."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "livemod_masking", False):
        return

    def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        # An empty tuple, not None: formatters (mode's among them) wrap a non-tuple in one.
        record.msg, record.args = mask(record.getMessage()), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
        return record

    masked_record.livemod_masking = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(masked_record)
