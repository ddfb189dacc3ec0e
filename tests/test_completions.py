import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_completions_are_current():
    r = subprocess.run([sys.executable, str(REPO / "scripts/gen_completions.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def _bash_complete(*words: str) -> list[str]:
    script = (f"source {REPO / 'completions/cxrgen.bash'}; COMP_WORDS=({' '.join(words)}); "
              f"COMP_CWORD={len(words) - 1}; _cxrgen; echo \"${{COMPREPLY[@]}}\"")
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout.split()


def test_bash_completion_walks_the_command_tree():
    assert _bash_complete("cxrgen", "prepare", "") [:3] == ["iu", "mimic", "synthetic"]
    assert _bash_complete("cxrgen", "prepare", "synthetic", "--se") == ["--sections", "--seed"]
    assert "--json" in _bash_complete("cxrgen", "status", "--")
