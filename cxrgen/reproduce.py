"""``cxrgen reproduce``: run a published setting end to end and put the paper's numbers beside ours.

The chain is the ordinary CLI, one subprocess per stage, so every step is resumable and up-to-date
steps are skipped by the stages themselves:

    prepare (iu|mimic, with the setting's options and --name) → embed (cached-feature recipes only) → train --config cxrgen/presets/<s>.yaml
    → generate --split test (the paper's decoding) → score

``plan()`` builds the command lines (``--dry-run`` prints them); ``compare()`` reads scores.json.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from cxrgen.config.base import load_config
from cxrgen.config.schema import TrainConfig
from cxrgen.errors import ConfigError, CxrgenError, InputError
from cxrgen.papers import EXACT, METRICS, SETTINGS, Setting



def packaged_presets() -> Path:
    """The preset folder shipped inside the package (``cxrgen/presets/``, package data in the wheel),
    found with importlib.resources so an installed wheel and a source checkout behave the same."""
    from importlib import resources
    return Path(str(resources.files("cxrgen").joinpath("presets")))


@dataclass(frozen=True)
class Roots:
    """Data and weight locations given on the command line (empty: not given)."""
    iu_reports: str = ""
    iu_images: str = ""
    annotation: str = ""
    mimic_root: str = ""
    llm_weights: str = ""
    encoder_weights: str = ""
    mimic_images: str = ""
    mimic_reports: str = ""


@dataclass(frozen=True)
class Missing:
    """A path the chain needs that was not given: ``--dry-run`` shows ``placeholder`` in its place."""
    option: str        # the reproduce option, e.g. "--mimic-root"
    what: str          # what it is, e.g. "the MIMIC-CXR-JPG root"

    @property
    def placeholder(self) -> str:
        """``--mimic-root`` → ``MIMIC_ROOT``."""
        return self.option.lstrip("-").replace("-", "_").upper()

    def __str__(self) -> str:
        return f"{self.option} ({self.what})"


# what each path option is, for "not found" errors (the options reproduce hands on to prepare/embed/train)
_WHAT = {"iu_reports": ("--iu-reports", "NLMCXR_reports.tgz, an XML folder or indiana_reports.csv"),
         "iu_images": ("--iu-images", "the IU PNG folder"),
         "annotation": ("--annotation", "R2Gen's annotation.json"),
         "mimic_root": ("--mimic-root", "the MIMIC-CXR-JPG root"),
         "mimic_reports": ("--mimic-reports", "mimic-cxr-reports.zip or the reports' files/ folder"),
         "mimic_images": ("--mimic-images", "the images folder of R2Gen's mimic_cxr copy"),
         "llm_weights": ("--llm-weights", "the LLM's local folder"),
         "encoder_weights": ("--encoder-weights", "the image encoder weights")}


def absent_paths(roots: Roots) -> list[str]:
    """``PATH: not found (--option: what)`` for every path given on the command line that does not exist.
    --encoder-weights may be a Hugging Face id: it is checked when it looks like a local path (the rule of
    ``embed``)."""
    absent = []
    for field_, (option, what) in _WHAT.items():
        value = getattr(roots, field_)
        if not value or Path(value).expanduser().exists():
            continue
        if field_ == "encoder_weights":
            from cxrgen.models.encoders.base import weight_kind
            try:
                weight_kind(value)
                continue   # a hub id
            except ConfigError:
                pass
        absent.append(f"{value}: not found ({option}: {what})")
    return absent


def get(name: str) -> Setting:
    if name not in SETTINGS:
        import difflib
        close = difflib.get_close_matches(name, SETTINGS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown setting {name!r}{hint}; available: {', '.join(SETTINGS)} (`cxrgen reproduce --list`)")
    return SETTINGS[name]


def config_path(s: Setting, configs: str | Path | None = None) -> Path:
    base = Path(configs) if configs else packaged_presets()
    p = base / s.config
    if not p.is_file():
        fix = ("--configs must be a folder of preset YAMLs named like cxrgen/presets/" if configs else
               "the installed package lacks its presets: reinstall cxrgen")
        raise ConfigError(f"{p}: preset of {s.name} not found; {fix}")
    return p


def _prepare(s: Setting, roots: Roots, missing: list[Missing]) -> list[str]:
    """The reader part of the prepare command; a path not given is added to ``missing`` and shown by its
    placeholder, so the whole chain is planned either way."""
    def need(value: str, option: str, what: str) -> str:
        if value:
            return value
        missing.append(Missing(option, what))
        return missing[-1].placeholder

    if s.dataset == "iu" and roots.annotation and not roots.iu_reports:   # R2Gen's iu_xray copy alone
        prep = ["prepare", "iu", "--annotation", roots.annotation, "--views", "all"]
        return prep + (["--images", roots.iu_images] if roots.iu_images else [])
    if s.dataset == "iu":
        alone = "; or only --annotation (R2Gen's iu_xray/annotation.json with images/ beside it)"
        prep = ["prepare", "iu",
                "--reports", need(roots.iu_reports, "--iu-reports", _WHAT["iu_reports"][1] + alone),
                "--images", need(roots.iu_images, "--iu-images", "the IU PNG folder; images are encoded"),
                "--views", "all"]
        return prep + (["--split", "r2gen", "--annotation", roots.annotation] if roots.annotation
                       else ["--split", "random"])
    if s.source == "r2gen":   # R2Gen's entries; the JPG root only adds views and CheXpert labels
        prep = ["prepare", "mimic", "--annotation", need(roots.annotation, "--annotation",
                                                         "R2Gen's mimic_cxr/annotation.json")]
        prep += ["--images", roots.mimic_images] if roots.mimic_images else []
        return prep + (["--root", roots.mimic_root] if roots.mimic_root else [])
    prep = ["prepare", "mimic", "--root", need(roots.mimic_root, "--mimic-root", "the MIMIC-CXR-JPG root")]
    return prep + (["--reports", roots.mimic_reports] if roots.mimic_reports else [])


def plan(s: Setting, roots: Roots, *, workspace: str, configs: str | Path | None = None
         ) -> tuple[list[list[str]], list[Missing]]:
    """The cxrgen command lines (without the program name) that reproduce ``s``, and the paths they need
    that ``roots`` lacks (shown in the commands by their placeholders)."""
    ws = ["--workspace", workspace]
    preset = config_path(s, configs)
    encoder = load_config(TrainConfig, preset).encoder or s.encoder   # the preset decides what is embedded
    missing: list[Missing] = []
    prep = _prepare(s, roots, missing)
    prep += list(s.prepare)
    if s.data_name:   # a non-default preparation gets its own name, so settings never share a changed set
        prep += ["--name", s.data_name]
    cmds = [ws + prep]
    if s.cached_features:
        emb = ["embed", "--dataset", s.data, "--encoder", encoder]
        weights = roots.encoder_weights or (s.encoder_weights if encoder == s.encoder else "")
        if not weights and not encoder.startswith("tiny-"):
            missing.append(Missing("--encoder-weights", f"the {encoder} weights file"))
            weights = missing[-1].placeholder
        if weights:
            emb += ["--encoder-weights", weights]
        cmds.append(ws + emb)
    train = ["train", "--config", str(preset), f"run={s.name}"]
    if s.data_name:
        train.append(f"dataset={s.data}")
    if roots.llm_weights:
        train.append(f"llm_weights={roots.llm_weights}")
    if roots.encoder_weights and not s.cached_features:
        train.append(f"encoder_weights={roots.encoder_weights}")
    cmds.append(ws + train)
    gen = ["generate", "--run", s.name, "--split", "test"] + [f"{k}={v}" for k, v in s.decoding.items()]
    cmds.append(ws + gen)
    cmds.append(ws + ["score", "--run", s.name, "--split", "test", *s.score])
    return cmds, missing


def missing_lines(missing: list[Missing]) -> list[str]:
    """The block ``--dry-run`` prints after the commands: every path still to give, with what it is."""
    if not missing:
        return []
    return ["missing (the commands show these placeholders; give them to run the chain):"] + \
        [f"  {m.option} {m.placeholder}: {m.what}" for m in missing]


def differs_lines(s: Setting) -> list[str]:
    """The "differs from the paper" block printed before a run (one line per difference)."""
    if not s.differs:
        return [f"{s.name}: no known difference from the paper"]
    return [f"{s.name} differs from the paper:"] + [f"  - {d}" for d in s.differs]


def describe(s: Setting) -> dict:
    """The setting as JSON (``reproduce --list --json`` rows and the head of ``reproduce --json``)."""
    return {"name": s.name, "mode": s.mode, "table": s.table, "paper": s.paper, "data": s.data,
            "trainable_params": s.trainable_params, "trainable_params_source": EXACT,
            "paper_params": s.paper_params or None, "differs": list(s.differs)}


def scores_path(workspace: str | Path, s: Setting) -> Path:
    return Path(workspace) / "score" / s.name / "test" / "scores.json"


# R2GenGPT's clinical efficacy (Table 2) follows R2Gen: CheXpert-14 labels, micro-averaged
_KEYS = {"ce_precision": "ce_micro_precision_14", "ce_recall": "ce_micro_recall_14", "ce_f1": "ce_micro_f1_14"}


def _labeler_kind(head: dict) -> str:
    """'rules' or 'chexbert' from a ``ce.headline``: its labeler's name up to the first space."""
    return str(head.get("labeler") or "unknown").split(" ", 1)[0]


