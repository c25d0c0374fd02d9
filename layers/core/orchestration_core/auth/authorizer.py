"""The API Gateway TOKEN authorizer's logic: Bearer key -> tenant, as an IAM policy."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
    APIGatewayAuthorizerTokenEvent,
)

from orchestration_core.auth.keys import bearer_token
from orchestration_core.auth.store import KeyStore
from orchestration_core.shared.errors import Unauthorized


class AuthorizerDenied(Exception):
    """Raised with the exact message 'Unauthorized': API Gateway then answers 401, never 403."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def authorize(event: APIGatewayAuthorizerTokenEvent, keys: KeyStore) -> dict[str, Any]:
    try:
        key = keys.authenticate(bearer_token(event.authorization_token))
    except Unauthorized:
        raise AuthorizerDenied() from None
    # Allow every route of this API and stage: the decision depends on the key only, so a
    # cached policy stays right for the key's other requests.
    arn = event.parsed_arn
    policy = APIGatewayAuthorizerResponse(
        principal_id=key.key_id,
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        context={"tenantId": key.tenant_id, "keyId": key.key_id},
    )
    policy.allow_all_routes()
    return policy.asdict()
