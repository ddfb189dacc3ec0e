"""Report text of a synthetic study: systematic findings sentences in MIMIC-CXR's layout (headers, indication,
FINDINGS/IMPRESSION), with a few header styles; uncertain mentions only for findings not drawn.
"""

from __future__ import annotations

import textwrap

import numpy as np


from cxrgen.data.synthetic.findings import Findings


DEVICE_TEXT = {
    "ett": ["An endotracheal tube terminates {n} cm above the carina.",
            "Endotracheal tube tip is {n} cm above the carina."],
    "cvc": ["A right internal jugular central venous catheter terminates in the mid SVC.",
            "Right IJ central line tip projects over the SVC."],
    "ngt": ["An enteric tube courses below the diaphragm, tip in the stomach.",
            "Nasogastric tube tip is in the stomach."],
    "pacemaker": ["A left chest wall pacemaker is present with a lead in the right ventricle.",
                  "Left-sided pacemaker device with lead terminating in the right ventricle."],
}


def _pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def report_sentences(f: Findings, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """(findings sentences, impression sentences)."""
    s: list[str] = []
    imp: list[str] = []
    for d in f.devices:
        s.append(_pick(rng, DEVICE_TEXT[d]).format(n=int(rng.integers(3, 6))))
    if f.devices:
        imp.append("Support devices in standard position." if len(f.devices) > 1 else
                   {"ett": "Endotracheal tube in standard position.", "cvc": "Central venous catheter in the SVC.",
                    "ngt": "Enteric tube in the stomach.", "pacemaker": "Pacemaker in place."}[f.devices[0]])
    if f.consolidation:
        side, lobe = f.consolidation
        s.append(_pick(rng, [f"There is airspace opacity in the {side} {lobe} lobe consistent with consolidation.",
                             f"Dense opacity in the {side} {lobe} lobe, compatible with consolidation."]))
        imp.append(f"{side.capitalize()} {lobe} lobe consolidation.")
    else:
        s.append(_pick(rng, ["There is no focal consolidation.", "No focal consolidation is seen."]))
    if f.nodules:
        sides = sorted({n[0] for n in f.nodules})
        where = " and ".join(f"{x} upper lung" for x in sides)
        if len(f.nodules) > 1:
            s.append(f"Two rounded nodules are seen in the {where}, measuring up to 2 cm.")
            imp.append("Pulmonary nodules; recommend chest CT.")
        else:
            s.append(f"A 2 cm rounded nodule is seen in the {where}.")
            imp.append("Pulmonary nodule; recommend chest CT.")
    elif f.mention_nodules:
        s.append("No pulmonary nodules are identified.")
    if f.uncertain == "atelectasis":
        s.append(_pick(rng, ["Possible mild atelectasis at the left base.",
                             "Minimal bibasilar opacity may reflect atelectasis."]))
    elif f.uncertain == "pneumonia":
        s.append("Early pneumonia cannot be excluded in the appropriate clinical setting.")
    if f.mention_edema:
        s.append("There is no pulmonary edema.")
    eff, ptx = f.effusion, f.pneumothorax
    if eff:
        size = f.effusion_size
        if eff == "bilateral":
            s.append(f"There are {size} bilateral pleural effusions.")
            imp.append(f"{size.capitalize()} bilateral pleural effusions.")
        else:
            s.append(_pick(rng, [f"There is a {size} {eff} pleural effusion.",
                                 f"A {size} {eff} pleural effusion is present with blunting of the costophrenic angle."]))
            imp.append(f"{size.capitalize()} {eff} pleural effusion.")
    if ptx:
        s.append(_pick(rng, [f"There is a large {ptx} pneumothorax.",
                             f"A large {ptx} pneumothorax is present with a visible pleural line."]))
        imp.append(f"Large {ptx} pneumothorax.")
    if not eff and not ptx:
        s.append(_pick(rng, ["No pleural effusion or pneumothorax.", "There is no pleural effusion or pneumothorax."]))
    elif not eff:
        s.append("No pleural effusion.")
    elif not ptx:
        s.append("No pneumothorax.")
    if f.cardiomegaly:
        s.append(_pick(rng, ["The heart is markedly enlarged.", "There is moderate to severe cardiomegaly."]))
        imp.append("Cardiomegaly.")
    else:
        s.append(_pick(rng, ["Heart size is normal.", "The cardiac silhouette is normal in size."]))
    if not imp:
        imp.append(_pick(rng, ["No acute cardiopulmonary process.", "No acute cardiopulmonary abnormality."]))
    return s, imp


_INDICATIONS = ["___-year-old {sex} with shortness of breath.  Evaluate for pneumonia.",
                "___ year old {sex} with cough and fever.", "History: ___{s} with chest pain",
                "___-year-old {sex} status post line placement.  Assess position.",
                "Evaluate for interval change.", "___{s} with hypoxia, evaluate for effusion or edema."]


def _wrap(sentences: list[str]) -> str:
    return "\n ".join(textwrap.wrap("  ".join(sentences), width=74))


# 1 study in 40 has only an IMPRESSION header (dropped with --sections findings), 1 in 40 has neither
# findings nor impression header (the last-paragraph fallback); study 0 is always standard
STYLES = {17: "impression-only", 33: "no-headers"}


def mimic_report(f: Findings, view: str, has_lateral: bool, rng: np.random.Generator,
                 sentences: tuple[list[str], list[str]], style: str = "standard") -> str:
    find, imp = sentences
    sex = _pick(rng, ["man", "woman"])
    exam = "CHEST (PA AND LAT)" if has_lateral and view == "PA" else ("CHEST (PORTABLE AP)" if view == "AP" else "CHEST (PA)")
    indication = _pick(rng, _INDICATIONS).format(sex=sex, s="M" if sex == "man" else "F")
    comparison = _pick(rng, ["None.", "___.", "Chest radiograph from ___.", "___ and ___."])
    head = "                                 FINAL REPORT\n"
    parts = [f" {_pick(rng, ['EXAMINATION', 'EXAM'])}:  {exam}",
             f" {_pick(rng, ['INDICATION', 'HISTORY', 'REASON FOR EXAM'])}:  {indication}",
             f" TECHNIQUE:  Chest {'PA and lateral' if has_lateral else view}",
             f" {_pick(rng, ['COMPARISON', 'COMPARISONS'])}:  {comparison}"]
    if style == "impression-only":
        parts.append(f" IMPRESSION: \n \n {_wrap(find + imp)}")
    elif style == "no-headers":
        parts = parts[:2] + [f" {_wrap(find)}"]
    else:
        parts.append(f" FINDINGS: \n \n {_wrap(find)}")
        parts.append(f" IMPRESSION: \n \n {_wrap(imp)}")
    return head + "\n \n".join(parts) + "\n"
