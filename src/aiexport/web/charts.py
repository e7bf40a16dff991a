"""Inline SVG charts of the web UI: the chip map (TPP against performance density, the control
regions drawn by classifying a grid of synthetic ICs with the engine itself, so no threshold is
written here) and the licence balances."""

from __future__ import annotations

import hashlib
import math
from datetime import date
from functools import lru_cache
from html import escape
from typing import Any

import polars as pl

from aiexport.api import answers

X_RANGE = (10.0, 100_000.0)  # TPP
Y_RANGE = (0.05, 100.0)  # TPP per mm²
W, H, PAD_L, PAD_B, PAD_T, PAD_R = 760, 480, 70, 50, 15, 15
GRID_X, GRID_Y = 72, 48
PALETTE = {"none": "#e8f5e9", "indeterminate": "#fff8e1"}
STRONG = ["#ef9a9a", "#ffcc80", "#ce93d8", "#90caf9", "#f48fb1", "#b39ddb", "#80cbc4", "#bcaaa4"]


def colour(control: str) -> str:
    if control in PALETTE:
        return PALETTE[control]
    return STRONG[int(hashlib.sha1(control.encode()).hexdigest(), 16) % len(STRONG)]


def _x(tpp: float) -> float:
    lo, hi = (math.log10(v) for v in X_RANGE)
    return PAD_L + (math.log10(tpp) - lo) / (hi - lo) * (W - PAD_L - PAD_R)


def _y(pd: float) -> float:
    lo, hi = (math.log10(v) for v in Y_RANGE)
    return H - PAD_B - (math.log10(pd) - lo) / (hi - lo) * (H - PAD_B - PAD_T)


def _edges(lo: float, hi: float, n: int) -> list[float]:
    a, b = math.log10(lo), math.log10(hi)
    return [10 ** (a + (b - a) * i / n) for i in range(n + 1)]


@lru_cache(maxsize=64)
def regions(day: date, io_gbps: float, datacenter: bool) -> tuple[tuple[float, float, float, float, str], ...]:
    """Cells (tpp0, tpp1, pd0, pd1, control): each cell's centre classified as an IC with these figures."""
    from aiexport.chips import classify_frame
    from aiexport.specs import specs_from_python

    xs, ys = _edges(*X_RANGE, GRID_X), _edges(*Y_RANGE, GRID_Y)
    specs, cells = [], []
    for i in range(GRID_X):
        for j in range(GRID_Y):
            tpp, pd = math.sqrt(xs[i] * xs[i + 1]), math.sqrt(ys[j] * ys[j + 1])
            specs.append({"id": f"g{i}_{j}", "item_type": "ic", "int8": tpp / 8, "die_area_mm2": tpp / pd, "io_bidir_gbps": io_gbps,
                          "datacenter": "yes" if datacenter else "no"})
            cells.append((xs[i], xs[i + 1], ys[j], ys[j + 1]))
    result = classify_frame(specs_from_python(specs, "chip map grid"), answers.rulebook(), day, "chip map grid", explain=False)
    return tuple((*c, ctl) for c, ctl in zip(cells, result["control"].to_list(), strict=True))


def catalog_points(day: date) -> list[dict[str, Any]]:
    from aiexport import catalog
    from aiexport.chips import classify_frame
    from aiexport.specs import specs_from_python

    frame = specs_from_python([catalog.spec_of(it) for it in catalog.items()], "catalog")
    res = classify_frame(frame, answers.rulebook(), day, "catalog", explain=False)
    pts = res.filter(pl.col("tpp").is_not_null() & pl.col("performance_density").is_not_null() & (pl.col("tpp") > 0)
                     & (pl.col("performance_density") > 0))
    return pts.select("id", "name", "tpp", "performance_density", "control").to_dicts()


