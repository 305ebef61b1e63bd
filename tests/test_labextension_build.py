"""The JupyterLab extension: built, installed where JupyterLab looks, and its own unit tests.

The extension's TypeScript lives in labextension/; `pip install` (and `pip install -e`, which
`./dev setup` runs) builds it through the hatch-jupyter-builder hook into
memories_magics/labextension, and the wheel ships that directory as
share/jupyter/labextensions/memories-magics.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "labextension"
BUILT = ROOT / "memories_magics" / "labextension"
INSTALLED = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "memories-magics"
NAME = "memories-magics"


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def test_package_and_pyproject_agree() -> None:
    package = _json(SOURCE / "package.json")
    assert package["name"] == NAME
    assert (SOURCE / package["jupyterlab"]["outputDir"]).resolve() == BUILT
    assert (SOURCE / "package-lock.json").exists(), "commit the lockfile"
    install = _json(SOURCE / "install.json")
    assert install["packageName"] == "memories_magics"
    if tomllib is None:
        pytest.skip("tomllib needs Python 3.11")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    shared = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["shared-data"]
    assert shared["memories_magics/labextension"] == f"share/jupyter/labextensions/{NAME}"
    assert shared["labextension/install.json"] == f"share/jupyter/labextensions/{NAME}/install.json"
    hook = pyproject["tool"]["hatch"]["build"]["hooks"]["jupyter-builder"]
    assert hook["build-kwargs"]["path"] == "labextension"
    assert hook["editable-build-kwargs"]["build_dir"] == "memories_magics/labextension"


def test_every_package_the_source_imports_is_declared() -> None:
    """Each package labextension/src imports is in package.json's dependencies (one present
    only as another's dependency can change or vanish under us), and so in the lockfile."""
    package = _json(SOURCE / "package.json")
    imported = set()
    for path in (SOURCE / "src").glob("*.ts"):  # the extension, not its tests
        for spec in re.findall(r"""(?:\bfrom|^import)\s+['"]([^'"]+)['"]""", path.read_text(),
                               re.MULTILINE):
            if not spec.startswith("."):
                imported.add("/".join(spec.split("/")[:2 if spec.startswith("@") else 1]))
    assert "@jupyterlab/services" in imported
    assert imported <= set(package["dependencies"]), imported - set(package["dependencies"])
    lock = _json(SOURCE / "package-lock.json")
    assert lock["packages"][""]["dependencies"] == package["dependencies"], "npm install"


def test_built_extension_is_installed_and_current() -> None:
    if not (BUILT / "package.json").exists():
        pytest.fail("memories_magics/labextension is missing: run ./dev setup "
                    "(pip install -e . builds it; needs node and npm)")
    built = _json(BUILT / "package.json")
    assert (BUILT / built["jupyterlab"]["_build"]["load"]).exists()
    assert (BUILT / "schemas" / NAME / "plugin.json").exists()
    assert INSTALLED.exists(), f"{INSTALLED} is missing: run ./dev setup"
    installed = _json(INSTALLED / "package.json")
    assert installed["jupyterlab"]["_build"] == built["jupyterlab"]["_build"], (
        "the installed extension is older than memories_magics/labextension: run ./dev setup")
    assert (INSTALLED / "install.json").exists()


def test_jupyterlab_lists_the_extension() -> None:
    jupyter = Path(sys.executable).with_name("jupyter")
    if not jupyter.exists():
        pytest.skip("no jupyter command in this environment")
    listing = subprocess.run([str(jupyter), "labextension", "list"], capture_output=True,
                             text=True, timeout=60)
    text = re.sub(r"\x1b\[[0-9;]*m", "", listing.stdout + listing.stderr)
    line = next((ln for ln in text.splitlines() if NAME in ln), "")
    assert re.search(rf"{NAME} v\S+ enabled OK", line), text


def test_typescript_unit_tests() -> None:
    """The extension's vitest suite (sanitising, diff, renderers, commands)."""
    npm = shutil.which("npm")
    if npm is None or not (SOURCE / "node_modules" / ".bin" / "vitest").exists():
        pytest.skip("labextension/node_modules is missing (the build installs it; "
                    "or run npm ci in labextension/)")
    env = {**os.environ, "CI": "true", "NO_COLOR": "1"}
    env.pop("FORCE_COLOR", None)
    run = subprocess.run([npm, "test", "--silent"], cwd=SOURCE, capture_output=True, text=True,
                         timeout=240, env=env)
    output = re.sub(r"\x1b\[[0-9;]*m", "", run.stdout + run.stderr)
    assert run.returncode == 0, output[-6000:]
    assert re.search(r"Tests\s+\d+ passed", output), output[-2000:]
