"""`orchestration schedules create|get|pause|resume|trigger|backfill`: the schedules API from the
command line, with readable output (upcoming times in the schedule's zone and in UTC).

Every command prints what it did in words; ``--json`` prints the API's answer instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

ApiParser = Callable[[Any, str, str], argparse.ArgumentParser]
POLICIES = ("allow", "skip", "bufferOne")


def add_commands(schedules: Any, api_parser: ApiParser) -> None:
    """Add the schedule commands to the ``schedules`` sub-command group."""
    create = api_parser(schedules, "create", "put a workflow on a cron schedule")
    create.add_argument("workflow_id", help="the workflow to run")
    create.add_argument("cron", help='5-field cron or @daily etc., e.g. "30 2 * * MON-FRI"')
    create.add_argument("--timezone", default="UTC", help="IANA time zone (default UTC)")
    create.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a run parameter (VALUE read as JSON when it is JSON); repeat for more",
    )
    _policy_options(create)
    create.add_argument("--disabled", action="store_true", help="create it paused")
    _json_option(create)
    create.set_defaults(func=_create)

    get = api_parser(schedules, "get", "a schedule: next fire times (its zone and UTC), recent actions")
    get.add_argument("schedule_id", help="the schedule (sc_...)")
    _json_option(get)
    get.set_defaults(func=_get)

    for name, enabled, help_text in (("pause", False, "stop firing"), ("resume", True, "fire again")):
        cmd = api_parser(schedules, name, help_text)
        cmd.add_argument("schedule_id", help="the schedule (sc_...)")
        cmd.add_argument("--note", help="why (shown with the schedule; at most 256 characters)")
        _json_option(cmd)
        cmd.set_defaults(func=_toggle, enabled=enabled)

    trigger = api_parser(schedules, "trigger", "run a schedule now with its parameters")
    trigger.add_argument("schedule_id", help="the schedule (sc_...)")
    trigger.add_argument("--overlap-policy", choices=POLICIES, help="override the schedule's for this run")
    _json_option(trigger)
    trigger.set_defaults(func=_trigger)

    backfill = api_parser(schedules, "backfill", "one run per past cron slot in [START, END)")
    backfill.add_argument("schedule_id", help="the schedule (sc_...)")
    backfill.add_argument("--start", required=True, help="ISO 8601, e.g. 2026-11-01T00:00:00Z")
    backfill.add_argument("--end", required=True, help="ISO 8601, exclusive, not in the future")
    backfill.add_argument(
        "--overlap-policy",
        choices=POLICIES,
        default="allow",
        help="allow: every slot runs (default); skip/bufferOne: as the schedule's policy would",
    )
    _json_option(backfill)
    backfill.set_defaults(func=_backfill)


def _json_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the API's JSON answer")


def _policy_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--overlap-policy",
        choices=POLICIES,
        help="a fire while the previous run is going: allow (run), skip, or bufferOne (run after)",
    )
    p.add_argument("--catchup-window", type=int, metavar="SECONDS", help="60..31536000 (default 86400)")
    p.add_argument("--start-at", help="no fire before this ISO 8601 instant")
    p.add_argument("--end-at", help="no fire after this ISO 8601 instant")
    p.add_argument("--note", help="a note shown with the schedule (at most 256 characters)")


def _call(args: argparse.Namespace, method: str, path: str, body: Any = None) -> Any:
    from orchestration_local.client import ApiError, client_from

    try:
        return client_from(args.url, args.data_dir).call(method, path, body)
    except ApiError as err:
        text = str(err)
        print(text, file=sys.stderr)
        if isinstance(err.body, dict):
            for item in err.body.get("errors") or []:
                line = f"  {item['field']}: {item['message']}"
                if line not in text:
                    print(line, file=sys.stderr)
        raise SystemExit(1) from None


def _create(args: argparse.Namespace) -> int:
    from orchestration_local.client import parse_params

    body: dict[str, Any] = {
        "workflowId": args.workflow_id,
        "cronExpression": args.cron,
        "timezone": args.timezone,
        "parameters": parse_params(args.param),
        "enabled": not args.disabled,
    }
    for option, field in (
        ("overlap_policy", "overlapPolicy"),
        ("catchup_window", "catchupWindowSeconds"),
        ("start_at", "startAt"),
        ("end_at", "endAt"),
        ("note", "note"),
    ):
        if getattr(args, option) is not None:
            body[field] = getattr(args, option)
    return _show(args, _call(args, "POST", "/schedules", body))


def _get(args: argparse.Namespace) -> int:
    return _show(args, _call(args, "GET", f"/schedules/{args.schedule_id}"))


def _toggle(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"enabled": args.enabled}
    if args.note is not None:
        body["note"] = args.note
    return _show(args, _call(args, "PUT", f"/schedules/{args.schedule_id}", body))


def _trigger(args: argparse.Namespace) -> int:
    body = {"overlapPolicy": args.overlap_policy} if args.overlap_policy else {}
    done = _call(args, "POST", f"/schedules/{args.schedule_id}/trigger", body)
    if args.json:
        print(json.dumps(done, indent=2))
    elif done["status"] == "buffered":
        print(f"buffered {done['executionId']}: it starts when the schedule's running run ends")
    else:
        print(f"started {done['executionId']}")
    return 0


def _backfill(args: argparse.Namespace) -> int:
    body = {"startAt": args.start, "endAt": args.end, "overlapPolicy": args.overlap_policy}
    done = _call(args, "POST", f"/schedules/{args.schedule_id}/backfill", body)
    if args.json:
        print(json.dumps(done, indent=2))
        return 0
    print(f"{done['slots']} slots, {done['skipped']} skipped ({args.overlap_policy})")
    for slot, execution_id in zip(done["scheduledAt"], done["executionIds"], strict=True):
        print(f"  {slot}  {execution_id or 'skipped (overlap)'}")
    return 0


def _show(args: argparse.Namespace, sc: dict[str, Any]) -> int:
    if args.json:
        print(json.dumps(sc, indent=2))
        return 0
    print(describe(sc))
    return 0


def _local(instant: str, zone: ZoneInfo) -> str:
    moment = datetime.fromisoformat(instant.replace("Z", "+00:00")).astimezone(zone)
    return moment.strftime("%a %Y-%m-%d %H:%M %Z")


def describe(sc: dict[str, Any]) -> str:
    """A schedule as text: settings, the next fire times in its zone and in UTC, recent actions."""
    zone = ZoneInfo(sc["timezone"])
    state = "enabled" if sc["enabled"] else "paused"
    lines = [
        f"{sc['id']}  {state}  workflow {sc['workflowId']}",
        f"  cron           {sc['cronExpression']}  ({sc['timezone']})",
        f"  overlap        {sc['overlapPolicy']}   catch-up window {sc['catchupWindowSeconds']} s",
    ]
    if sc.get("startAt") or sc.get("endAt"):
        lines.append(f"  window         {sc.get('startAt') or '-'} .. {sc.get('endAt') or '-'}")
    if sc.get("note"):
        lines.append(f"  note           {sc['note']}")
    if sc.get("lastRunAt"):
        lines.append(f"  last run       {sc['lastRunAt']}  {sc.get('lastExecutionId') or ''}")
    if sc.get("lastError"):
        lines.append(f"  last error     {sc['lastError']['status']} {sc['lastError']['detail']}")
    upcoming = sc.get("upcomingRunTimes") or []
    if upcoming:
        lines.append("  upcoming       " + f"{sc['timezone']:<28} UTC")
        lines += [f"                 {_local(t, zone):<28} {t}" for t in upcoming]
    else:
        lines.append("  upcoming       none")
    actions = sc.get("recentActions") or []
    if actions:
        lines.append("  recent actions (newest first)")
        lines += [
            f"    {a['scheduledAt']}  {a['outcome']:<16} {a.get('executionId') or ''}".rstrip()
            for a in actions
        ]
    return "\n".join(lines)
