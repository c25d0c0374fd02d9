#!/usr/bin/env bash
# Build and deploy the stack into a running LocalStack, create an API key, and print what the
# opt-in suite needs as shell `export` lines, so that
#   eval "$(localstack/deploy.sh | grep LOCALSTACK_)"
# sets them for `make localstack-test`. Everything else goes to stderr.
# Needs Docker (LocalStack runs the Lambdas in containers) and Python 3.12 (the functions'
# runtime; found on PATH, under pyenv or by `uv python find`, and put first on PATH for
# `sam build`, which cannot use pyenv's shims).
set -euo pipefail
cd "$(dirname "$0")/.."
exec 3>&1 1>&2  # fd 3: the export lines; everything else to stderr

STACK=${STACK:-orchestration}
# Pinned: an upgrade is a deliberate change, tested with `make localstack-test`.
SAM_CLI_VERSION=1.170.0
SAMLOCAL_VERSION=1.71.0
TOOLS=${ORCHESTRATION_TOOLS_DIR:-.venv/tools}
SAM_VENV="$TOOLS/samlocal-$SAMLOCAL_VERSION-sam-$SAM_CLI_VERSION"

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
export AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL:-http://localhost:4566}
export SAM_CLI_TELEMETRY=0

make --silent .venv/.installed 2>/dev/null || make .venv/.installed

py312=$(.venv/bin/python -c 'from scripts.lambda_env import find_python; print(find_python() or "")')
if [ -z "$py312" ]; then
  echo "Python 3.12 not found (PATH, pyenv, uv): install it, or set LAMBDA_PYTHON to its interpreter" >&2
  exit 2
fi
export PATH="$(dirname "$py312"):$PATH"
export PYTHON="$py312"  # the layer's Makefile

if [ ! -x "$SAM_VENV/bin/samlocal" ]; then
  rm -rf "$SAM_VENV"
  python3 -m venv "$SAM_VENV"
  "$SAM_VENV/bin/pip" install --quiet --disable-pip-version-check \
    "aws-sam-cli==$SAM_CLI_VERSION" "aws-sam-cli-local==$SAMLOCAL_VERSION"
fi
"$SAM_VENV/bin/samlocal" build
"$SAM_VENV/bin/samlocal" deploy --stack-name "$STACK" --resolve-s3 --no-confirm-changeset \
  --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset

url=$(.venv/bin/python - "$STACK" "$AWS_ENDPOINT_URL" <<'PY'
import sys, boto3
stack, endpoint = sys.argv[1], sys.argv[2].rstrip("/")
outputs = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
api = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "ApiUrl")
# LocalStack serves REST APIs at <endpoint>/restapis/<id>/<stage>/_user_request_
api_id = api.split("//", 1)[1].split(".", 1)[0]
stage = api.rstrip("/").rsplit("/", 1)[1]
print(f"{endpoint}/restapis/{api_id}/{stage}/_user_request_")
PY
)
key=$(.venv/bin/orchestration keys create --stack "$STACK" --tenant localstack --name localstack \
  | .venv/bin/python -c "import json, sys; print(json.load(sys.stdin)['apiKey'])")
printf 'export LOCALSTACK_API_URL=%q\n' "$url" >&3
printf 'export LOCALSTACK_API_KEY=%q\n' "$key" >&3