def chip_map(day: date, io_gbps: float, datacenter: bool, lang: str) -> tuple[str, list[tuple[str, str]], list[dict[str, Any]]]:
    """The SVG, the legend (control, colour) and the points drawn."""
    cells = regions(day, io_gbps, datacenter)
    pts = catalog_points(day)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" '
             f'id="chipmap" aria-label="chip map {day.isoformat()}">']
    seen: dict[str, str] = {}
    merged: list[tuple[float, float, float, float, str]] = []
    for cell in cells:  # cells run up each column: join neighbours of one control into one rectangle
        if merged and merged[-1][0] == cell[0] and merged[-1][4] == cell[4] and merged[-1][3] == cell[2]:
            merged[-1] = (cell[0], cell[1], merged[-1][2], cell[3], cell[4])
        else:
            merged.append(cell)
    for x0, x1, y0, y1, ctl in merged:
        c = colour(ctl)
        seen.setdefault(ctl, c)
        parts.append(f'<rect x="{_x(x0):.1f}" y="{_y(y1):.1f}" width="{_x(x1) - _x(x0) + 0.3:.1f}" height="{_y(y0) - _y(y1) + 0.3:.1f}" '
                     f'fill="{c}"><title>{escape(ctl)}</title></rect>')
    for v in (10, 100, 1000, 10_000, 100_000):
        parts.append(f'<line x1="{_x(v):.1f}" y1="{PAD_T}" x2="{_x(v):.1f}" y2="{H - PAD_B}" stroke="#bbb" stroke-width="0.5"/>'
                     f'<text x="{_x(v):.1f}" y="{H - PAD_B + 16}" font-size="11" text-anchor="middle">{v:,}</text>')
    for v in (0.1, 1, 10, 100):
        parts.append(f'<line x1="{PAD_L}" y1="{_y(v):.1f}" x2="{W - PAD_R}" y2="{_y(v):.1f}" stroke="#bbb" stroke-width="0.5"/>'
                     f'<text x="{PAD_L - 6}" y="{_y(v) + 4:.1f}" font-size="11" text-anchor="end">{v:g}</text>')
    xl = "TPP (total processing performance)" if lang == "en" else "TPP（总处理性能）"
    yl = "performance density (TPP/mm²)" if lang == "en" else "性能密度（TPP/mm²）"
    parts.append(f'<text x="{(W + PAD_L) / 2:.0f}" y="{H - 10}" font-size="12" text-anchor="middle">{xl}</text>')
    parts.append(f'<text x="14" y="{(H - PAD_B) / 2:.0f}" font-size="12" text-anchor="middle" '
                 f'transform="rotate(-90 14 {(H - PAD_B) / 2:.0f})">{yl}</text>')
    shown = []
    for p in pts:
        tpp, pd = p["tpp"], p["performance_density"]
        if not (X_RANGE[0] <= tpp <= X_RANGE[1] and Y_RANGE[0] <= pd <= Y_RANGE[1]):
            continue
        shown.append(p)
        label = escape(p["name"] or p["id"])
        parts.append(f'<a href="/chips/{escape(p["id"])}"><circle class="chip" data-id="{escape(p["id"])}" cx="{_x(tpp):.1f}" '
                     f'cy="{_y(pd):.1f}" r="4" fill="#263238" stroke="white" stroke-width="1">'
                     f'<title>{label}: TPP {tpp:,.0f}, PD {pd:.2f} → {escape(p["control"])}</title></circle></a>')
    parts.append("</svg>")
    return "".join(parts), sorted(seen.items()), shown


def licence_bars(rows: list[dict[str, Any]], lang: str) -> str:
    """Horizontal stacked bars: consumed, reserved and remaining quantity of each licence."""
    if not rows:
        return ""
    bar_h, gap, left, width = 22, 10, 160, 520
    height = len(rows) * (bar_h + gap) + 40
    words = {"en": ("consumed", "reserved", "remaining"), "zh": ("已使用", "已预留", "剩余")}[lang]
    colours = ("#e57373", "#ffb74d", "#81c784")
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {left + width + 20} {height}" width="{left + width + 20}" '
             f'height="{height}" role="img" id="licence-chart">']
    for i, r in enumerate(rows):
        y = 10 + i * (bar_h + gap)
        total = max(int(r.get("authorised_quantity") or 0), 1)
        vals = (int(r.get("consumed_quantity") or 0), int(r.get("reserved_quantity") or 0), int(r.get("remaining_quantity") or 0))
        parts.append(f'<text x="{left - 8}" y="{y + 15}" font-size="12" text-anchor="end">{escape(str(r["number"]))}</text>')
        x = float(left)
        for v, c, w in zip(vals, colours, words, strict=True):
            wpx = width * v / total
            if wpx > 0:
                parts.append(f'<rect x="{x:.1f}" y="{y}" width="{wpx:.1f}" height="{bar_h}" fill="{c}"><title>{w}: {v:,}</title></rect>')
            x += wpx
    ly = height - 18
    for k, (c, w) in enumerate(zip(colours, words, strict=True)):
        parts.append(f'<rect x="{left + k * 120}" y="{ly}" width="12" height="12" fill="{c}"/>'
                     f'<text x="{left + k * 120 + 16}" y="{ly + 11}" font-size="12">{w}</text>')
    parts.append("</svg>")
    return "".join(parts)