def compare(s: Setting, scores_file: Path | None) -> list[dict]:
    """Rows ``{metric, paper, ours, delta}`` for every metric the paper reports; CE rows add ``setting``
    (reference source and uncertain convention, from the scores' ``ce.headline``)."""
    ours = {}
    if scores_file is not None:
        try:
            data = json.loads(Path(scores_file).read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = None
        except json.JSONDecodeError as e:
            raise InputError(f"{scores_file}: not valid JSON ({e}); re-run `cxrgen score`") from None
        metrics = (data or {}).get("metrics") or {}
        head = ((data or {}).get("ce") or {}).get("headline")
        # the labeler too: the paper's CheXpert labeler and cxrgen's rules are not the same labels
        ce_setting = f"{head['reference']} unc={head['uncertain']} labeler={_labeler_kind(head)}" if head else None
        for m in METRICS:
            v = metrics.get(_KEYS.get(m, m))
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                ours[m] = float(v)
    else:
        ce_setting = None
    rows = []
    for m in METRICS:
        if m not in s.numbers or s.numbers[m] is None:
            continue
        p, o = s.numbers[m], ours.get(m)
        row = {"metric": m, "paper": p, "ours": o, "delta": None if o is None else round(o - p, 4)}
        if m.startswith("ce_") and ce_setting:  # every CE number says what it was computed against
            row["setting"] = ce_setting
        rows.append(row)
    return rows


def run(s: Setting, roots: Roots, *, workspace: str, configs: str | Path | None = None,
        dry_run: bool = False, echo=print) -> tuple[list[list[str]], list[dict], list[Missing]]:
    """Run (or with ``dry_run`` only print) the chain; returns the commands, the comparison rows and the
    paths still missing. A given path that does not exist is an InputError (as in prepare), also in a dry
    run; missing paths stop a real run before its first step. Either way one error line names every
    problem at once; a dry run prints the chain with placeholders and lists the missing paths after it."""
    cmds, missing = plan(s, roots, workspace=workspace, configs=configs)
    needs = f"{s.name} needs {' and '.join(map(str, missing))}" if missing else ""
    absent = absent_paths(roots)
    if absent:
        raise InputError("; ".join(absent) + (f"; {needs.replace(' needs ', ' also needs ', 1)}" if needs else ""))
    if missing and not dry_run:
        raise ConfigError(f"{needs} (`cxrgen reproduce {s.name} --dry-run` shows the whole chain)")
    for line in differs_lines(s):
        echo(line)
    for c in cmds:
        echo("$ cxrgen " + " ".join(shlex.quote(x) for x in c))
        if dry_run:
            continue
        # the stages' own output goes to stderr: stdout stays for the table / --json
        rc = subprocess.call([sys.executable, "-m", "cxrgen", *c], stdout=2)
        if rc != 0:
            raise CxrgenError(f"`cxrgen {c[2]}` failed with exit code {rc}; fix it and re-run "
                              f"`cxrgen reproduce {s.name}` (finished steps are skipped)")
    for line in missing_lines(missing):
        echo(line)
    return cmds, compare(s, None if dry_run else scores_path(workspace, s)), missing
