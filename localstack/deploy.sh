#!/usr/bin/env bash
# Build and deploy the stack into a running LocalStack, then create an API key and print the
# URL and key. Needs Docker (LocalStack runs Lambdas in containers) and Python 3.12 on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
STACK=${STACK:-orchestration}
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
export AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL:-http://localhost:4566}
export SAM_CLI_TELEMETRY=0

if [ ! -x .venv-sam/bin/samlocal ]; then
  python3 -m venv .venv-sam
  .venv-sam/bin/pip install --quiet aws-sam-cli aws-sam-cli-local
fi
.venv-sam/bin/samlocal build
.venv-sam/bin/samlocal deploy --stack-name "$STACK" --resolve-s3 --no-confirm-changeset \
  --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset

make --silent .venv/.installed 2>/dev/null || make .venv/.installed
url=$(.venv/bin/python - "$STACK" <<'PY'
import sys, boto3
outputs = boto3.client("cloudformation").describe_stacks(StackName=sys.argv[1])["Stacks"][0]["Outputs"]
api = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "ApiUrl")
# LocalStack serves REST APIs at <endpoint>/restapis/<id>/<stage>/_user_request_
api_id = api.split("//", 1)[1].split(".", 1)[0]
stage = api.rsplit("/", 1)[1]
print(f"http://localhost:4566/restapis/{api_id}/{stage}/_user_request_")
PY
)
key=$(.venv/bin/orchestration keys create --stack "$STACK" --tenant localstack --name localstack \
  | .venv/bin/python -c "import json, sys; print(json.load(sys.stdin)['apiKey'])")
echo "LOCALSTACK_API_URL=$url"
echo "LOCALSTACK_API_KEY=$key"
