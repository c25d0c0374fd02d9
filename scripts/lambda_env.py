"""A Lambda-like Python environment on this machine: the functions' Python, the layer as
``layers/core/Makefile`` builds it, and boto3 from a separate "runtime" venv, as on Lambda.

Used by ``bench/cold_imports.py`` (cold start of the built code) and ``scripts/verify_build.py``
(``sam build``, then every function run from its built artifact). Tools live under
``.venv/tools/`` (``$ORCHESTRATION_TOOLS_DIR`` overrides): ``make clean`` removes them.

A child started by :func:`child_command` sees only what a Lambda environment holds: the
function's directory, the layer's ``python/`` directory, then the runtime venv (boto3,
botocore) and the standard library; ``-I`` keeps out the working directory, ``PYTHON*``
variables and user site-packages, ``-B`` writes no bytecode (Lambda's code is read-only, so
only the bytecode that was shipped is used).
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAYER_SOURCE = REPO / "layers" / "core"
RUNTIME_REQUIREMENTS = REPO / "scripts" / "lambda-runtime-requirements.txt"
# The Python of the functions (template.yaml: Runtime python3.12).
LAMBDA_PYTHON_VERSION = "3.12"
SAM_CLI_VERSION = "1.170.0"


def tools_dir() -> Path:
    return Path(os.environ.get("ORCHESTRATION_TOOLS_DIR") or REPO / ".venv" / "tools")


def python_version(python: Path | str) -> str:
    out = subprocess.run(
        [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def find_python(version: str = LAMBDA_PYTHON_VERSION) -> Path | None:
    """The interpreter itself (never a pyenv shim: ``sam build`` cannot use those), or None.

    Looks at ``$LAMBDA_PYTHON``, then ``pythonX.Y`` on PATH, pyenv's versions, ``uv python
    find``, and the usual system locations.
    """
    candidates: list[str] = []
    if os.environ.get("LAMBDA_PYTHON"):
        candidates.append(os.environ["LAMBDA_PYTHON"])
    on_path = shutil.which(f"python{version}")
    if on_path and "/shims/" not in on_path:
        candidates.append(on_path)
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    pyenv = sorted(
        glob.glob(f"{pyenv_root}/versions/{version}*/bin/python{version}"),
        key=lambda p: [int(x) if x.isdigit() else 0 for x in re.split(r"[.-]", Path(p).parents[1].name)],
        reverse=True,
    )
    candidates.extend(pyenv)
    uv = shutil.which("uv")
    if uv:
        found = subprocess.run([uv, "python", "find", version], capture_output=True, text=True, check=False)
        if found.returncode == 0 and found.stdout.strip():
            candidates.append(found.stdout.strip())
    candidates.extend([f"/usr/local/bin/python{version}", f"/usr/bin/python{version}"])
    for candidate in candidates:
        path = Path(candidate)
        if path.is_file() and os.access(path, os.X_OK):
            try:
                if python_version(path) == version:
                    return path
            except (OSError, subprocess.CalledProcessError):
                continue
    return None


def _stamp_matches(stamp: Path, key: str) -> bool:
    return stamp.exists() and stamp.read_text() == key


def runtime_venv(python: Path) -> Path:
    """The python of a venv holding only boto3 (what Lambda's runtime provides); made once."""
    version = python_version(python)
    venv = tools_dir() / f"lambda-runtime-{version}"
    key = f"{python}\n{RUNTIME_REQUIREMENTS.read_text()}"
    stamp = venv / ".installed"
    if not _stamp_matches(stamp, key):
        install_venv(venv, python, ["-r", str(RUNTIME_REQUIREMENTS)])
        stamp.write_text(key)
    return venv / "bin" / "python"


def layer_key(python: Path) -> str:
    """Changes whenever the layer's build inputs do (sources, requirements, Makefile, Python)."""
    digest = hashlib.sha256(f"{python}\n{python_version(python)}\n".encode())
    for path in sorted(LAYER_SOURCE.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(LAYER_SOURCE)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def build_layer(python: Path, dest: Path | None = None) -> Path:
    """Run ``make build-CoreLayer`` (what ``sam build`` runs) into ``dest``; the layer's root.

    Without ``dest`` the build is kept under the tools directory and reused while its inputs
    are unchanged.
    """
    if dest is None:
        dest = tools_dir() / f"core-layer-{python_version(python)}"
    key = layer_key(python)
    stamp = dest / ".built"
    if _stamp_matches(stamp, key):
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    subprocess.run(
        ["make", "--no-print-directory", "-C", str(LAYER_SOURCE), "build-CoreLayer", f"PYTHON={python}"],
        env={**os.environ, "ARTIFACTS_DIR": str(dest)},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    stamp.write_text(key)
    return dest


def child_command(runtime_python: Path, code_dirs: list[Path], code: str) -> list[str]:
    """argv of a fresh interpreter whose sys.path starts with ``code_dirs`` (as Lambda's does)."""
    prelude = f"import sys; sys.path[0:0] = {[str(d) for d in code_dirs]!r}\n"
    return [str(runtime_python), "-I", "-B", "-c", prelude + code]


def uv() -> Path | None:
    """uv from PyPI, in its own tool venv (installs aws-sam-cli in seconds, not minutes), or None."""
    found = shutil.which("uv")
    if found:
        return Path(found)
    venv = tools_dir() / "uv"
    executable = venv / "bin" / "uv"
    if not executable.exists():
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            _pip_install(venv, ["uv"])
        except (OSError, subprocess.CalledProcessError):
            shutil.rmtree(venv, ignore_errors=True)
            return None
    return executable


def _pip_install(venv: Path, requirements: list[str]) -> None:
    """pip install ``requirements`` into the venv at ``venv``, quietly."""
    python = str(venv / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements], check=True
    )


def install_venv(venv: Path, python: Path | str, requirements: list[str]) -> None:
    """A fresh venv at ``venv`` for ``python`` holding ``requirements`` (uv when it can, else pip)."""
    shutil.rmtree(venv, ignore_errors=True)
    tool = uv()
    if tool is not None:
        try:
            subprocess.run([str(tool), "venv", "--quiet", "--python", str(python), str(venv)], check=True)
            subprocess.run(
                [
                    str(tool),
                    "pip",
                    "install",
                    "--quiet",
                    "--python",
                    str(venv / "bin" / "python"),
                    *requirements,
                ],
                check=True,
            )
            return
        except (OSError, subprocess.CalledProcessError):
            shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([str(python), "-m", "venv", str(venv)], check=True)
    _pip_install(venv, requirements)


def sam_cli() -> Path:
    """The ``sam`` executable of a tool venv holding aws-sam-cli at the pinned version; made once."""
    venv = tools_dir() / f"sam-{SAM_CLI_VERSION}"
    stamp = venv / ".installed"
    if not stamp.exists():
        install_venv(venv, sys.executable, [f"aws-sam-cli=={SAM_CLI_VERSION}"])
        stamp.write_text(SAM_CLI_VERSION)
    return venv / "bin" / "sam"
