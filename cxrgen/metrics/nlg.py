"""BLEU-1..4, METEOR, ROUGE-L and CIDEr(-D) through pycocoevalcap 1.2, with per-report sufficient statistics.

Conventions (see docs/manual/scoring.md):

* ``tokenize="none"`` (default, R2Gen/R2GenGPT): strings are scored exactly as given; pycocoevalcap splits
  on whitespace. ``tokenize="ptb"``: the Stanford PTB tokenizer shipped with pycocoevalcap (lowercases,
  drops punctuation tokens), run from a temporary folder outside site-packages.
* BLEU is corpus BLEU with the closest reference length (pycocoevalcap's ``option='closest'``), computed
  here from summed per-report statistics with the same formula and constants, so it equals
  ``Bleu(4).compute_score`` to the last digit.
* METEOR is corpus METEOR: per-report statistics from the jar's ``SCORE`` command, the corpus value from
  its ``EVAL`` command (exactly what pycocoevalcap does), plus a Python aggregation of the same statistics
  (:func:`meteor_from_stats`) for bootstrap resamples.
* ROUGE-L and CIDEr are means of per-report values; CIDEr's idf comes from the references of the scored set.

SPICE and ``COCOEvalCap.evaluate`` are never used (SPICE downloads CoreNLP at construction).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from cxrgen.errors import CxrgenError, DependencyError, InputError

NLG_KEYS = ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider")
GROUPS = {"bleu": ("bleu_1", "bleu_2", "bleu_3", "bleu_4"), "meteor": ("meteor",),
          "rouge_l": ("rouge_l",), "cider": ("cider",)}
TOKENIZE = ("none", "ptb")

JAVA_HELP = ("METEOR and the PTB tokenizer need Java (8 or newer) on PATH: install it, e.g. "
             "`sudo apt-get install default-jre-headless` or `conda install -c conda-forge openjdk`, "
             "or leave METEOR out with --metrics bleu,rouge_l,cider,ce")

# pycocoevalcap's PTB post-processing drops these tokens
PTB_PUNCT = frozenset(["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-",
                       "--", "...", ";"])
# characters that end a line for Java's readLine / the PTB tokenizer but not for Python's '\n' join
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\f\v\x1c\x1d\x1e\x85]")
_WS = re.compile(r"\s+")

# METEOR 1.5 default parameters for English ('-l en', task 'default'): alpha, beta, gamma, delta, weights
METEOR_ALPHA, METEOR_BETA, METEOR_GAMMA, METEOR_DELTA = 0.85, 0.2, 0.6, 0.75
METEOR_WEIGHTS = (1.0, 0.6, 0.8, 0.6)


def pycoco_dir() -> Path:
    import pycocoevalcap
    return Path(pycocoevalcap.__path__[0])


def java_path() -> str:
    java = shutil.which("java")
    if not java:
        raise DependencyError(f"java not found. {JAVA_HELP}")
    return java


# --------------------------------------------------------------------------------- tokenization
def ptb_tokenize(texts: Sequence[str], *, timeout: float = 600) -> list[str]:
    """pycocoevalcap's PTBTokenizer on a flat list, safe for any line break and run outside site-packages.

    Equals ``PTBTokenizer().tokenize`` on texts without ``\\r``/U+2028/U+2029/form feeds (which make
    the original lose line alignment); those are replaced by spaces here first.
    """
    if not texts:
        return []
    java = java_path()
    jar = pycoco_dir() / "tokenizer" / "stanford-corenlp-3.4.1.jar"
    lines = [_LINE_BREAKS.sub(" ", t) for t in texts]
    with tempfile.TemporaryDirectory(prefix="cxrgen-ptb-") as tmp:
        src = Path(tmp) / "sentences.txt"
        src.write_text("\n".join(lines), encoding="utf-8")
        cmd = [java, "-Duser.language=en", "-Duser.country=US", "-Dfile.encoding=UTF-8", "-cp", str(jar),
               "edu.stanford.nlp.process.PTBTokenizer", "-preserveLines", "-lowerCase", src.name]
        try:
            out = subprocess.run(cmd, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 timeout=timeout, check=True).stdout.decode("utf-8")
        except subprocess.TimeoutExpired:
            raise CxrgenError(f"PTB tokenizer did not finish within {timeout:.0f} s") from None
        except subprocess.CalledProcessError as e:
            msg = e.stderr.decode("utf-8", "replace").strip().splitlines()
            raise CxrgenError(f"PTB tokenizer failed ({msg[-1] if msg else e.returncode})") from None
    got = out.split("\n")
    if len(got) < len(lines):
        raise CxrgenError(f"PTB tokenizer returned {len(got)} lines for {len(lines)} texts")
    return [" ".join(w for w in line.rstrip().split(" ") if w not in PTB_PUNCT) for line in got[:len(lines)]]


def meteor_clean(text: str) -> str:
    """What METEOR's line protocol can carry: no line breaks (any whitespace run → one space), no ``|||``."""
    return _WS.sub(" ", text.replace("|||", ""))


