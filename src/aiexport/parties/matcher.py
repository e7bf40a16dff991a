"""Screening names against a list snapshot: an index of every list name, candidate generation from
rare character trigrams, a graded score, and an explanation for every hit.

Index (`Index.build`): each name of each entry (the primary name and every alternative name) in its
normalised form (`names.normalise`), the inverse document frequency of its tokens, and a posting
table of the character trigrams of its compact form (tokens joined without spaces, so "Hua Wei"
and "Huawei" meet).

Search (`Index.search`), for a whole batch of queries at once:
1. every query is normalised into one or more forms (Chinese names give a translated form, a form
   with known English names, and a full-pinyin form);
2. candidates: the list names sharing the query form's rarest trigrams (`RARE_GRAMS` of them, so a
   typo or two still leaves shared grams), best `CANDIDATES` per form by summed trigram weight;
3. score of each (form, name) pair, in 0..1: the best of the edit similarity of the compact forms
   (typos, spacing: `edit_similarity`, where one typo of any kind costs one edit; also on the names
   as written, legal forms kept, for typos inside a legal form), the token-sort similarity of the keys (word order), and the
   IDF-weighted token agreement (translated and partial names: the rare tokens must agree), each
   computed by rapidfuzz in batch;
4. per query, the best score per list entry, best first; `alert` when the best reaches the threshold.
Explanations (aligned tokens, how the form was made, what moved the score) are built only for the
matches returned.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from aiexport.parties.names import Form, deletions, has_han, normalise, raw_compact

#: the measured default (benchmarks/screen.py and tests/test_screening.py): alias and typo recall,
#: and false alerts on names of Chinese companies that are on no list
DEFAULT_THRESHOLD = 0.86
#: a name read from Chinese: its word agreement weighs the query's coverage QUERY_COVERAGE times the
#: list name's (an F-beta): every word of 西安华为技术 found in "Xi'an Huawei Technologies Co., Ltd.,
#: Xi'an, Shaanxi" is a match, though the list name says more. Measured with the readings' discount
#: (HAN_DISCOUNT, the scores of readings of Chinese names scaled): false alerts on the 1,465 unlisted
#: Chinese names of the dev pairs 0.14 % → 0.2 % (β 1 → 1.5, discount 0.95 → 1.0), Chinese names of
#: listed entities alerting on the right entry 49.4 % → 54.2 % (benchmarks/zh_listed.py, before its known names were added)
QUERY_COVERAGE = 1.5
HAN_DISCOUNT = 1.0
RARE_TOKENS = 4
NEAR = 8
RARE_GRAMS = 8
CANDIDATES = 40
#: a candidate holds at least this share of the weight of the query's best-weighted name
CANDIDATE_SHARE = 0.5
#: the weight given to a list name identical to the query (after normalisation): always a candidate, ranked first
EXACT_BONUS = 10**9
#: grams in more names than this are left out of candidate generation (unless a name has fewer than
#: MIN_GRAMS rarer ones): they tell names apart poorly and make the candidate lists long
MAX_GRAM_DF = 100
#: tokens in more names than this ("technology", "trade") only serve when a name has nothing rarer
MAX_TOKEN_DF = 300
MIN_GRAMS = 3


def _deletions(token: str) -> set[str]:
    """`names.deletions` of a token (a token of three letters or fewer: only itself)."""
    return {token} if len(token) <= 3 else deletions(token)


def grams(text: str) -> list[str]:
    """Character trigrams of a compact name, padded so that short names have some."""
    s = f"^{text}$"
    return [s[i:i + 3] for i in range(len(s) - 2)] if len(s) >= 3 else [s]


@dataclass
class Postings:
    """Trigram -> names, as arrays (CSR): the names of gram id g are names[start[g]:start[g] + length[g]]."""

    gram_ids: dict[str, int]
    start: np.ndarray
    length: np.ndarray
    names: np.ndarray
    weight: np.ndarray  # per gram: log((N + 1) / (df + 1))

    @classmethod
    def build(cls, keys_of_name: list[list[str]], n_names: int) -> Postings:
        ids: dict[str, int] = {}
        ks: list[int] = []
        ns: list[int] = []
        for i, keys in enumerate(keys_of_name):
            for k in set(keys):
                ks.append(ids.setdefault(k, len(ids)))
                ns.append(i)
        k_arr = np.asarray(ks, dtype=np.int64)
        order = np.argsort(k_arr, kind="stable")
        length = np.bincount(k_arr, minlength=len(ids))
        start = np.concatenate(([0], np.cumsum(length)[:-1])).astype(np.int64)
        weight = np.log((n_names + 1) / (length + 1)).astype(np.float32)
        return cls(ids, start, length, np.asarray(ns, dtype=np.uint32)[order], weight)

    def gather(self, form_of_gram: np.ndarray, gram: np.ndarray, scale: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(form, name, weight) for every posting of every (form, gram) asked, in one vectorised step
        (each gram's weight times its `scale`, if given)."""
        lens = self.length[gram]
        total = int(lens.sum())
        if total == 0:
            return np.empty(0, np.uint32), np.empty(0, np.uint32), np.empty(0, np.float32)
        ends = np.cumsum(lens)
        offsets = np.repeat(self.start[gram] - (ends - lens), lens) + np.arange(total)
        weight = self.weight[gram] if scale is None else self.weight[gram] * scale
        return np.repeat(form_of_gram, lens).astype(np.uint32), self.names[offsets], np.repeat(weight, lens)


