"""Rebuild src/aiexport/catalog/chips.csv from the team's research file (run by hand, not at run time).

    python tools/build_catalog.py ../shared/data/chips/chips_dev.csv

Figures are copied as published (dense rates; sources kept per row). Hand-added rows (HBM stacks,
systems) live in tools/catalog_extra.csv with their own sources and are appended unchanged.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "src" / "aiexport" / "catalog" / "chips.csv"
EXTRA = HERE / "catalog_extra.csv"

SPEC = ["id", "name", "vendor", "datacenter", "fp64", "fp32", "tf32", "fp16", "bf16", "fp8", "int8", "int4", "fp4",
        "die_area_mm2", "io_bidir_gbps", "memory_bw_gbps", "transistors_billion", "process_nm", "hbm",
        "hbm_package_area_mm2", "base_eccn", "contains", "count", "item_type"]
PROVENANCE = ["aliases", "form_factor", "year", "process_node", "memory_type", "memory_gb", "die_area_basis",
              "dense_value_derivation", "io_basis", "confidence", "sources", "notes", "reported_export_status"]

ALIASES = {
    "nv_h100_sxm": "H100; H100 SXM", "nv_h800_sxm": "H800; H800 SXM", "nv_a800_sxm": "A800; A800 SXM",
    "nv_a100_sxm": "A100; A100 SXM", "nv_h20": "H20", "nv_h200_sxm": "H200; H200 SXM", "nv_a30": "A30",
    "nv_rtx4090": "RTX 4090; GeForce RTX 4090", "nv_rtx4090d": "RTX 4090 D; RTX 4090D",
    "nv_rtx5090d": "RTX 5090 D; RTX 5090D", "nv_b200": "B200", "nv_b100": "B100", "nv_b300": "B300",
    "nv_l20": "L20", "nv_l40s": "L40S", "nv_v100_sxm2": "V100", "amd_mi300x": "MI300X",
    "amd_mi308x": "MI308X", "amd_mi325x": "MI325X", "huawei_910": "Ascend 910",
    "huawei_910c": "Ascend 910C", "intel_gaudi2": "Gaudi2; Gaudi 2", "intel_gaudi3": "Gaudi3; Gaudi 3",
    "google_tpuv4": "TPU v4", "google_tpuv5p": "TPU v5p", "google_tpuv6e": "TPU v6e; Trillium",
    "aws_trn2": "Trainium2; Trn2", "biren_br100": "BR100", "mthreads_s4000": "S4000; MTT S4000",
    "cambricon_mlu370x8": "MLU370-X8", "cambricon_mlu290": "MLU290",
}


def number_prefix(text: str) -> str:
    m = re.match(r"\s*(?:<=)?\s*([0-9]+(?:\.[0-9]+)?)", text or "")
    return m.group(1) if m else ""


def main(src: str) -> None:
    with open(src, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for r in rows:
        has_bf16 = "no BF16" not in (r["notes"] or "")
        o = {k: "" for k in SPEC + PROVENANCE}
        o.update(
            id=r["id"], name=r["model"], vendor=r["vendor"], datacenter=r["datacenter_marketed"],
            fp64=r["fp64_tflops"], fp32=r["fp32_tflops"], tf32=r["tf32_tflops"], fp16=r["fp16_bf16_tflops"],
            bf16=r["fp16_bf16_tflops"] if has_bf16 else "", fp8=r["fp8_tflops"], int8=r["int8_tops"],
            fp4=r["fp4_tflops"], die_area_mm2=r["die_area_mm2"], io_bidir_gbps=number_prefix(r["oct2022_io_used_gbs"]),
            memory_bw_gbps=r["memory_bw_gbs"], transistors_billion=r["transistors_billion"],
            hbm="yes" if r["memory_type"].startswith("HBM") else "no",
            item_type="ic", aliases=ALIASES.get(r["id"], ""), form_factor=r["form_factor"], year=r["year"],
            process_node=r["process_node"], memory_type=r["memory_type"], memory_gb=r["memory_gb"],
            die_area_basis=r["die_area_basis"], dense_value_derivation=r["dense_value_derivation"],
            io_basis=r["oct2022_io_used_gbs"], confidence=r["confidence"], sources=r["sources"], notes=r["notes"],
            reported_export_status=r["reported_export_status"],
        )
        out.append(o)
    with open(EXTRA, encoding="utf-8") as fh:
        extra = list(csv.DictReader(fh))
    for e in extra:
        o = {k: "" for k in SPEC + PROVENANCE}
        o.update({k: v for k, v in e.items() if k in o})
        out.append(o)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=SPEC + PROVENANCE)
        w.writeheader()
        w.writerows(out)
    print(f"wrote {len(out)} rows to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(HERE.parent.parent / "shared" / "data" / "chips" / "chips_dev.csv"))