# --------------------------------------------------------------------------------- METEOR
class Meteor:
    """One long-lived METEOR 1.5 JVM (the jar and paraphrase table shipped in pycocoevalcap).

    ``score(hyps, refs)`` returns (corpus score, per-segment scores, per-segment stats as an (N, 23)
    array). Thread-safe; a watchdog kills the JVM when a call exceeds ``timeout`` seconds (+50 ms per report).
    """

    N_STATS = 23

    def __init__(self, *, timeout: float = 900, memory: str = "2G"):
        java = java_path()
        folder = pycoco_dir() / "meteor"
        jar = folder / "meteor-1.5.jar"
        if not (folder / "data" / "paraphrase-en.gz").is_file():
            raise DependencyError(f"{folder}/data/paraphrase-en.gz is missing; reinstall with "
                                  "`pip install --force-reinstall --no-deps pycocoevalcap==1.2`")
        self.timeout = timeout
        self._timed_out = False
        self._lock = threading.Lock()
        self._stderr = tempfile.TemporaryFile()
        env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")
        self.cmd = [java, "-Duser.language=en", "-Duser.country=US", "-Dfile.encoding=UTF-8", f"-Xmx{memory}",
                    "-jar", str(jar), "-", "-", "-stdio", "-l", "en", "-norm"]
        self._p = subprocess.Popen(self.cmd, cwd=folder, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=self._stderr, env=env)

    def _kill_on_timeout(self) -> None:
        self._timed_out = True
        self._p.kill()

    def _readline(self) -> str:
        line = self._p.stdout.readline()
        if not line:
            if self._timed_out:
                raise CxrgenError(f"METEOR did not answer within {self.timeout:g} s (+50 ms per report) and was stopped; "
                                  "score fewer reports at a time or raise the timeout")
            self._stderr.seek(0)
            tail = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
            why = tail[-1] if tail else f"exit code {self._p.poll()}"
            raise CxrgenError(f"METEOR stopped ({why}); more memory may help (it needs about 1.3 GB)")
        return line.decode("utf-8").strip()

    def _write(self, line: str) -> None:
        try:
            self._p.stdin.write(line.encode("utf-8") + b"\n")
            self._p.stdin.flush()
        except (BrokenPipeError, OSError):
            self._readline()  # raises with the JVM's last message
            raise

    def score(self, hyps: Sequence[str], refs: Sequence[Sequence[str]],
              advance=None) -> tuple[float, list[float], np.ndarray]:
        if len(hyps) != len(refs):
            raise ValueError("hyps and refs differ in length")
        if not hyps:
            return 0.0, [], np.zeros((0, self.N_STATS))
        with self._lock:
            if self._timed_out or self._p.poll() is not None:
                raise CxrgenError("METEOR is not running (closed, crashed or timed out); create a new scorer")
            timer = threading.Timer(self.timeout + 0.05 * len(hyps), self._kill_on_timeout)  # grows with the set
            timer.start()
            try:
                stats = []
                for i, (hyp, rs) in enumerate(zip(hyps, refs), 1):
                    self._write(" ||| ".join(["SCORE", *(meteor_clean(r) for r in rs), meteor_clean(hyp)]))
                    stats.append(self._readline())
                    if advance is not None and i % 100 == 0:
                        advance(100)
                self._write("EVAL ||| " + " ||| ".join(stats))
                seg = [float(self._readline()) for _ in hyps]
                total = float(self._readline())
            except ValueError:
                self.close()
                raise CxrgenError("METEOR replied out of protocol; this is a bug, please report it") from None
            finally:
                timer.cancel()
        arr = np.array([[float(x) for x in s.split()] for s in stats], dtype=np.float64)
        if arr.shape[1] != self.N_STATS:
            raise CxrgenError(f"METEOR returned {arr.shape[1]} statistics per segment, expected {self.N_STATS}")
        return total, seg, arr

    def close(self) -> None:
        p = getattr(self, "_p", None)
        if p is None:
            return
        try:
            if p.stdin:
                p.stdin.close()
        except OSError:
            pass
        if p.poll() is None:
            p.kill()
        p.wait()
        self._stderr.close()
        self._p = None

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass


_SHARED: Meteor | None = None
_SHARED_LOCK = threading.Lock()