@dataclass
class Index:
    entries: pl.DataFrame  # the snapshot's entries (list_id, source, list_code, name, alt_names, …)
    names: pl.DataFrame  # name_id, entry, matched_name, key, compact, tokens
    postings: Postings
    gram_df: dict[str, int]
    token_idf: dict[str, float]

    @property
    def max_idf(self) -> float:  # the weight of a token no list name has
        if not hasattr(self, "_max_idf"):
            self._max_idf = max(self.token_idf.values(), default=1.0)
        return self._max_idf

    @classmethod
    def build(cls, entries: pl.DataFrame) -> Index:
        rows: list[tuple[int, int, str, str, str, list[str]]] = []
        nid = 0
        for e, (name, alts) in enumerate(entries.select("name", "alt_names").iter_rows()):
            for text in dict.fromkeys([name, *(alts or [])]):
                if not text:
                    continue
                for form in normalise(text)[:1] if not has_han(text) else normalise(text):
                    rows.append((nid, e, text, form.key, form.compact, list(form.tokens)))
                    nid += 1
        names = pl.DataFrame(rows, schema={"name_id": pl.UInt32, "entry": pl.UInt32, "matched_name": pl.String, "key": pl.String,
                                           "compact": pl.String, "tokens": pl.List(pl.String)}, orient="row")
        n = max(names.height, 1)
        token_df = Counter(t for toks in names["tokens"].to_list() for t in set(toks))
        token_idf = {t: math.log((n + 1) / (c + 1)) + 1.0 for t, c in token_df.items()}
        compacts = names["compact"].to_list()
        postings = Postings.build([grams(c) for c in compacts], n)
        gram_df = {g: int(postings.length[i]) for g, i in postings.gram_ids.items()}
        tokens = Postings.build(names["tokens"].to_list(), n)
        # one-deletion neighbourhoods of every list token (SymSpell): a query token with one typo
        # shares a neighbour with its list token
        near: dict[str, list[int]] = {}
        for t, i in tokens.gram_ids.items():
            for v in _deletions(t):
                near.setdefault(v, []).append(i)
        index = cls(entries, names, postings, gram_df, token_idf)
        index.tokens, index.near = tokens, near
        index.vocab = list(tokens.gram_ids)
        by_compact: dict[str, list[int]] = {}
        for i, c in enumerate(compacts):
            by_compact.setdefault(c, []).append(i)
        index.by_compact = by_compact
        name_tokens = (names.select(pl.col("name_id"), pl.col("tokens").list.unique()).explode("tokens").drop_nulls()
                       .with_columns(pl.col("tokens").replace_strict(token_idf, default=1.0, return_dtype=pl.Float64).alias("w")))
        index.name_tokens = name_tokens.select("name_id", "tokens")
        index.name_weight = (pl.DataFrame({"name_id": names["name_id"]}).join(
            name_tokens.group_by("name_id").agg(pl.col("w").sum()), on="name_id", how="left", maintain_order="left")["w"].fill_null(0.0))
        index.compact_len = names["compact"].str.len_chars().cast(pl.Float32)
        index.names_raw = pl.Series([raw_compact(t) for t in names["matched_name"].to_list()], dtype=pl.String)
        index.names_casefold = pl.Series([" ".join(t.split()).casefold() for t in names["matched_name"].to_list()], dtype=pl.String)
        return index

    # --- search --------------------------------------------------------------------------------

    def _forms(self, queries: list[str]) -> pl.DataFrame:
        """Every form of every query, built column by column (tokens split in polars: fast)."""
        qs: list[int] = []
        fs: list[int] = []
        keys: list[str] = []
        hows: list[str] = []
        hans: list[bool] = []
        for q, text in enumerate(queries):
            han = has_han(text or "")
            for f, form in enumerate(normalise(text or "")):
                qs.append(q)
                fs.append(f)
                keys.append(form.key)
                hows.append("\x1f".join(form.how))
                hans.append(han)
        frame = pl.DataFrame({"q": qs, "f": fs, "key": keys, "how": hows, "han": hans},
                             schema={"q": pl.UInt32, "f": pl.UInt32, "key": pl.String, "how": pl.String, "han": pl.Boolean})
        return frame.with_columns(pl.col("key").str.replace_all(" ", "", literal=True).alias("compact"),
                                  pl.col("key").str.split(" ").alias("tokens"))

    def _candidates(self, forms: pl.DataFrame) -> pl.DataFrame:
        """(row of forms, name_id) pairs to score: the names holding the form's rarest tokens (or a
        list token one typo away), else — for names read from Chinese, or when no token is known —
        the names sharing the form's rarest trigrams; the best CANDIDATES per form by summed weight."""
        tok_ids, tok_len = self.tokens.gram_ids, self.tokens.length
        gram_ids, gram_len = self.postings.gram_ids, self.postings.length
        t_rows: list[int] = []
        t_keys: list[int] = []
        g_rows: list[int] = []
        g_keys: list[int] = []
        g_share: list[float] = []  # a name holding every gram picked for a form weighs one average gram, like one token
        e_rows: list[int] = []
        e_names: list[int] = []
        for r, (tokens, compact, han) in enumerate(forms.select("tokens", "compact", "han").iter_rows()):
            per_token: list[tuple[int, list[int]]] = []  # (df of the best list token, candidate list tokens) per query token
            unknown_tokens: list[str] = []
            for t in set(tokens):
                if t in tok_ids:
                    i = tok_ids[t]
                    per_token.append((int(tok_len[i]), [i]))
                    continue
                near = {i for v in _deletions(t) for i in self.near.get(v, ())}
                if near:
                    vocab = self.vocab
                    best = sorted(near, key=lambda i: -fuzz.ratio(t, vocab[i]))[:NEAR]
                    per_token.append((int(tok_len[best[0]]), best))
                else:
                    unknown_tokens.append(t)  # nothing one edit away: trigrams will look
            per_token.sort(key=lambda x: x[0])
            chosen_tokens = [c for d, c in per_token[:RARE_TOKENS] if d <= MAX_TOKEN_DF] or [c for _, c in per_token[:1]]
            ranked = [i for c in chosen_tokens for i in c]
            t_rows.extend([r] * len(ranked))
            t_keys.extend(ranked)
            same = self.by_compact.get(compact)
            if same is not None:  # the very same name (after normalisation) is always a candidate
                e_rows.extend([r] * len(same))
                e_names.extend(same)
            if han or unknown_tokens or not ranked:
                # trigrams of the unknown tokens (a typo, two words run together), or of the whole name
                # (a name read from Chinese, or with no known token: the whole name's grams)
                pieces = [compact] if han or not ranked else unknown_tokens
                gs = sorted({gram_ids[g] for text in pieces for g in grams(text) if g in gram_ids}, key=gram_len.__getitem__)
                pick = [g for g in gs[:RARE_GRAMS] if gram_len[g] <= MAX_GRAM_DF] or gs[:MIN_GRAMS]
                g_rows.extend([r] * len(pick))
                g_keys.extend(pick)
                g_share.extend([1.0 / max(len(pick), 1)] * len(pick))
        f1, n1, w1 = self.tokens.gather(np.asarray(t_rows, dtype=np.int64), np.asarray(t_keys, dtype=np.int64))
        f2, n2, w2 = self.postings.gather(np.asarray(g_rows, dtype=np.int64), np.asarray(g_keys, dtype=np.int64),
                                          np.asarray(g_share, dtype=np.float32))
        f3, n3 = np.asarray(e_rows, dtype=np.uint32), np.asarray(e_names, dtype=np.uint32)
        # weights in thousandths, as integers: their sums are exact, whatever order threads add in,
        # so the same query always gets the same candidates
        w3 = np.full(len(f3), EXACT_BONUS, dtype=np.int64)  # an identical name ranks first
        hits = pl.DataFrame({"row": np.concatenate([f1, f2, f3]), "name_id": np.concatenate([n1, n2, n3]),
                             "w": np.concatenate([np.rint(np.concatenate([w1, w2]) * 1000).astype(np.int64), w3])})
        lq = pl.lit(forms["compact"].str.len_chars().cast(pl.Float32)).gather(pl.col("row"))
        ln = pl.lit(self.compact_len).gather(pl.col("name_id"))
        # names holding much less of the query's evidence than its best name are not scored (the
        # bonus of an identical name set aside: other near names of other entries still are)
        exact = pl.col("w") >= EXACT_BONUS
        evidence = pl.when(exact).then(pl.col("w") - EXACT_BONUS).otherwise(pl.col("w"))
        # then the best CANDIDATES by summed weight; among equal weights, the names whose length is
        # nearest the query's (the bound on their edit similarity), then by name id
        return (hits.lazy().group_by("row", "name_id").agg(pl.col("w").sum())
                .filter(exact | (evidence >= CANDIDATE_SHARE * evidence.max().over("row")))
                .with_columns((pl.min_horizontal(lq, ln) / pl.max_horizontal(lq, ln, 1.0)).alias("near"))
                .sort(["row", "w", "near", "name_id"], descending=[False, True, True, False])
                .group_by("row", maintain_order=True).head(CANDIDATES).select("row", "name_id").collect())

    def search(self, queries: list[str], threshold: float = DEFAULT_THRESHOLD, limit: int = 5, explain: bool = True) -> list[dict[str, Any]]:
        """Screen every query; one answer per query, in order: decision and matches (best first)."""
        forms = self._forms(queries)
        answers: list[dict[str, Any]] = [{"decision": "clear", "matches": []} for _ in queries]
        if forms.height == 0:
            return answers
        cand = self._candidates(forms)
        if cand.height == 0:
            return answers
        rows = cand["row"].to_numpy()
        nids = cand["name_id"].to_numpy()
        pairs = pl.DataFrame({
            "q": forms["q"].to_numpy()[rows], "f": forms["f"].to_numpy()[rows], "row": rows, "name_id": nids,
            "entry": self.names["entry"].to_numpy()[nids],
        })
        q_compact, q_key = forms["compact"].to_list(), forms["key"].to_list()
        n_compact, n_key = self.names["compact"].to_list(), self.names["key"].to_list()
        q_raw = [raw_compact(text or "") for text in queries]
        q_of_row = forms["q"].to_numpy()
        ratio = np.maximum(edit_similarity([q_compact[r] for r in rows], [n_compact[i] for i in nids]),
                           edit_similarity([q_raw[q_of_row[r]] for r in rows], self.names_raw.gather(pl.Series(nids)).to_list()))
        order = process.cpdist([q_key[r] for r in rows], [n_key[i] for i in nids], scorer=fuzz.token_sort_ratio, workers=-1)
        agree = self._exact_agreement(forms, pairs)
        han = forms["han"].to_numpy()[rows]
        if han.any():  # names read from Chinese: fuzzy token agreement (pinyin runs, near spellings), slower, few
            q_tokens, n_tokens = forms["tokens"].to_list(), self.names["tokens"].to_list()
            for i in np.flatnonzero(han):
                agree[i] = max(agree[i], self._agreement(q_tokens[rows[i]], n_tokens[nids[i]], reading=True)[0])
        scored = pairs.with_columns(
            pl.Series("s_ratio", ratio, dtype=pl.Float64), pl.Series("s_order", order, dtype=pl.Float64) / 100,
            pl.Series("s_tokens", agree, dtype=pl.Float64),
            pl.Series("han", han, dtype=pl.Boolean),
        ).with_columns(
            # a name read from Chinese: the letters of a reading (a place, then pinyin) resemble many
            # names; the agreement of its words must carry half the score
            pl.when(pl.col("han")).then(pl.max_horizontal("s_tokens", (pl.max_horizontal("s_ratio", "s_order") + pl.col("s_tokens")) / 2))
            .otherwise(pl.max_horizontal("s_ratio", "s_order", "s_tokens")).alias("score"))
        # a name read from Chinese is a reading (translation, pinyin, known names), not the name as
        # written: its scores are discounted, so that short or generic readings alert less easily
        scored = scored.with_columns(pl.when(pl.Series(han)).then(pl.col("score") * HAN_DISCOUNT).otherwise(pl.col("score")).alias("score"))
        # among equal scores, the entry whose name is written exactly as the query comes first
        query_cf = pl.Series([" ".join((text or "").split()).casefold() for text in queries], dtype=pl.String)
        exact = query_cf.gather(pairs["q"]) == self.names_casefold.gather(pl.Series(nids))
        scored = scored.with_columns(exact.alias("exact"))
        best = scored.sort(["score", "exact", "entry"], descending=[True, True, False]).unique(["q", "entry"], keep="first",
                                                                                             maintain_order=True)
        top = best.filter(pl.col("score") >= threshold).group_by("q", maintain_order=True).head(limit)
        by_form = {(r["q"], r["f"]): r for r in forms.iter_rows(named=True)} if explain else {}
        cols = ["list_id", "name", "source", "list_code", "federal_register_notice", "license_policy"]
        have = [c for c in cols if c in self.entries.columns]
        facts = top.select("q", "f", "entry", "name_id", "score", "s_ratio", "s_order", "s_tokens").with_columns(
            *[pl.lit(self.entries[c]).gather(pl.col("entry")).alias(f"e_{c}") for c in have],
            pl.lit(self.names["matched_name"]).gather(pl.col("name_id")).alias("matched_name"))
        for row in facts.iter_rows(named=True):
            ans = answers[row["q"]]
            ans["decision"] = "alert"
            match = {"list_id": row.get("e_list_id"), "list_name": row.get("e_name"), "matched_name": row["matched_name"],
                     "source": row.get("e_source"), "list_code": row.get("e_list_code"), "score": round(row["score"], 4),
                     "federal_register_notice": row.get("e_federal_register_notice"), "license_policy": row.get("e_license_policy")}
            if explain:
                entry = self.entries.row(row["entry"], named=True)
                match["explanation"] = self.explain(by_form.get((row["q"], row["f"])), row, entry)
            ans["matches"].append(match)
        return answers

    # --- scoring details ------------------------------------------------------------------------

    def _exact_agreement(self, forms: pl.DataFrame, pairs: pl.DataFrame) -> np.ndarray:
        """IDF-weighted agreement of whole tokens for every pair, in batch (harmonic mean of the share
        of each side's token weight found on the other side). The list side's tokens and weights are
        prepared once, at build (`name_tokens`, `name_weight`)."""
        idf, default = self.token_idf, self.max_idf
        q_tok = (forms.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"), pl.col("tokens").list.unique())
                 .explode("tokens").drop_nulls()
                 .with_columns(pl.col("tokens").replace_strict(idf, default=default, return_dtype=pl.Float64).alias("w")))
        q_weight = q_tok.group_by("row").agg(pl.col("w").sum().alias("wq"))
        p = pairs.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("pid"), pl.col("row").cast(pl.UInt32),
                         pl.col("name_id").cast(pl.UInt32))
        both = (p.join(q_tok, on="row").join(self.name_tokens, on=["name_id", "tokens"], how="semi")
                .group_by("pid").agg(pl.col("w").sum().alias("wm")))
        out = (p.join(both, on="pid", how="left").join(q_weight, on="row", how="left").sort("pid")
               .with_columns(pl.lit(self.name_weight).gather(pl.col("name_id")).alias("wn")))
        cq = (pl.col("wm") / pl.col("wq")).fill_null(0.0)
        cn = (pl.col("wm") / pl.col("wn")).fill_null(0.0)
        f1 = pl.when(cq + cn > 0).then(2 * cq * cn / (cq + cn)).otherwise(0.0)
        return out.select(f1.alias("f1"))["f1"].to_numpy().copy()

    def _agreement(self, q: list[str], n: list[str], reading: bool = False) -> tuple[float, list[tuple[str, str, float]]]:
        """IDF-weighted token agreement (harmonic mean of the weight matched on each side; for a
        `reading` of a Chinese name, an F-beta weighing the query's side QUERY_COVERAGE times) and the
        aligned token pairs. A query token may match one list token (similarity ≥ 0.8) or a run of
        two or three list tokens written as one word (pinyin "quanxinhao" ~ "quan xin hao"); then a
        list token still unmatched may match a run of two to four query tokens ("zhe jiang" ~
        "zhejiang", syllable by syllable) or begin a longer query token (a brand read together with
        a word no dictionary holds: "yilida" in "yilidafengji", credited for the share it covers)."""
        idf = self.token_idf
        default = self.max_idf
        used: set[int] = set()
        q_used: set[int] = set()
        aligned = []
        matched_q = 0.0
        for qi, t in enumerate(q):
            best, at, span = 0.0, -1, 1
            for j, u in enumerate(n):
                if j not in used:
                    r = fuzz.ratio(t, u) / 100
                    if r > best:
                        best, at, span = r, j, 1
            if best < 0.8 and len(t) >= 6:
                for j in range(len(n)):
                    for k in (2, 3):
                        if j + k <= len(n) and not used.intersection(range(j, j + k)):
                            r = fuzz.ratio(t, "".join(n[j:j + k])) / 100
                            if r > best:
                                best, at, span = r, j, k
            if best >= 0.8:
                matched_q += idf.get(t, default) * best
                used.update(range(at, at + span))
                q_used.add(qi)
                aligned.append((t, " ".join(n[at:at + span]), round(best, 3)))
        for j, u in enumerate(n):
            if j in used or len(u) < 4:
                continue
            best, at, span = 0.0, -1, 1
            for i in range(len(q)):
                if i in q_used:
                    continue
                if len(q[i]) > len(u) and q[i].startswith(u):
                    r = len(u) / len(q[i])
                    if r > best:
                        best, at, span = r, i, 1
                for k in (2, 3, 4):
                    if i + k <= len(q) and not q_used.intersection(range(i, i + k)):
                        r = fuzz.ratio(u, "".join(q[i:i + k])) / 100
                        if r >= 0.8 and r > best:
                            best, at, span = r, i, k
            if best > 0 and (span > 1 or best >= 0.4):
                matched_q += sum(idf.get(t, default) for t in q[at:at + span]) * best
                used.add(j)
                q_used.update(range(at, at + span))
                aligned.append((" ".join(q[at:at + span]), u, round(best, 3)))
        wq = sum(idf.get(t, default) for t in q)
        wn = sum(idf.get(u, default) for u in n)
        mn = sum(idf.get(n[j], default) for j in used)
        cq = matched_q / wq if wq else 0.0
        cn = mn / wn if wn else 0.0
        b2 = QUERY_COVERAGE ** 2 if reading else 1.0
        return ((1 + b2) * cq * cn / (b2 * cn + cq) if cq + cn else 0.0), aligned

    def explain(self, form: dict[str, Any], row: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
        name = self.names.row(row["name_id"], named=True)
        _, aligned = self._agreement(form["tokens"], name["tokens"])
        moved = {"edit similarity of the compact names": round(row["s_ratio"], 4), "word-order-free similarity": round(row["s_order"], 4),
                 "IDF-weighted token agreement": round(row["s_tokens"], 4)}
        return {
            "query_form": form["key"], "list_form": name["key"], "how": [h for h in form["how"].split("\x1f") if h],
            "aligned_tokens": [{"query": a, "list": b, "similarity": s, "idf": round(self.token_idf.get(b.split()[0], 0.0), 3)}
                               for a, b, s in aligned],
            "score_parts": moved, "decided_by": max(moved, key=lambda k: moved[k]),
            "federal_register_notice": entry.get("federal_register_notice"), "license_requirement": entry.get("license_requirement"),
            "license_policy": entry.get("license_policy"),
        }


def edit_similarity(a: list[str], b: list[str]) -> np.ndarray:
    """The similarity of each pair (a[i], b[i]) in 0..1: rapidfuzz's normalised Indel similarity
    (fuzz.ratio), except that strings one typo apart — one insert, delete, substitution or swap of
    two neighbours (OSA distance 1) — score 1 - 1 / (len a + len b) whatever the kind of typo
    (the Indel measure counts a substitution or a swap as two edits). Identical strings give 1.0."""
    indel = process.cpdist(a, b, scorer=fuzz.ratio, workers=-1).astype(np.float64) / 100
    total = np.fromiter(map(len, a), dtype=np.float64, count=len(a)) + np.fromiter(map(len, b), dtype=np.float64, count=len(b))
    # a substitution or a swap is two Indel edits: only pairs within two Indel edits can be one typo apart
    maybe = np.flatnonzero(np.rint((1.0 - indel) * total) == 2)
    if len(maybe):
        one = process.cpdist([a[i] for i in maybe], [b[i] for i in maybe], scorer=OSA.distance, score_cutoff=1, workers=-1) == 1
        indel[maybe[one]] = 1.0 - 1.0 / total[maybe[one]]
    return indel


def form_of(text: str) -> Form:
    return normalise(text)[0]
