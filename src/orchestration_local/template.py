"""Read what the embedded runtime needs from template.yaml: functions, routes, authorizer,
gateway responses and tables. CloudFormation tags (!Ref, !GetAtt, !Sub ...) are kept as
their long-form dicts and resolved against the local names given by the caller."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

# What AWS's pseudo parameters resolve to here. The stack is called "orch", so the state
# machines keep the default "orch-" prefix (template.yaml sets STATE_MACHINE_PREFIX from it).
PSEUDO_PARAMETERS = {
    "AWS::StackName": "orch",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}


class _Loader(yaml.SafeLoader):  # type: ignore[misc,unused-ignore]
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(cast(yaml.MappingNode, node), deep=True)
    return {name: value}


_Loader.add_multi_constructor("!", _tag)


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway resource path, e.g. /workflows/{workflowId}
    function: str  # logical id
    public: bool = False  # the event's Auth.Authorizer is NONE: API Gateway calls no authorizer

    def pattern(self) -> re.Pattern[str]:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        return re.compile(f"^{regex}$")


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str
    environment: dict[str, Any]
    timeout: int
    memory: int


@dataclass(frozen=True)
class GatewayResponse:
    status: int | None
    headers: dict[str, str]
    body: str | None


@dataclass
class Template:
    root: Path
    parameters: dict[str, Any]
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    authorizer: str | None = None
    gateway_responses: dict[str, GatewayResponse] = field(default_factory=dict)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    roles: list[str] = field(default_factory=list)
    stage: str = "v1"
    # Functions with a `Type: Schedule` event: (logical id, expression such as "rate(1 minute)").
    schedules: list[tuple[str, str]] = field(default_factory=list)

    def resolve(self, value: Any, names: dict[str, str]) -> Any:
        """Resolve Ref / GetAtt / Sub to local values (``names``: logical id -> local name)."""
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                if arg in names:
                    return names[arg]
                if arg in self.parameters:
                    return self.parameters[arg]
                if arg in PSEUDO_PARAMETERS:
                    return PSEUDO_PARAMETERS[arg]
                raise KeyError(f"cannot resolve Ref {arg} locally")
            if key == "Fn::GetAtt":
                return names[f"{arg[0]}.{arg[1]}"]
            if key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                return re.sub(r"\$\{([^}]+)\}", lambda m: str(self.resolve({"Ref": m.group(1)}, names)), text)
        return value


def load_template(path: Path) -> Template:
    doc = yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    params = {k: v.get("Default") for k, v in (doc.get("Parameters") or {}).items()}
    tpl = Template(root=path.parent, parameters=params)
    tpl.stage = str(params.get("Stage") or "v1")
    glob = (doc.get("Globals") or {}).get("Function", {})
    glob_env = (glob.get("Environment") or {}).get("Variables", {})
    for logical_id, res in (doc.get("Resources") or {}).items():
        kind, props = res.get("Type"), res.get("Properties") or {}
        if kind == "AWS::Serverless::Function":
            tpl.functions[logical_id] = FunctionSpec(
                logical_id=logical_id,
                code_uri=path.parent / props["CodeUri"],
                handler=props["Handler"],
                environment={**glob_env, **(props.get("Environment") or {}).get("Variables", {})},
                timeout=int(props.get("Timeout", glob.get("Timeout", 3))),
                memory=int(props.get("MemorySize", glob.get("MemorySize", 128))),
            )
            for event in (props.get("Events") or {}).values():
                if event.get("Type") == "Api":
                    ep = event["Properties"]
                    public = (ep.get("Auth") or {}).get("Authorizer") == "NONE"
                    tpl.routes.append(Route(ep["Method"].upper(), ep["Path"], logical_id, public))
                elif event.get("Type") == "Schedule":
                    tpl.schedules.append((logical_id, str(event["Properties"]["Schedule"])))
        elif kind == "AWS::Serverless::Api":
            auth = props.get("Auth") or {}
            default = auth.get("DefaultAuthorizer")
            if default:
                arn = auth["Authorizers"][default]["FunctionArn"]
                tpl.authorizer = arn["Fn::GetAtt"][0]
            for name, spec in (props.get("GatewayResponses") or {}).items():
                headers = (spec.get("ResponseParameters") or {}).get("Headers") or {}
                tpl.gateway_responses[name] = GatewayResponse(
                    status=int(spec["StatusCode"]) if "StatusCode" in spec else None,
                    headers={k: str(v).strip("'") for k, v in headers.items()},
                    body=(spec.get("ResponseTemplates") or {}).get("application/json"),
                )
        elif kind == "AWS::IAM::Role":
            tpl.roles.append(logical_id)
        elif kind == "AWS::DynamoDB::Table":
            tpl.tables[logical_id] = props
    return tpl


def create_table_request(props: dict[str, Any], table_name: str) -> dict[str, Any]:
    """The CreateTable call for a table resource's properties (what DynamoDB itself would get)."""
    request: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    if props.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    return request
