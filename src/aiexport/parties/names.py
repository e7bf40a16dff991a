"""Company and person names, normalised so that a name written in Chinese characters, in pinyin or
in English can meet its list entry.

`normalise(name)` gives one or more `Form`s of a name: lower-case ASCII tokens with legal forms
removed ("Co., Ltd.", 股份有限公司 …), the telegraphic forms lists use expanded (TECH, GRP, INTL),
plurals folded, other scripts transliterated (anyascii). A name in Chinese characters is first
simplified (OpenCC t2s), then read word by word: the common words of company names are translated
(科技 → technology, 半导体 → semiconductor, `parties/data/zh_words.csv`), place names romanised
(北京 → beijing), and the rest — usually the brand — written as one pinyin word (华为 → huawei), as
English renderings of Chinese names do; places are taken from the left, then the longest words from
the right (`segments`). Two more readings gloss the brand's CC-CEDICT words where the dictionary
gives a company's word or name (白银 → silver, 联想 → Lenovo; `parties/cedict.py`), and its single
characters too (金马 → gold horse); one more writes a brand of three syllables or more by their
initials (木林森 → MLS). A last form keeps every character in pinyin, for lists that romanise the
whole name. Ordinals are read as numbers (第十三 → 13, as "13th" reads). Known English names of
Chinese companies whose brands neither pinyin nor translation reach (北方华创 → NAURA) come from
`parties/data/zh_known_names.csv`, each with its source. Every form records how it was made, for the explanation of a hit.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from anyascii import anyascii
from rapidfuzz.distance import OSA

# --- English ---------------------------------------------------------------------------------------

#: legal forms and filler dropped from company names (after lower-casing and punctuation removal)
LEGAL_FORMS = frozenset(
    ["co", "company", "ltd", "limited", "corp", "corporation", "inc", "incorporated", "llc", "plc", "lp", "llp", "gmbh", "mbh", "ag", "kg", "sa", "sas", "sarl", "spa", "srl", "bv", "nv", "ab", "as", "asa", "oy", "jsc", "ojsc", "pjsc", "cjsc", "ooo", "zao", "oao", "pao", "tov", "pte", "pvt", "private", "public", "sdn", "bhd", "kk", "kabushiki", "kaisha", "the", "of", "and", "joint", "stock"]
)
#: telegraphic forms and variants -> one spelling
ABBREVIATIONS = {
    "tech": "technology", "techn": "technology", "technol": "technology", "technologies": "technology", "technological": "technology",
    "grp": "group", "intl": "international", "int'l": "international", "internat": "international",
    "elec": "electronic", "electr": "electronic", "electronics": "electronic", "electrical": "electric",
    "mfg": "manufacturing", "manuf": "manufacturing", "eng": "engineering", "engg": "engineering",
    "inst": "institute", "institutes": "institute", "univ": "university", "natl": "national", "nat'l": "national",
    "sci": "science", "sciences": "science", "scientific": "science", "ind": "industry", "inds": "industry",
    "industries": "industry", "industrial": "industry", "equip": "equipment", "sys": "system", "systems": "system",
    "comm": "communication", "comms": "communication", "communications": "communication", "telecom": "telecommunication",
    "telecommunications": "telecommunication", "info": "information", "svc": "service", "svcs": "service", "services": "service",
    "dev": "development", "res": "research", "acad": "academy", "assn": "association", "assoc": "association",
    "instruments": "instrument", "materials": "material", "semiconductors": "semiconductor", "holdings": "holding",
    "networks": "network", "solutions": "solution", "products": "product", "devices": "device", "components": "component",
    "computers": "computer", "laboratories": "laboratory", "labs": "laboratory", "lab": "laboratory", "microelectronics": "microelectronic",
    "optoelectronics": "optoelectronic", "optoelectronical": "optoelectronic", "photoelectric": "optoelectronic",
    "aeronautics": "aeronautic", "aeronautical": "aeronautic", "aero": "aeronautic", "aerospaces": "aerospace",
    "mgmt": "management", "trading": "trade", "investments": "investment", "enterprises": "enterprise",
    # ordinals as numbers: "Second Academy", "2nd Academy" and 第二研究院 meet; "13th", "No. 13" and "CETC 13" too
    "first": "1", "second": "2", "third": "3", "fourth": "4", "fifth": "5", "sixth": "6", "seventh": "7",
    "eighth": "8", "ninth": "9", "tenth": "10",
    "centre": "center", "ctr": "center", "smart": "intelligent", "intelligence": "intelligent", "hi": "high",
    "biotech": "biotechnology", "chemicals": "chemical", "pumps": "pump", "composites": "composite", "diagnostics": "diagnostic",
    "agricultural": "agriculture", "mechanical": "machinery", "pharmaceuticals": "pharmaceutical", "pharma": "pharmaceutical", "pharm": "pharmaceutical",
    "automotives": "automotive", "auto": "automotive", "resource": "resources", "utilities": "utility", "hk": "hongkong", "hong": "hong", "shenzen": "shenzhen", "peking": "beijing",
    "metals": "metal", "metallic": "metal", "northern": "north", "southern": "south", "eastern": "east", "western": "west",
    "optronics": "optoelectronic", "optronic": "optoelectronic", "foods": "food", "circuits": "circuit", "medicines": "medicine",
    "biology": "biological", "electricity": "electric", "terminals": "terminal", "refineries": "refinery", "refining": "refinery",
}
_PUNCT = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True)
class Form:
    """One normalised form of a name: its tokens, and how it was made."""

    tokens: tuple[str, ...]
    how: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return " ".join(self.tokens)

    @property
    def compact(self) -> str:
        return "".join(self.tokens)


#: words this long or longer are recognised as a legal form or a known variant one typo away
#: ("Corporatiobn", "Limiged", "Tecmhnology"); shorter ones ("stock" ~ "stick") are taken as written
FUZZY_MIN_LENGTH = 7


def deletions(word: str) -> set[str]:
    """The word and every string one character shorter: its one-deletion neighbourhood (SymSpell);
    two words share one of these when they are one insert, delete or substitution apart."""
    return {word, *(word[:i] + word[i + 1:] for i in range(len(word)))}


@lru_cache(maxsize=1)
def _fuzzy_vocabulary() -> dict[str, set[tuple[str, str]]]:
    """One-deletion neighbourhoods (SymSpell) of the long legal forms and variants -> (word, its
    canonical form: "" for a legal form, which is dropped)."""
    canon = {w: "" for w in LEGAL_FORMS} | {k: ("" if v in LEGAL_FORMS else v) for k, v in ABBREVIATIONS.items()}
    canon |= {v: v for v in ABBREVIATIONS.values() if v not in LEGAL_FORMS}
    out: dict[str, set[tuple[str, str]]] = {}
    for w, c in canon.items():
        if len(w) >= FUZZY_MIN_LENGTH:
            for d in deletions(w):
                out.setdefault(d, set()).add((w, c))
    return out


_NUMBERED = re.compile(r"^(\d+)(st|nd|rd|th)$")


@lru_cache(maxsize=65536)
def _canonical(token: str) -> str:
    """A token's canonical spelling: its variant's ("techn" -> technology), "" for a legal form, a
    number for an ordinal ("13th" -> 13), and the same for a long word one typo (OSA distance 1) from
    words of exactly one canonical form."""
    t = ABBREVIATIONS.get(token, token)
    if (m := _NUMBERED.match(t)) is not None:
        return m.group(1)
    if t in LEGAL_FORMS:
        return ""
    vocab = _fuzzy_vocabulary()
    if len(t) < FUZZY_MIN_LENGTH or t in vocab:  # short, or itself a known word
        return t
    near = {(w, c) for d in deletions(t) for w, c in vocab.get(d, ())}
    # a shared deletion is not always one edit; and the first letter must agree: a brand one letter
    # from a word is a name of its own (the CSL's "Piotech" is not "biotech")
    found = {c for w, c in near if w[0] == t[0] and OSA.distance(t, w, score_cutoff=1) <= 1}
    return found.pop() if len(found) == 1 else t


def english_tokens(text: str) -> tuple[str, ...]:
    """Lower-case ASCII tokens of a Latin-script (or transliterated) name, legal forms dropped."""
    s = anyascii(unicodedata.normalize("NFKC", text)).lower().replace("&", " and ").replace("'", "")
    raw = [t for t in _PUNCT.split(s) if t]
    out = []
    for t in raw:
        t = _canonical(t)
        if not t:
            continue
        out.append(t)
    # "co ltd" leftovers such as a lone "s" from "co.'s" are dropped; a name made only of legal forms keeps them
    return tuple(out) if out else tuple(raw)


def raw_compact(text: str) -> str:
    """The name as written, lower-case ASCII letters and digits only, legal forms kept ("Huawei
    International Co., Limited" -> "huaweiinternationalcolimited"): a typo inside a legal form or an
    abbreviation ("Limiged", "oC.") leaves this form one edit away, where the normalised form would
    keep or drop different words."""
    return _PUNCT.sub("", anyascii(unicodedata.normalize("NFKC", text)).lower().replace("'", ""))


# --- Chinese ---------------------------------------------------------------------------------------

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
CN_LEGAL_FORMS = ("股份有限公司", "有限责任公司", "有限公司", "股份公司", "总公司", "分公司", "公司", "有限合伙", "合伙企业")


def has_han(text: str) -> bool:
    return bool(_HAN.search(text))


@lru_cache(maxsize=1)
def _converter():  # OpenCC traditional -> simplified, loaded once
    import opencc

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=8)
def _data_rows(name: str) -> tuple[dict[str, str], ...]:
    """The rows of a packaged data file, read once (the words, their other renderings and the known
    names and group prefixes are all derived from these). Not to be modified."""
    text = (resources.files("aiexport.parties") / "data" / name).read_text(encoding="utf-8")
    return tuple(csv.DictReader(line for line in text.splitlines() if line and not line.startswith("#")))


@lru_cache(maxsize=1)
def zh_words() -> dict[str, tuple[str, str]]:
    """Chinese word -> (English tokens, kind: word or place), longest words tried first."""
    return {r["zh"]: (r["en"], r["kind"]) for r in _data_rows("zh_words.csv")}


@lru_cache(maxsize=1)
def place_tokens() -> frozenset[str]:
    """The one-word English forms of the places in zh_words.csv (beijing, guangzhou, hubei): a name
    read from Chinese that names one place and a list name that names only others are not alike."""
    return frozenset(en for en, kind in zh_words().values() if kind == "place" and en and " " not in en)


@lru_cache(maxsize=1)
def zh_alternatives() -> dict[str, tuple[str, str]]:
    """Chinese word -> (its other English rendering, kind): the `alt` column of zh_words.csv (研究所:
    "research institute", also "institute"; 船舶: "shipbuilding", also "ship"), and for a place whose
    English is not its pinyin, the pinyin (华中: "central china", also "huazhong")."""
    rows = _data_rows("zh_words.csv")
    english = {"".join(r["en"].split()) for r in rows}
    out: dict[str, tuple[str, str]] = {}
    for r in rows:
        alt = (r.get("alt") or "").strip()
        zh = r["zh"][:-1] if len(r["zh"]) > 2 and r["zh"][-1] in "省市县区" else r["zh"]  # 哈尔滨市: haerbin, not haerbinshi
        py = "".join(_pinyin(zh))
        # a place's pinyin, unless its English is that pinyin or its beginning (深圳市: shenzhen), or
        # the pinyin is another place's English (陕西 shaanxi would read as 山西 shanxi)
        if not alt and r["kind"] == "place" and not py.startswith("".join(r["en"].split())) and py not in english:
            alt = py
        if alt:
            out[r["zh"]] = (alt, r["kind"])
    return out


@lru_cache(maxsize=1)
def zh_known_names() -> dict[str, list[tuple[str, str]]]:
    """Chinese brand or name -> [(English name, source)], from public sources."""
    out: dict[str, list[tuple[str, str]]] = {}
    for r in _data_rows("zh_known_names.csv"):
        out.setdefault(r["zh"], []).append((r["en"], r["source"]))
    return out


@lru_cache(maxsize=1)
def _group_prefixes() -> frozenset[str]:
    """The known names that are a state group's prefix of its units' names (`use` = prefix in
    zh_known_names.csv: 中电科 → CETC, as in "CETC Chip Technology"), as they are read (`_core`):
    read inside a name, never alone."""
    return frozenset(_core(r["zh"]) for r in _data_rows("zh_known_names.csv") if (r.get("use") or "").strip() == "prefix")


@lru_cache(maxsize=65536)
def _pinyin(text: str) -> tuple[str, ...]:
    """Pinyin syllables, without tones (cached: a brand run is read in several forms)."""
    from pypinyin import lazy_pinyin

    return tuple(s for s in lazy_pinyin(text, errors="ignore") if s.isascii() and s.isalpha())


def _strip_legal(text: str) -> str:
    for form in CN_LEGAL_FORMS:
        if text.endswith(form):
            return text[: -len(form)]
    return text


_TRAILING_BRACKETS = re.compile(r"(?:\s*[(（][^()（）]*[)）])+\s*$")


def is_zh_company(text: str) -> bool:
    """A name in Chinese characters that ends in a company's legal form or 集团 (group), a bracketed
    place or note after it aside: 益方生物科技(上海)股份有限公司, 康佳集团."""
    if not has_han(text):
        return False
    simple = _TRAILING_BRACKETS.sub("", unicodedata.normalize("NFKC", text).strip())
    return simple.endswith(("集团", *CN_LEGAL_FORMS))


def segments(text: str, words: Container[str], longest: int, lead: Callable[[str], bool] = lambda w: False) -> list[tuple[str, bool]]:
    """`text` cut into words of `words` (True) and single characters (False): first the leading words
    for which `lead` holds (places: 湖北 | 京山, not 湖 | 北京 | 山), then the longest words from the right,
    as the trade words end a name (绿发 | 电力, not 绿 | 发电 | 力; 阳光 | 电源, not 阳 | 光电 | 源)."""
    head: list[tuple[str, bool]] = []
    found = True
    while found:
        found = False
        for size in range(min(longest, len(text)), 1, -1):
            if text[:size] in words and lead(text[:size]):
                head.append((text[:size], True))
                text, found = text[size:], True
                break
    tail: list[tuple[str, bool]] = []
    j = len(text)
    while j > 0:
        for size in range(min(longest, j), 0, -1):
            w = text[j - size:j]
            if w in words:
                tail.append((w, True))
                j -= size
                break
        else:
            tail.append((text[j - 1], False))
            j -= 1
    return head + tail[::-1]


#: brands of fewer syllables are not read by their initials: two letters meet too many names
#: (measured on the dev pairs against the 2026 CSL: 华夏航空 → "hx aviation" alerted on THX Aviation)
INITIALS_MIN = 3


@dataclass
class _Reader:
    words: dict[str, tuple[str, str]]
    #: how a brand run (what no word of `words` holds) is read: "pinyin", one pinyin word (华为 →
    #: huawei); "words", its CC-CEDICT words glossed where the dictionary gives a company's word or
    #: name (白银 → silver, 联想 → Lenovo); "characters", its single characters too where their gloss
    #: is one word (金马 → gold horse); "initials", the initials of its syllables (木林森 → mls). What
    #: has no gloss stays in pinyin, read together.
    brand_reading: str = "pinyin"
    #: a brand of one character takes the first character of the word after it, when the rest is a
    #: word too (微 | 光电子 → 微光 | 电子, "Weiguang Electronic"; 国 | 新能源 → 国新 | 能源, "Guoxin
    #: Energy"): brands are seldom one syllable, and the right-to-left cut takes the longest word
    absorb: bool = False
    tokens: list[str] = field(default_factory=list)
    how: list[str] = field(default_factory=list)
    brand: str = ""

    def read(self, text: str) -> None:
        longest = max(map(len, self.words), default=1)
        latin = ""  # letters and digits between Chinese words are read together ("TCL", "41st")
        pieces = segments(text, self.words, longest, lambda w: self.words[w][1] == "place")
        for piece, word in _absorbed(pieces, self.words) if self.absorb else pieces:
            if not word and not _HAN.match(piece):
                latin += piece
                continue
            if latin:
                self.flush()
                self.tokens.extend(english_tokens(latin))
                latin = ""
            if word:
                self.flush()
                en, kind = self.words[piece]
                toks = english_tokens(en)
                self.tokens.extend(toks)
                label = ("place" if kind == "place" else f"known English name; {kind[6:]}" if kind.startswith("known:")
                         else "translated")
                self.how.append(f"{piece}→{' '.join(toks)} ({label})")
            else:
                self.brand += piece
        self.flush()
        if latin:
            self.tokens.extend(english_tokens(latin))

    def flush(self) -> None:
        if self.brand and self.brand_reading == "pinyin":
            self._pinyin(self.brand)
        elif self.brand and self.brand_reading == "initials":
            py = _pinyin(self.brand)
            if len(py) >= INITIALS_MIN:
                self.tokens.append("".join(x[0] for x in py))
                self.how.append(f"{self.brand}→{self.tokens[-1]} (initials)")
            else:
                self._pinyin(self.brand)
        elif self.brand:
            from aiexport.parties import cedict

            single = ""
            for w in cedict.segment(self.brand):
                g = cedict.gloss(w)
                if len(w) == 1 and (self.brand_reading == "words" or not g or " " in g):
                    single += w
                    continue
                self._pinyin(single)
                single = ""
                if g:
                    toks = english_tokens(g)
                    self.tokens.extend(toks)
                    self.how.append(f"{w}→{' '.join(toks)} (CC-CEDICT)")
                else:
                    self._pinyin(w)
            self._pinyin(single)
        self.brand = ""

    def _pinyin(self, run: str) -> None:
        py = "".join(_pinyin(run)) if run else ""
        if py:
            self.tokens.append(py)
            self.how.append(f"{run}→{py} (pinyin)")


def _absorbed(pieces: list[tuple[str, bool]], words: Container[str]) -> list[tuple[str, bool]]:
    """`segments` with each brand of one Chinese character, between words (or at the start), joined
    to the first character of the word after it when the rest of that word is a word (`_Reader.absorb`)."""
    out: list[tuple[str, bool]] = []
    i = 0
    while i < len(pieces):
        piece, word = pieces[i]
        alone = not word and _HAN.match(piece) and (not out or out[-1][1]) and (i + 1 == len(pieces) or pieces[i + 1][1])
        if alone and i + 1 < len(pieces) and len(nxt := pieces[i + 1][0]) >= 3 and nxt[1:] in words:
            out += [(piece + nxt[0], False), (nxt[1:], True)]
            i += 2
            continue
        out.append((piece, word))
        i += 1
    return out


_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ZH_ORDINAL = re.compile(r"第([零〇一二两三四五六七八九十百]+)")


def zh_number(text: str) -> int | None:
    """A number written in Chinese characters: 十三 → 13, 二十九 → 29, 一百零一 → 101, and digit by
    digit as institutes are numbered, 七一九 → 719."""
    if all(c in _ZH_DIGITS for c in text):
        return int("".join(str(_ZH_DIGITS[c]) for c in text)) if text else None
    total, digit = 0, 0
    for c in text:
        if c in _ZH_DIGITS:
            digit = _ZH_DIGITS[c]
        elif c in "十百":
            total += (digit or 1) * (10 if c == "十" else 100)
            digit = 0
        else:
            return None
    return total + digit


def _ordinals(text: str) -> str:
    """第十三研究所 → 13研究所: ordinals as numbers, which is how the lists' "13th Research Institute",
    "No. 13 Research Institute" and "CETC 13" read (`english_tokens`)."""
    def sub(m: re.Match[str]) -> str:
        n = zh_number(m.group(1))
        return str(n) if n else m.group(0)

    return _ZH_ORDINAL.sub(sub, text)


@lru_cache(maxsize=1)
def _known_cores() -> dict[str, tuple[str, str]]:
    """The known names (`zh_known_names`) by their Chinese name as it is read (`_core`): English
    name and source (the first given)."""
    return {_core(zh): names[0] for zh, names in zh_known_names().items()}


def _core(text: str) -> str:
    """A name (simplified) as it is read: brackets and spaces gone, the legal form at its end dropped,
    a legal form inside it too (集团公司 = group corporation: 集团), ordinals as numbers."""
    flat = re.sub(r"[()（）\[\]【】《》“”\"'·・\s-]+", "", text)
    return _ordinals(_strip_legal(flat).replace("集团公司", "集团"))


def _kinds(text: str) -> list[str]:
    """What each piece of `text` is read as: "word" (a common word translated), "place", or
    "brand" (characters no word holds)."""
    words = zh_words()
    return [words[p][1] if is_word else "brand" for p, is_word in segments(text, words, _longest_word(), lambda w: words[w][1] == "place")]


@lru_cache(maxsize=1)
def _longest_word() -> int:
    return max(map(len, zh_words()), default=1)


def _leading_word(core: str, words: dict[str, tuple[str, str]]) -> str | None:
    """The first piece of `core` after its places, when it is a common word and more words follow."""
    pieces = segments(core, words, _longest_word(), lambda w: words[w][1] == "place")
    i = 0
    while i < len(pieces) and pieces[i][1] and words[pieces[i][0]][1] == "place":
        i += 1
    if i + 1 < len(pieces) and pieces[i][1] and words[pieces[i][0]][1] == "word" and pieces[i + 1][1]:
        return pieces[i][0]
    return None


def chinese_forms(text: str) -> list[Form]:
    """The forms of a name written in Chinese characters (see the module docstring)."""
    simple = _converter().convert(unicodedata.normalize("NFKC", text))
    how0 = [f"{text}→{simple} (traditional to simplified)"] if simple != text else []
    core = _core(simple)  # brackets hold a place or a former name: read as part of the name
    forms: list[Form] = []
    known = {zh: (en, f"known:{source}") for zh, (en, source) in _known_cores().items() if zh in core}
    dictionaries = [{**zh_words(), **known}, zh_words()] if known else [zh_words()]
    readings = (("pinyin", False), ("words", False), ("characters", False), ("initials", False), ("pinyin", True))
    passes = [(words, readings) for words in dictionaries]
    # the other renderings of the words the name holds (研究所 as "institute" too), all at once, with
    # the brand in pinyin or in words only (its other readings are there already)
    alternatives = {zh: alt for zh, alt in zh_alternatives().items() if zh in core}
    if alternatives:
        passes.append(({**dictionaries[0], **alternatives}, readings[:2]))
    if len(alternatives) > 1:  # and each on its own (仪表 "metering" beside 研究院 "academy" hides "instrument")
        passes += [({**dictionaries[0], zh: alt}, readings[:1]) for zh, alt in alternatives.items()]
    # a common word where the brand stands (after the places, before more words) is often the brand,
    # and lists write it in pinyin: 东方电气 "Dongfang Electric", 高科石化 "Gaoke Petrochemical"
    lead = _leading_word(core, dictionaries[0])
    if lead is not None:
        passes.append(({w: v for w, v in dictionaries[0].items() if w != lead}, readings[:1]))
    seen: set[tuple[str, ...]] = set()
    for words, ways in passes:
        for brand_reading, absorb in ways:
            reader = _Reader(words, brand_reading, absorb)
            reader.read(core)
            if reader.tokens and tuple(reader.tokens) not in seen:
                seen.add(tuple(reader.tokens))
                forms.append(Form(tuple(reader.tokens), tuple(how0 + reader.how)))
    for zh, (en, _) in known.items():
        # a known English name alone (the list may carry just the brand's name), unless the rest of
        # the name says more than its trade: a place or an ordinal (中芯国际集成电路制造(北京) is a
        # subsidiary), or the name is a group's prefix (中电科芯片技术 is a unit of CETC, not CETC)
        if zh in _group_prefixes():
            continue
        rest = core[len(zh):] if core.startswith(zh) else None
        alone = english_tokens(en)
        if rest is not None and all(kind == "word" for kind in _kinds(rest)) and alone not in seen:
            seen.add(alone)
            forms.append(Form(alone, tuple(how0 + [f"{zh}→{en} (known English name; {_known_cores()[zh][1]})"])))
    syllables = _pinyin(core)
    if syllables:
        forms.append(Form(tuple(syllables), tuple(how0 + [f"{core}→{' '.join(syllables)} (pinyin of every character)"])))
    return forms


def normalise(name: str) -> list[Form]:
    """Every form under which a name is matched (at least one for any non-empty name)."""
    if not name or not name.strip():
        return []
    if has_han(name):
        forms = chinese_forms(name)
        latin = _HAN.sub(" ", name)
        if latin.strip() and english_tokens(latin):
            forms.append(Form(english_tokens(latin), ("Latin part of a mixed-script name",)))
        return forms or [Form(english_tokens(name))]
    return [Form(english_tokens(name))]


#: how a list writes, inside one entry's name, that the entry is a unit of another listed party:
#: "Huawei Technologies Co., Ltd. (Huawei). Affiliated Entity: Shenzhen Huawei Anjiexin Electricity Co.,
#: Ltd.", "China Electronics Technology Group Corporation 13th Research Institute (CETC 13). Subordinate
#: Institution - Hebei Sinopack Electronics" (61 entries of the 2026 CSL), and "Baotou Guanghua Chemical
#: Industrial Corporation (Parent Organization: China National Nuclear Group Corporation (CNNC))"
_UNIT_MARKER = re.compile(r"[.;,]?\s*\b(?:affiliated entit(?:y|ies)|subordinate institutions?)\s*[:\-\u2013\u2014]\s*", re.I)
_PARENT_NOTE = re.compile(r"\s*\(\s*parent organi[sz]ation\s*:.*\)\s*$", re.I)


def unit_names(name: str) -> list[str]:
    """The entry's own name inside a list name that also names its parent (see `_UNIT_MARKER`): the
    unit's name after the marker, or the name before a parent note. A party written by its own name
    is then scored against that name, not against the parent's words too (the whole name still counts)."""
    if not name:
        return []
    parts = _UNIT_MARKER.split(name, maxsplit=1)
    if len(parts) == 2 and parts[1].strip():
        return [parts[1].strip()]
    bare = _PARENT_NOTE.sub("", name)
    return [bare.strip()] if bare != name and bare.strip() else []
