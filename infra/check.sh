#!/usr/bin/env bash
# make infra-check: every Bicep file parses (pycep-parser) and checkov finds no failed
# check and no parsing error. No Bicep CLI can be installed on these machines.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t templates < <(find infra -name '*.bicep' | sort)
if [ "${#templates[@]}" -eq 0 ]; then
  echo "infra-check: no Bicep templates under infra/ yet (issue 6 is open); nothing to check."
  exit 0
fi
.venv/bin/python - "${templates[@]}" <<'PY'
import sys
from pycep import BicepParser
failed = False
for path in sys.argv[1:]:
    try:
        BicepParser(open(path).read()).json()
    except Exception as error:  # the parser raises lark errors of several kinds
        failed = True
        print(f"infra-check: {path} does not parse: {type(error).__name__}: {error}")
sys.exit(1 if failed else 0)
PY
venv=.local/infra-venv
if [ ! -x "$venv/bin/checkov" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "checkov==3.3.30"
fi
report=$(BC_SKIP_MAPPING=TRUE "$venv/bin/checkov" --framework bicep -d infra --output json --quiet --compact || true)
echo "$report" | .venv/bin/python -c '
import json, sys
data = json.load(sys.stdin)
reports = data if isinstance(data, list) else [data]
failed = sum(r.get("summary", {}).get("failed", 0) for r in reports)
parse_errors = sum(r.get("summary", {}).get("parsing_errors", 0) for r in reports)
print(f"infra-check: checkov failed={failed} parsing_errors={parse_errors}")
sys.exit(1 if failed or parse_errors else 0)
'
