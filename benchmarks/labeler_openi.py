"""Agreement of cxrgen's rule-based labeler with the human MeSH tags of the 3,955 OpenI reports.

Run: python benchmarks/labeler_openi.py  → benchmarks/results/labeler_openi.md
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from cxrgen.metrics.chexpert import Labeler
    from cxrgen.metrics.validate import TARGETS, agreement, read_openi
    reports = read_openi()
    labels = Labeler().label_many(r.text for r in reports)
    res = agreement(reports, labels)
    # the stricter reading: only label 1 counts as positive
    strict_labels = [{k: (v if v != -1 else None) for k, v in lab.items()} for lab in labels]
    strict = agreement(reports, strict_labels)
    lines = [
        "# Rule-based labeler vs OpenI MeSH tags",
        "",
        f"{len(reports)} OpenI (IU X-ray) reports from `torchxrayvision/data/NLMCXR_reports.tgz`; the labeler reads "
        "FINDINGS + IMPRESSION; the gold standard is the report's human-assigned MeSH `<major>` tags (first "
        "component; `cardiac shadow/enlarged` means a `Cardiac Shadow` tag qualified `enlarged`, `density/lung` a "
        "`Density` tag qualified `lung`). A report counts as labeler-positive when any listed class is 1 or -1 (uncertain); the last "
        "column counts only 1.",
        "",
        "| comparison | MeSH heads | labeler classes | support | precision | recall | F1 | accuracy | κ | F1 (1 only) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, (heads, classes) in TARGETS.items():
        r = res[name]
        lines.append(f"| {name} | {', '.join(heads)} | {', '.join(classes)} | {r['support']} | {r['precision']:.3f} | "
                     f"{r['recall']:.3f} | **{r['f1']:.3f}** | {r['accuracy']:.3f} | {r['kappa']:.3f} | "
                     f"{strict[name]['f1']:.3f} |")
    lines += [
        "",
        "Notes:",
        "- MeSH tags are per report and incomplete: many false positives here are findings the text states but the "
        "tags omit (e.g. \"heart size at the upper limits of normal\" is uncertain Cardiomegaly for the labeler, "
        "untagged in MeSH; \"nodular densities\" of granulomatous disease).",
        "- \"Normal\" compares MeSH `normal` with No Finding = 1 (no finding among the 13 others except Support "
        "Devices, and no other asserted abnormality such as granuloma, scoliosis or emphysema).",
        "- Edema includes MeSH `pulmonary congestion` (vascular congestion is labelled Edema, as CheXpert does); "
        "Opacity pools opacity, airspace disease, infiltrate, consolidation, pneumonia and lung density.",
        "- Read in the reports, most remaining Fracture and Cardiomegaly \"false positives\" are stated in the text "
        "(\"old healed rib fracture\", \"enlarged cardiac silhouette\" tagged only as cardiac shadow).",
        "- tests/score/test_labeler.py asserts F1 floors a little below these numbers.",
        "",
        "Regenerate: `python benchmarks/labeler_openi.py`.",
    ]
    out = Path(__file__).resolve().parent / "results" / "labeler_openi.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
