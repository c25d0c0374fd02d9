"""A local emulation of API Gateway's REST API (v1) proxy integration and TOKEN authorizer.

What it reproduces, because the handlers and clients depend on it: route matching by the
template's paths and methods, the TOKEN authorizer call and its IAM policy (context ->
``requestContext.authorizer``), the proxy event and response formats, and the template's
Gateway Responses for API Gateway's own errors (missing route, missing or refused key,
oversize body, failed integration).
"""

from __future__ import annotations

import base64
import fnmatch
import json
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

from orchestration_local.lambdas import ACCOUNT, REGION, Functions
from orchestration_local.template import Template

log = logging.getLogger("orchestration.gateway")

API_ID = "local"
MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit

_DEFAULT_STATUS = {
    "UNAUTHORIZED": 401,
    "ACCESS_DENIED": 403,
    "MISSING_AUTHENTICATION_TOKEN": 403,
    "REQUEST_TOO_LARGE": 413,
    "AUTHORIZER_FAILURE": 500,
    "AUTHORIZER_CONFIGURATION_ERROR": 500,
    "INTEGRATION_FAILURE": 504,
    "DEFAULT_4XX": 400,
    "DEFAULT_5XX": 502,
}
_MESSAGES = {
    "UNAUTHORIZED": "Unauthorized",
    "ACCESS_DENIED": "User is not authorized to access this resource",
    "MISSING_AUTHENTICATION_TOKEN": "Missing Authentication Token",
    "REQUEST_TOO_LARGE": "Request Too Long",
    "AUTHORIZER_FAILURE": "Authorizer failure",
    "DEFAULT_5XX": "Internal server error",
}


@dataclass
class HttpRequest:
    method: str
    path: str
    query: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    source_ip: str = "127.0.0.1"


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Gateway:
    def __init__(self, template: Template, functions: Functions) -> None:
        self.template = template
        self.functions = functions
        self.routes = [(route, route.pattern()) for route in template.routes]

    def handle(self, request: HttpRequest) -> HttpResponse:
        request_id = str(uuid.uuid4())
        if len(request.body) > MAX_BODY:
            return self.gateway_response("REQUEST_TOO_LARGE", request_id)
        match = self._match(request.method, request.path)
        if match is None:
            return self.gateway_response("MISSING_AUTHENTICATION_TOKEN", request_id)
        route, params = match
        authorizer_context: dict[str, Any] = {}
        if self.template.authorizer and not route.public:
            outcome = self._authorize(request, route.path, request_id)
            if isinstance(outcome, HttpResponse):
                return outcome
            authorizer_context = outcome
        event = self._event(request, route.path, params, authorizer_context, request_id)
        try:
            result = self.functions.invoke(route.function, event)
            return _proxy_response(result)
        except Exception:  # a crashed or malformed integration: API Gateway answers 502
            log.exception("function %s failed", route.function)
            return self.gateway_response("DEFAULT_5XX", request_id)

    # -- routing and authorization ----------------------------------------------------------------
    def _match(self, method: str, path: str) -> tuple[Any, dict[str, str]] | None:
        for route, pattern in self.routes:
            m = pattern.match(path)
            if m and route.method in {method.upper(), "ANY"}:
                return route, {k: unquote(v) for k, v in m.groupdict().items()}
        return None

    def _authorize(
        self, request: HttpRequest, resource: str, request_id: str
    ) -> dict[str, Any] | HttpResponse:
        token = _header(request.headers, "authorization")
        if not token:
            return self.gateway_response("UNAUTHORIZED", request_id)
        method_arn = (
            f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{self.template.stage}/"
            f"{request.method.upper()}{request.path}"
        )
        event = {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}
        assert self.template.authorizer is not None
        try:
            policy = self.functions.invoke(self.template.authorizer, event)
        except Exception as err:
            if str(err) == "Unauthorized":
                return self.gateway_response("UNAUTHORIZED", request_id)
            log.exception("authorizer failed")
            return self.gateway_response("AUTHORIZER_FAILURE", request_id)
        if not _allows(policy, method_arn):
            return self.gateway_response("ACCESS_DENIED", request_id)
        context = {k: v for k, v in (policy.get("context") or {}).items()}
        context["principalId"] = policy.get("principalId")
        return context

    def _event(
        self,
        request: HttpRequest,
        resource: str,
        params: dict[str, str],
        authorizer: dict[str, Any],
        request_id: str,
    ) -> dict[str, Any]:
        headers: dict[str, str] = {}
        multi_headers: dict[str, list[str]] = {}
        for name, value in request.headers:
            headers[name] = value
            multi_headers.setdefault(name, []).append(value)
        query: dict[str, str] = {}
        multi_query: dict[str, list[str]] = {}
        for name, value in parse_qsl(request.query, keep_blank_values=True):
            query[name] = value
            multi_query.setdefault(name, []).append(value)
        body: str | None
        is_base64 = False
        if not request.body:
            body = None
        else:
            try:
                body = request.body.decode()
            except UnicodeDecodeError:
                body, is_base64 = base64.b64encode(request.body).decode(), True
        now = time.time()
        return {
            "resource": resource,
            "path": request.path,
            "httpMethod": request.method.upper(),
            "headers": headers or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": ACCOUNT,
                "apiId": API_ID,
                "authorizer": authorizer,
                "httpMethod": request.method.upper(),
                "identity": {
                    "sourceIp": request.source_ip,
                    "userAgent": _header(request.headers, "user-agent"),
                },
                "path": f"/{self.template.stage}{request.path}",
                "protocol": "HTTP/1.1",
                "requestId": request_id,
                "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "requestTimeEpoch": int(now * 1000),
                "resourcePath": resource,
                "stage": self.template.stage,
            },
            "body": body,
            "isBase64Encoded": is_base64,
        }

    # -- API Gateway's own responses ----------------------------------------------------------------
    def gateway_response(self, kind: str, request_id: str, message: str | None = None) -> HttpResponse:
        family = "DEFAULT_4XX" if _DEFAULT_STATUS.get(kind, 500) < 500 else "DEFAULT_5XX"
        spec = self.template.gateway_responses.get(kind) or self.template.gateway_responses.get(family)
        status = (spec.status if spec and spec.status else None) or _DEFAULT_STATUS.get(kind, 500)
        text = message or _MESSAGES.get(kind, kind)
        headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)]
        if spec and spec.body:
            body = spec.body.replace("$context.error.messageString", json.dumps(text))
            body = body.replace("$context.requestId", request_id)
            headers = [("x-amzn-RequestId", request_id), *spec.headers.items()]
            if not any(k.lower() == "content-type" for k, _ in headers):
                headers.append(("Content-Type", "application/json"))
        else:
            body = json.dumps({"message": text})
        return HttpResponse(status, headers, body.encode())


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _allows(policy: Mapping[str, Any], method_arn: str) -> bool:
    allowed = False
    for statement in (policy.get("policyDocument") or {}).get("Statement", []):
        resources = statement.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else resources
        if any(fnmatch.fnmatchcase(method_arn, r) for r in resources):
            if statement.get("Effect") == "Deny":
                return False
            allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _proxy_response(result: Any) -> HttpResponse:
    if not isinstance(result, dict) or "statusCode" not in result:
        raise ValueError("malformed Lambda proxy response")
    headers: list[tuple[str, str]] = []
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((name, str(v)) for v in values)
    for name, value in (result.get("headers") or {}).items():
        if not any(k.lower() == name.lower() for k, _ in headers):
            headers.append((name, str(value)))
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    return HttpResponse(int(result["statusCode"]), headers, raw)
