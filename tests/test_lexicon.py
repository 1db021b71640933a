"""detectors.lexicon: valid files load with a digest; every broken file names its file and line."""
import re
from pathlib import Path

import pytest

from detectors.lexicon import MAX_FILE_BYTES, LexiconError, lexicon_version, load_lexicon

HEADER = 'lexicon: prohibited_claim\nversion: "1"\nentries:\n'
GOOD = ("  - id: abs.quanwang_zuidi\n"
        "    pattern: 全网最低\n"
        "    category: absolute_term\n"
        "    severity: high\n"
        "    legal_basis: 《广告法》第九条第(三)项\n")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lx.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_file_loads(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + GOOD + "    exceptions: [全网最低价保护]\n    whole_word: true\n")
    lexicon = load_lexicon(path, extra_keys=["whole_word"])
    assert (lexicon.name, lexicon.version) == ("prohibited_claim", "1")
    assert re.fullmatch(r"[0-9a-f]{12}", lexicon.digest)
    entry = lexicon.entries[0]
    assert (entry.id, entry.pattern, entry.line) == ("abs.quanwang_zuidi", "全网最低", 4)
    assert entry.exceptions == ("全网最低价保护",)
    assert entry.extra == {"whole_word": True}
    assert lexicon_version([lexicon]) == f"prohibited_claim@1+{lexicon.digest}"


def test_digest_follows_content(tmp_path: Path) -> None:
    first = load_lexicon(write(tmp_path, HEADER + GOOD)).digest
    second = load_lexicon(write(tmp_path, HEADER + GOOD.replace("全网最低", "全网最便宜"))).digest
    assert first != second


BROKEN = [
    # (file body, expected "line: message" fragment)
    (HEADER + GOOD.replace("high", "hgh"), ":7: entry 'abs.quanwang_zuidi': unknown severity 'hgh'"),
    (HEADER + GOOD.replace("absolute_term", "contact_handle"), ":6: entry 'abs.quanwang_zuidi': unknown category"),
    (HEADER + GOOD + GOOD, ":9: entry 'abs.quanwang_zuidi': duplicate id (first at line 4)"),
    (HEADER + GOOD.replace("全网最低", "'!!! ...'"), ":5: entry 'abs.quanwang_zuidi': pattern is empty"),
    (HEADER + GOOD.replace("    legal_basis: 《广告法》第九条第(三)项\n", ""), ":4: entry 'abs.quanwang_zuidi': missing or empty legal_basis"),
    (HEADER + GOOD.replace("abs.quanwang_zuidi", "Abs-X"), ":4: entry 'Abs-X': id must match"),
    (HEADER + GOOD + "    whole_wrd: true\n", ":9: entry 'abs.quanwang_zuidi': unknown key 'whole_wrd'"),
    (HEADER + GOOD + "    severity: low\n", ":9: entry 'abs.quanwang_zuidi': duplicate key 'severity'"),
    (HEADER + GOOD + "    exceptions: [最低价]\n", ":9: entry 'abs.quanwang_zuidi': exception '最低价' does not contain"),
    (HEADER + GOOD + "  - id: [unclosed\n", ":10: invalid YAML"),
    (HEADER.replace("prohibited_claim", "nope") + GOOD, ":1: unknown lexicon name 'nope'"),
    (HEADER, ":3: entries must be a non-empty list"),
    ("- just a list\n", ":1: top level must be a mapping"),
    (HEADER.replace('version: "1"\n', "") + GOOD, "missing version"),
    (HEADER + GOOD + "sets: {cues: [不是, '']}\n", ":9: set 'cues': must be a list of non-empty strings"),
    ("!!python/object:os.system {}\n", "invalid YAML"),  # SafeLoader only
]


@pytest.mark.parametrize(("body", "message"), BROKEN)
def test_broken_file_names_file_and_line(tmp_path: Path, body: str, message: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(LexiconError) as caught:
        load_lexicon(path)
    assert str(caught.value).startswith(f"{path}:")
    assert message in str(caught.value)


def test_oversized_file_is_refused_unread(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + GOOD + "#" * MAX_FILE_BYTES)
    with pytest.raises(LexiconError, match="over the"):
        load_lexicon(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LexiconError, match="cannot read"):
        load_lexicon(tmp_path / "absent.yaml")
