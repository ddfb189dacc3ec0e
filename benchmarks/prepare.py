"""Benchmark `cxrgen prepare mimic` on a full-scale MIMIC-CXR-JPG-shaped tree (no image pixels).

    python benchmarks/prepare.py [--dir /tmp/mimic-bench] [--zip] [--synthetic] [--out benchmarks/results/prepare.md]

Builds (once, cached in --dir) the metadata / split / CheXpert / NegBio tables for 377,110 images of
227,835 studies and one MIMIC-style report file per study, then times the CLI in a subprocess
(wall time, CPU time, peak RSS of the child) against a baseline measured in the same run: a bare
Python loop that gunzips the tables and reads every report file (the I/O floor of any reader).
Targets: ≤ 90 s and ≤ 2 GiB peak RSS on 2 cores.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

N_IMAGES, N_STUDIES, N_SUBJECTS = 377_110, 227_835, 65_379
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cxrgen.data import synthetic as S  # noqa: E402
from cxrgen.data.mimic import READ_THREADS  # noqa: E402
from cxrgen.data.records import CHEXPERT14  # noqa: E402


def build(root: Path) -> None:
    if (root / "DONE").is_file():
        return
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    subjects = np.sort(np.concatenate([np.arange(N_SUBJECTS), rng.integers(0, N_SUBJECTS, N_STUDIES - N_SUBJECTS)]))
    n_img = np.ones(N_STUDIES, int)
    extra = rng.choice(N_STUDIES, N_IMAGES - N_STUDIES, replace=True)
    np.add.at(n_img, extra, 1)
    split_of_subject = rng.choice(["train", "validate", "test"], N_SUBJECTS, p=[0.978, 0.008, 0.014])
    templates = []
    for i in range(300):
        r = np.random.default_rng([9, i])
        f = S.draw_findings(r)
        templates.append(S.mimic_report(f, "PA", True, r, S.report_sentences(f, r)))
    t0 = time.time()
    meta = gzip.open(root / "mimic-cxr-2.0.0-metadata.csv.gz", "wt", compresslevel=6)
    split = gzip.open(root / "mimic-cxr-2.0.0-split.csv.gz", "wt", compresslevel=6)
    chex = gzip.open(root / "mimic-cxr-2.0.0-chexpert.csv.gz", "wt", compresslevel=6)
    negb = gzip.open(root / "mimic-cxr-2.0.0-negbio.csv.gz", "wt", compresslevel=6)
    meta.write("dicom_id,subject_id,study_id,PerformedProcedureStepDescription,ViewPosition,Rows,Columns,"
               "StudyDate,StudyTime,ProcedureCodeSequence_CodeMeaning,ViewCodeSequence_CodeMeaning,"
               "PatientOrientationCodeSequence_CodeMeaning\n")
    split.write("dicom_id,study_id,subject_id,split\n")
    for f in (chex, negb):
        f.write("subject_id,study_id," + ",".join(CHEXPERT14) + "\n")
    values = np.array(["", "1.0", "0.0", "-1.0"])
    k = 0
    last_dir = None
    for s in range(N_STUDIES):
        subject, study = str(10_000_000 + int(subjects[s]) * 150), str(50_000_000 + s * 4)
        for j in range(n_img[s]):
            view = ("AP" if rng.random() < 0.6 else "PA") if j == 0 and rng.random() < 0.95 else \
                str(rng.choice(["LATERAL", "LL", "AP", "PA", ""], p=[0.55, 0.25, 0.08, 0.04, 0.08]))
            dicom = f"{k:08x}-{s:08x}-{j:08x}-deadbeef-{k * 7 % 99991:08x}"
            meta.write(f"{dicom},{subject},{study},CHEST (PA AND LAT),{view},3056,2544,21800506,213014.531,"
                       f"Chest 2 Views,postero-anterior,Erect\n")
            split.write(f"{dicom},{study},{subject},{split_of_subject[subjects[s]]}\n")
            k += 1
        labs = ",".join(values[rng.integers(0, 4, 14)])
        chex.write(f"{subject},{study},{labs}\n")
        negb.write(f"{subject},{study},{labs}\n")
        d = root / "files" / f"p{subject[:2]}" / f"p{subject}"
        if d != last_dir:
            d.mkdir(parents=True, exist_ok=True)
            last_dir = d
        (d / f"s{study}.txt").write_text(templates[s % len(templates)])
    for f in (meta, split, chex, negb):
        f.close()
    assert k == N_IMAGES
    (root / "DONE").write_text(f"built in {time.time() - t0:.0f} s\n")


def build_zip(root: Path) -> Path:
    z = root.parent / (root.name + "-reports.zip")
    if not z.is_file():
        tmp = z.with_suffix(".tmp")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            for dirpath, _, files in os.walk(root / "files"):
                for name in sorted(files):
                    p = Path(dirpath, name)
                    zf.write(p, p.relative_to(root).as_posix())
        os.replace(tmp, z)
    return z


def baseline(root: Path) -> float:
    """The I/O floor: gunzip every table and read every report file, nothing parsed."""
    t = time.perf_counter()
    for name in ("metadata", "split", "chexpert", "negbio"):
        with gzip.open(root / f"mimic-cxr-2.0.0-{name}.csv.gz", "rb") as f:
            while f.read(1 << 20):
                pass
    for dirpath, _, files in os.walk(root / "files"):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as f:
                f.read()
    return time.perf_counter() - t


def run_cli(args: list[str]) -> tuple[float, float, int, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "cxrgen", *args], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(REPO)))
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit(f"cxrgen failed: {p.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss, p.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/tmp/cxrgen-mimic-bench")
    ap.add_argument("--zip", action="store_true", help="also time the reports read from a zip")
    ap.add_argument("--synthetic", action="store_true", help="also time `prepare synthetic --n 2000`")
    ap.add_argument("--out", default=str(REPO / "benchmarks/results/prepare.md"))
    a = ap.parse_args()
    root = Path(a.dir) / "mimic-cxr-jpg"
    t = time.time()
    build(root)
    print(f"tree ready ({time.time() - t:.0f} s)", flush=True)
    base = baseline(root)
    print(f"baseline read {base:.1f} s", flush=True)
    rows = []
    ws = Path(a.dir) / "ws"
    shutil.rmtree(ws, ignore_errors=True)
    wall, cpu, rss, out = run_cli(["-w", str(ws), "prepare", "mimic", "--root", str(root)])
    rows.append(("reports folder, per study", wall, cpu, rss))
    print(out)
    wall, cpu, rss, _ = run_cli(["-w", str(ws), "prepare", "mimic", "--root", str(root)])
    rows.append(("re-run, up to date (fingerprint check only)", wall, cpu, rss))
    wall, cpu, rss, _ = run_cli(["-w", str(ws), "prepare", "mimic", "--root", str(root), "--per-image",
                                 "--name", "mimic-img"])
    rows.append(("reports folder, --per-image", wall, cpu, rss))
    if a.zip:
        z = build_zip(root)
        wall, cpu, rss, _ = run_cli(["-w", str(ws), "prepare", "mimic", "--root", str(root), "--reports", str(z),
                                     "--name", "mimic-zip"])
        rows.append(("mimic-cxr-reports.zip, per study", wall, cpu, rss))
    if a.synthetic:
        syn = Path(a.dir) / "synthetic"
        shutil.rmtree(syn, ignore_errors=True)
        wall, cpu, rss, _ = run_cli(["-w", str(ws), "prepare", "synthetic", "--n", "2000", "--root", str(syn)])
        rows.append(("`prepare synthetic --n 2000` (generate 2000 studies + prepare)", wall, cpu, rss))
    import json
    stats = json.loads((ws / "prepare/mimic/stats.json").read_text())
    load = os.getloadavg()
    lines = [
        "# prepare benchmark (`benchmarks/prepare.py`)", "",
        f"Full-scale MIMIC-CXR-JPG-shaped tree: {N_IMAGES:,} images in the metadata, {N_STUDIES:,} report files, "
        "no pixels. The page cache is not controlled (this VM reclaims it, so most reads hit the disk).",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load average at the end {load[0]:.1f} (other jobs shared the 2 cores).", "",
        f"Baseline in the same run (gunzip the 4 tables + read every report file in one thread, no parsing): "
        f"**{base:.1f} s**; prepare reads the reports with {READ_THREADS} threads, so it can beat it.", "",
        "| run | wall s | CPU s | peak RSS (max of children) | wall / baseline |", "|---|---|---|---|---|"]
    for name, wall, cpu, rss in rows:
        lines.append(f"| {name} | {wall:.1f} | {cpu:.1f} | {rss / 1024:.0f} MiB | {wall / base:.2f} |")
    lines += ["", "CPU s counts the child's user + system time (worker processes of `prepare synthetic` included); "
              "with other jobs on the 2 cores, wall time is inflated, CPU time is not.", "",
              f"Records: {stats['records']:,} ({stats['splits']}), images {stats['images']:,}; "
              f"dropped {stats['dropped']}.", "",
              "Targets: ≤ 90 s wall and ≤ 2 GiB peak RSS on 2 cores."]
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
