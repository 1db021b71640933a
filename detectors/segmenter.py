"""Private jieba tokenizers that share one loaded base dictionary.

Each detector adds its own lexicon words to its tokenizer, so it cannot use jieba's
global one; but loading the ~350k-word base dictionary costs about a second per instance.
It is loaded once here and each private tokenizer starts from a copy of it.
"""
from __future__ import annotations

import logging
import threading

import jieba

_lock = threading.Lock()
_base: jieba.Tokenizer | None = None


def _base_tokenizer() -> jieba.Tokenizer:
    global _base
    with _lock:
        if _base is None:
            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            _base = tokenizer
        return _base


def private_tokenizer() -> jieba.Tokenizer:
    """A tokenizer with the base dictionary whose ``add_word`` affects only itself."""
    base = _base_tokenizer()
    tokenizer = jieba.Tokenizer()
    # jieba keeps its whole state in FREQ/total; copying them is what initialize() would load.
    tokenizer.FREQ = dict(base.FREQ)
    tokenizer.total = base.total
    tokenizer.initialized = True
    return tokenizer