def shared_meteor() -> Meteor:
    """The process-wide METEOR JVM (started once: ~10-20 s and ~1.3 GB)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None or _SHARED._p is None or _SHARED._timed_out or _SHARED._p.poll() is not None:
            _SHARED = Meteor()
            import atexit
            atexit.register(_SHARED.close)
        return _SHARED


def meteor_from_stats(s: np.ndarray) -> np.ndarray:
    """METEOR 1.5 score from (…, 23) statistics, vectorised over leading axes.

    For a corpus, sum the statistics first, with each *perfect* segment's chunks left out (see
    :func:`meteor_chunk_column`); this is what the jar's EVAL does.
    """
    s = np.asarray(s, dtype=np.float64)
    d = METEOR_DELTA
    t_len, r_len, t_fun, r_fun = s[..., 0], s[..., 1], s[..., 2], s[..., 3]
    t_w = np.zeros(s.shape[:-1])
    r_w = np.zeros(s.shape[:-1])
    for i, w in enumerate(METEOR_WEIGHTS):
        tc, rc, tf, rf = (s[..., 4 + 4 * i + j] for j in range(4))
        t_w = t_w + w * (d * tc + (1 - d) * tf)
        r_w = r_w + w * (d * rc + (1 - d) * rf)
    t_len_w = d * (t_len - t_fun) + (1 - d) * t_fun
    r_len_w = d * (r_len - r_fun) + (1 - d) * r_fun
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(t_len_w > 0, t_w / t_len_w, 0.0)
        r = np.where(r_len_w > 0, r_w / r_len_w, 0.0)
        f = np.where((p > 0) & (r > 0), p * r / (METEOR_ALPHA * p + (1 - METEOR_ALPHA) * r), 0.0)
        chunks, tm, rm = s[..., 20], s[..., 21], s[..., 22]
        avg = (tm + rm) / 2.0
        frag = np.where(avg > 0, chunks / avg, 0.0)
    pen = METEOR_GAMMA * np.power(frag, METEOR_BETA)
    return np.where(f > 0, f * (1.0 - pen), 0.0)


def meteor_chunk_column(stats: np.ndarray) -> np.ndarray:
    """Per-segment statistics for summing: a perfect segment (every word matched in one chunk) adds no chunks."""
    s = np.array(stats, dtype=np.float64, copy=True)
    if len(s):
        total_t = s[:, [4, 6, 8, 10, 12, 14, 16, 18]].sum(axis=1)
        total_r = s[:, [5, 7, 9, 11, 13, 15, 17, 19]].sum(axis=1)
        perfect = (total_t == s[:, 0]) & (total_r == s[:, 1]) & (s[:, 20] == 1)
        s[perfect, 20] = 0.0
    return s


# --------------------------------------------------------------------------------- BLEU
def bleu_stats(hyps: Sequence[str], refs: Sequence[Sequence[str]], n: int = 4) -> np.ndarray:
    """Per report ``[testlen, closest reflen, guess_1..n, correct_1..n]`` (pycocoevalcap's cook functions)."""
    from pycocoevalcap.bleu.bleu_scorer import cook_refs, cook_test
    out = np.zeros((len(hyps), 2 + 2 * n), dtype=np.float64)
    for i, (h, rs) in enumerate(zip(hyps, refs)):
        c = cook_test(h, cook_refs(rs, n=n), n=n)
        testlen = c["testlen"]
        reflen = min((abs(ln - testlen), ln) for ln in c["reflen"])[1]
        out[i, 0], out[i, 1] = testlen, reflen
        out[i, 2:2 + n] = c["guess"]
        out[i, 2 + n:] = c["correct"]
    return out


def bleu_from_totals(tot: Sequence[float], n: int = 4) -> list[float]:
    """Corpus BLEU-1..n from summed statistics, with pycocoevalcap's exact formula and constants."""
    small, tiny = 1e-9, 1e-15
    testlen, reflen = float(tot[0]), float(tot[1])
    guess, correct = tot[2:2 + n], tot[2 + n:2 + 2 * n]
    out, b = [], 1.0
    for k in range(n):
        b *= float(correct[k] + tiny) / (guess[k] + small)
        out.append(b ** (1.0 / (k + 1)))
    ratio = (testlen + tiny) / (reflen + small)
    if ratio < 1:
        for k in range(n):
            out[k] *= math.exp(1 - 1 / ratio)
    return out


def bleu_from_totals_vec(tot: np.ndarray, n: int = 4) -> np.ndarray:
    """Vectorised :func:`bleu_from_totals` for (B, 2+2n) totals → (B, n)."""
    small, tiny = 1e-9, 1e-15
    tot = np.asarray(tot, dtype=np.float64)
    prec = (tot[:, 2 + n:2 + 2 * n] + tiny) / (tot[:, 2:2 + n] + small)
    cum = np.cumprod(prec, axis=1)
    out = cum ** (1.0 / np.arange(1, n + 1))
    ratio = (tot[:, 0] + tiny) / (tot[:, 1] + small)
    with np.errstate(divide="ignore", over="ignore"):
        bp = np.where(ratio < 1, np.exp(1 - 1 / ratio), 1.0)
    return out * bp[:, None]


# --------------------------------------------------------------------------------- all together
@dataclass
class NlgResult:
    """Corpus values plus what the bootstrap needs: per-report statistics and values."""
    scores: dict[str, float] = field(default_factory=dict)
    per_sample: dict[str, np.ndarray] = field(default_factory=dict)   # rouge_l, cider, meteor, bleu_4
    bleu: np.ndarray | None = None       # (N, 10) sufficient statistics
    meteor: np.ndarray | None = None     # (N, 23) statistics, perfect segments' chunks zeroed
    timings: dict[str, float] = field(default_factory=dict)


def expand_groups(metrics: Sequence[str]) -> list[str]:
    """Metric names or groups (bleu, meteor, rouge_l, cider, bleu_4 …) → NLG keys in canonical order."""
    want = set()
    for m in metrics:
        if m in GROUPS:
            want.update(GROUPS[m])
        elif m in NLG_KEYS:
            want.update(GROUPS["bleu"] if m.startswith("bleu") else (m,))
    return [k for k in NLG_KEYS if k in want]


def compute_nlg(hyps: Sequence[str], refs: Sequence[str], *, metrics: Sequence[str] = NLG_KEYS,
                tokenize: str = "none", meteor: Meteor | None = None) -> NlgResult:
    """Score ``hyps`` against one reference each. ``metrics``: keys or groups (bleu, meteor, rouge_l, cider)."""
    import time
    if tokenize not in TOKENIZE:
        raise InputError(f"tokenize {tokenize!r}: choose one of {', '.join(TOKENIZE)}")
    if len(hyps) != len(refs):
        raise ValueError("hyps and refs differ in length")
    keys = expand_groups(metrics)
    res = NlgResult()
    t0 = time.perf_counter()
    # start the METEOR JVM first: it loads its paraphrase table (~10-20 s) while Python computes the rest
    m = (meteor or shared_meteor()) if "meteor" in keys and hyps else None
    if tokenize == "ptb":
        both = ptb_tokenize(list(refs) + list(hyps))
        refs, hyps = both[:len(refs)], both[len(refs):]
        res.timings["ptb"] = time.perf_counter() - t0
    refs_l = [[r] for r in refs]
    n = len(hyps)
    if any(k.startswith("bleu") for k in keys):
        t = time.perf_counter()
        res.bleu = bleu_stats(hyps, refs_l)
        b = bleu_from_totals(res.bleu.sum(axis=0).tolist()) if n else [0.0] * 4
        for k in range(4):
            res.scores[f"bleu_{k + 1}"] = float(b[k])
        res.timings["bleu"] = time.perf_counter() - t
    if "rouge_l" in keys:
        from pycocoevalcap.rouge.rouge import Rouge
        t = time.perf_counter()
        r = Rouge()
        vals = np.array([r.calc_score([h], rs) for h, rs in zip(hyps, refs_l)], dtype=np.float64)
        res.per_sample["rouge_l"] = vals
        res.scores["rouge_l"] = float(np.mean(vals)) if n else 0.0
        res.timings["rouge_l"] = time.perf_counter() - t
    if "cider" in keys:
        from pycocoevalcap.cider.cider_scorer import CiderScorer
        t = time.perf_counter()
        cs = CiderScorer(n=4, sigma=6.0)
        for h, rs in zip(hyps, refs_l):
            cs += (h, rs)
        if n:
            score, scores = cs.compute_score()
            res.per_sample["cider"] = np.asarray(scores, dtype=np.float64)
            res.scores["cider"] = float(score)
        else:
            res.per_sample["cider"], res.scores["cider"] = np.zeros(0), 0.0
        res.timings["cider"] = time.perf_counter() - t
    if "meteor" in keys and n:
        t = time.perf_counter()
        from cxrgen.utils.progress import progress
        with progress("METEOR", total=n, unit="report") as bar:
            total, seg, stats = (m or meteor or shared_meteor()).score(hyps, refs_l, advance=bar.advance)
        res.scores["meteor"] = float(total)
        res.per_sample["meteor"] = np.array(seg, dtype=np.float64)
        res.meteor = meteor_chunk_column(stats)
        res.timings["meteor"] = time.perf_counter() - t
    elif "meteor" in keys:
        res.scores["meteor"], res.per_sample["meteor"], res.meteor = 0.0, np.zeros(0), np.zeros((0, Meteor.N_STATS))
    res.scores = {k: res.scores[k] for k in NLG_KEYS if k in res.scores and k in keys}
    return res
