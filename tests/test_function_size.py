"""The layering rule the contributors rely on: no function over 80 lines in stages/ and models/, and
the two orchestration functions that grew before (train's ``_train``, ``generate.run``) under 60."""

from __future__ import annotations

import ast
from pathlib import Path

import cxrgen

PKG = Path(cxrgen.__file__).parent


def _functions(folder: str):
    for path in sorted((PKG / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield f"{path.relative_to(PKG)}:{node.name}", node.end_lineno - node.lineno + 1


def test_no_function_over_80_lines_in_stages_and_models():
    sizes = dict(f for folder in ("stages", "models") for f in _functions(folder))
    assert len(sizes) > 100   # the walk found the code
    assert {name: n for name, n in sizes.items() if n > 80} == {}


def test_train_and_generate_orchestration_under_60_lines():
    sizes = dict(_functions("stages"))
    assert sizes["stages/train.py:_train"] < 60
    assert sizes["stages/generate.py:run"] < 60
