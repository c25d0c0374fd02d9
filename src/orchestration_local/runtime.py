"""The embedded runtime: moto + the template's tables and functions + the API Gateway emulation."""

from __future__ import annotations

import gc
import json
import os
import re
import secrets
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from orchestration_local import aws, durability
from orchestration_local.gateway import Gateway
from orchestration_local.lambdas import ACCOUNT, REGION, Functions
from orchestration_local.template import Template, load_template

DEV_TENANT = "default"
TASK_FUNCTION_PREFIX = "orchestration-task-"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", name)[:60]


def find_template(start: Path | None = None) -> Path:
    """template.yaml of this checkout (the package lives in it), else of the working directory."""
    candidates = [Path(__file__).resolve().parents[2], *(p for p in [start or Path.cwd()])]
    for base in candidates:
        if (base / "template.yaml").exists():
            return base / "template.yaml"
    raise FileNotFoundError("template.yaml not found: run from the repository root or pass --template")


def local_names(template: Template) -> dict[str, str]:
    """Local physical names for the template's resources (what !Ref / !GetAtt resolve to)."""
    names: dict[str, str] = {}
    for logical_id in template.tables:
        physical = f"orchestration-{logical_id}"
        names[logical_id] = physical
        names[f"{logical_id}.Arn"] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{physical}"
    for logical_id in template.roles:
        names[logical_id] = logical_id
        names[f"{logical_id}.Arn"] = f"arn:aws:iam::{ACCOUNT}:role/{logical_id}"
    for logical_id in template.functions:
        names[logical_id] = logical_id
        names[f"{logical_id}.Arn"] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical_id}"
    return names


class Runtime:
    def __init__(
        self,
        data_dir: Path,
        template_path: Path | None = None,
        persist: bool = True,
        tasks: dict[str, Callable[[dict[str, Any]], Any]] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.template = load_template(template_path or find_template())
        self.names = local_names(self.template)
        os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        self.mock = aws.start_moto()
        aws.create_tables(self.template.tables, self.names)
        self.store: durability.Store | None = None
        self.load_report: durability.LoadReport | None = None
        if persist:
            data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(data_dir, 0o700)
            # Raises durability.StoreCorrupt for a damaged file (`orchestration repair` fixes it).
            self.store, self.load_report = aws.open_store(data_dir / "dynamodb")
            # What was loaded lives as long as the process: keep it out of the collector's
            # full passes (measured: 250-420 ms pauses with 10,000 workflows stored).
            gc.freeze()
        # Custom task types from --tasks: each becomes a Lambda function Step Functions invokes.
        custom = {name: f"{TASK_FUNCTION_PREFIX}{_safe(name)}" for name in (tasks or {})}
        self.template.parameters["TaskTypes"] = json.dumps(custom)
        self.functions = Functions(self.template, self.names)
        self.functions.load_all()
        for logical_id in self.template.functions:
            aws.register_lambda(logical_id, partial(self.functions.invoke, logical_id))
        for name, fn in (tasks or {}).items():
            aws.register_lambda(custom[name], fn)
        aws.create_lambda_functions([*self.template.functions, *custom.values()])
        self.gateway = Gateway(self.template, self.functions)

    # -- keys -----------------------------------------------------------------------------------
    def key_store(self) -> Any:
        from orchestration_core.services import key_store

        return key_store()

    def ensure_dev_key(self, api_key: str | None) -> str:
        """The key to print: the one given, else the one this data directory already has, else a new one."""
        key_file = self.data_dir / "dev-api-key"
        if api_key is None and key_file.exists():
            api_key = key_file.read_text().strip()
        if api_key is None:
            api_key, _ = self.key_store().create(DEV_TENANT, "embedded runtime default key")
        else:
            self.key_store().add(api_key, DEV_TENANT, "embedded runtime default key")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _write_private(key_file, api_key)
        return api_key

    def admin_token(self) -> str:
        """A secret for the local key-management endpoints, readable only by this user."""
        path = self.data_dir / "admin-token"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            _write_private(path, secrets.token_urlsafe(32))
        return path.read_text().strip()

    def persistence(self) -> dict[str, Any]:
        """Whether writes are being kept: what GET /health and the start-up banner show."""
        if self.store is None:
            return {"mode": "off", "ok": True, "error": None}
        return self.store.status()

    def close(self) -> bool:
        """Stop; with persistence, a final snapshot. True if everything stored is on disk."""
        saved = True
        if self.store:
            saved = self.store.close()
            aws.attach_store(None)
        self.mock.stop()
        return saved


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text + "\n")
