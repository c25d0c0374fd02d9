"""API Gateway TOKEN authorizer: resolves the Bearer API key to its tenant."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerTokenEvent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from orchestration_core.auth.authorizer import authorize
from orchestration_core.services import key_store

logger = Logger()


# The token is never logged: no event logging here.
@logger.inject_lambda_context(log_event=False)
@event_source(data_class=APIGatewayAuthorizerTokenEvent)
def lambda_handler(event: APIGatewayAuthorizerTokenEvent, context: LambdaContext) -> dict[str, Any]:
    return authorize(event, key_store())
