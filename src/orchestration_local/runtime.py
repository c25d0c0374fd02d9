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

from orchestration_core.tasktypes.netguard import ALLOWED_CIDRS_ENV, LOCAL_ALLOWED_CIDRS

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
        # http tasks may reach this machine's loopback (refused on AWS) unless the developer set
        # the allow-list: kept over whatever the template's environment says.
        allowed = os.environ.get(ALLOWED_CIDRS_ENV, LOCAL_ALLOWED_CIDRS)
        self.functions = Functions(self.template, self.names)
        os.environ[ALLOWED_CIDRS_ENV] = allowed
        self.functions.load_all()
        for logical_id in self.template.functions:
            aws.register_lambda(logical_id, partial(self.functions.invoke, logical_id))
        for name, fn in (tasks or {}).items():
            aws.register_lambda(custom[name], fn)
        aws.create_lambda_functions([*self.template.functions, *custom.values()])
        self.gateway = Gateway(self.template, self.functions)
        # Step Functions lives in this process's memory: every execution that was pending or
        # running at the last stop (or crash) is launched again where it was. This also builds
        # the core's per-process service objects (services.table(), engine()) from every
        # function's variables merged, before any invocation could build them from its own.
        self.resumed = self.resume_executions()

    def resume_executions(self) -> list[str]:
        from orchestration_core.executions.usecases import resume_stranded
        from orchestration_core.services import execution_services

        return resume_stranded(execution_services())

    # -- keys -----------------------------------------------------------------------------------
    def key_store(self) -> Any:
        from orchestration_core.services import key_store

        return key_store()

    def ensure_dev_key(self, api_key: str | None) -> str:
        """The key to print: the one given, else the one this data directory already has, else a new one.

        A revoked key is never revived and a key never moves between tenants: a given key that
        is revoked or belongs to another tenant raises ValueError (the message says which); a
        kept key that was revoked is replaced by a new one, and ``dev_key_notice`` says so.
        """
        store = self.key_store()
        key_file = self.data_dir / "dev-api-key"
        name = "embedded runtime default key"
        self.dev_key_notice: str | None = None
        if api_key is not None:
            found = store.find(api_key)
            if found is not None and found.revoked_at:
                raise ValueError(f"--api-key: that key ({found.key_id}) was revoked; it cannot be used again")
            if found is not None and found.tenant_id != DEV_TENANT:
                raise ValueError(
                    f"--api-key: that key ({found.key_id}) belongs to tenant '{found.tenant_id}', "
                    f"not '{DEV_TENANT}'"
                )
            if found is None:
                store.add(api_key, DEV_TENANT, name)
        else:
            kept = key_file.read_text().strip() if key_file.exists() else None
            found = store.find(kept) if kept else None
            if kept and found is None:
                store.add(kept, DEV_TENANT, name)  # its record is gone (new store): keep using it
                api_key = kept
            elif kept and found is not None and not found.revoked_at and found.tenant_id == DEV_TENANT:
                api_key = kept
            else:
                if found is not None:
                    why = "was revoked" if found.revoked_at else f"belongs to tenant '{found.tenant_id}'"
                    self.dev_key_notice = f"The kept API key ({found.key_id}) {why}: made a new one."
                api_key, _ = store.create(DEV_TENANT, name)
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
