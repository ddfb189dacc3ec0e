import json
import subprocess
import sys

from tests.conftest import run_cli

HEAVY = ("torch", "transformers", "h5py", "timm")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_help_and_completion_do_not_import_heavy_libraries():
    mods = _modules_after("from cxrgen.cli.app import main\nimport contextlib, io\n"
                          "with contextlib.redirect_stdout(io.StringIO()):\n    main(['--help'])\n"
                          "    main(['train', '--help'])\n    main(['list', 'encoders'])")
    assert not [m for m in HEAVY if m in mods]
    import os
    env = dict(os.environ, _CXRGEN_COMPLETE="complete_bash", COMP_WORDS="cxrgen pre", COMP_CWORD="1")
    code = ("import sys\nfrom cxrgen.cli.app import app\n"
            "try:\n    app(prog_name='cxrgen')\nexcept SystemExit:\n    pass\n"
            "import json; print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert "prepare" in out.stdout
    mods = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert not [m for m in HEAVY if m in mods]


def test_every_command_help_has_an_example():
    from cxrgen.cli.app import app
    import typer.main
    cmd = typer.main.get_command(app)

    def walk(c, path):
        if hasattr(c, "commands"):
            for name, sub in c.commands.items():
                yield from walk(sub, path + [name])
        else:
            yield path, c
    seen = 0
    for path, c in walk(cmd, []):
        r = run_cli(*path, "--help")
        assert r.code == 0, path
        assert "Example: cxrgen" in r.out.replace("\n", " ") or "Example:" in r.out, f"{path} --help lacks an example"
        seen += 1
    assert seen >= 12


def test_status_on_empty_workspace(cli):
    r = cli("status", "--json")
    assert r.code == 0 and json.loads(r.out)["artifacts"] == []
    assert cli("status", "--quiet").code == 0


def test_list_registries(cli):
    r = cli("list", "modes", "--json")
    names = [x["name"] for x in json.loads(r.out)]
    assert names == ["prefix", "finetune", "shallow", "delta", "deep", "qlora", "dual", "dual-vit", "lm"]
    r = cli("list", "llmz")
    assert r.code == 2 and "No such command 'llmz'" in r.err
    r = cli("list", "labelers", "--json")
    assert [x["name"] for x in json.loads(r.out)] == ["rules", "chexbert"]


def test_user_error_is_one_line_without_traceback(cli, tmp_path):
    r = cli("prepare", "iu", "--reports", str(tmp_path / "nope.tgz"), "seed=1", "bogus=2")
    assert r.code == 2
    assert r.err.startswith("error: ") and "Traceback" not in r.err and r.err.count("\n") == 1


def test_workspace_option_works_after_the_command_too(tmp_path):
    """`cxrgen status --workspace X` (as `cxrgen demo --help`'s example wrote it) means `cxrgen --workspace X status`."""
    from cxrgen.cli.app import hoist_workspace
    assert hoist_workspace(["status", "--workspace", "W"]) == ["--workspace", "W", "status"]
    assert hoist_workspace(["-v", "prepare", "synthetic", "-w", "W", "--n", "4"]) == \
        ["-v", "-w", "W", "prepare", "synthetic", "--n", "4"]
    assert hoist_workspace(["score", "p.jsonl", "--workspace=W"]) == ["--workspace=W", "score", "p.jsonl"]
    assert hoist_workspace(["-w", "A", "status", "--json"]) == ["-w", "A", "status", "--json"]
    assert hoist_workspace(["train", "--", "-w", "x"]) == ["train", "--", "-w", "x"]   # after `--`: not ours
    assert hoist_workspace(["--help"]) == ["--help"] and hoist_workspace([]) == []
    ws = tmp_path / "after"
    r = run_cli("prepare", "synthetic", "--n", "12", "--workspace", str(ws))
    assert r.code == 0, r.err
    assert (ws / "prepare" / "synthetic" / "records.jsonl").read_text().count("\n") == 12
    r = run_cli("status", "--json", "-w", str(ws))
    assert r.code == 0 and [a["name"] for a in json.loads(r.out)["artifacts"]] == ["prepare/synthetic"]


def test_list_alone_lists_every_registry():
    r = run_cli("list", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert sorted(doc) == ["datasets", "encoders", "labelers", "llms", "modes"]
    assert [m["name"] for m in doc["modes"]] == [m["name"] for m in json.loads(run_cli("list", "modes", "--json").out)]
    text = run_cli("list")
    assert text.code == 0 and all(t in text.out for t in ("encoders", "llms", "modes", "datasets", "labelers"))

