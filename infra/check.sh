#!/usr/bin/env bash
# make infra-check: every Bicep template under infra/ parses (pycep-parser), passes the
# schema check (tests/infra/support/schemacheck.py: resource properties, types, enums,
# names and the Flex Consumption rules against the schemas vendored in infra/schemas/,
# and the names, types and dependencies a Bicep build checks), and checkov finds no
# failed check and no parsing error. There is no Bicep CLI on these machines, so this
# is not a compile; docs/deploy.md says what only a real deployment proves.
# tests/infra/test_bicep.py asserts the secure properties themselves.
#
# checkov lives in its own venv (.local/infra-venv, gitignored): its pinned
# dependencies would clash with the project's. The venv is made on first run and
# reused while its stamp names the pinned version.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECKOV_VERSION=3.3.30
PY=.venv/bin/python
VENV=.local/infra-venv
STAMP="$VENV/.checkov-$CHECKOV_VERSION"

fail() {
  echo "infra-check: FAILED: $*" >&2
  exit 1
}

[ -x "$PY" ] || fail "$PY is missing; run 'make setup' first."

mapfile -t templates < <(find infra -name '*.bicep' | sort)
[ "${#templates[@]}" -gt 0 ] || fail "no Bicep templates under infra/."

# 1. Grammar: pycep-parser from the project venv.
"$PY" - "${templates[@]}" <<'PY' || fail "a template does not parse (above)."
import sys
from pathlib import Path

from pycep import BicepParser

parser = BicepParser()
broken = 0
for name in sys.argv[1:]:
    try:
        parser.parse(file_path=Path(name))
    except Exception as error:  # lark raises several unrelated exception types
        broken += 1
        first_line = str(error).splitlines()[0] if str(error) else ""
        print(f"infra-check: {name} does not parse: {type(error).__name__}: {first_line}")
print(f"infra-check: pycep-parser read {len(sys.argv) - 1 - broken}/{len(sys.argv) - 1} templates")
sys.exit(1 if broken else 0)
PY

# 2. Schema check: vendored Azure resource schemas, worst-case names, Flex Consumption.
"$PY" -m tests.infra.support.schemacheck infra || fail "the schema check found problems (above)."

# 3. Policy: checkov, installed once into its own venv.
if [ ! -f "$STAMP" ]; then
  echo "infra-check: installing checkov $CHECKOV_VERSION into $VENV (first run only)..."
  log=$(mktemp)
  if ! { "${PYTHON:-python3}" -m venv --clear "$VENV" \
      && "$VENV/bin/pip" install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"; } >"$log" 2>&1; then
    grep -v "is ignored: it is neither a file nor a directory" "$log" | tail -20 >&2
    rm -f "$log"
    fail "could not install checkov $CHECKOV_VERSION."
  fi
  rm -f "$log"
  touch "$STAMP"
fi

report=$(mktemp)
errors=$(mktemp)
trap 'rm -f "$report" "$errors"' EXIT
# BC_SKIP_MAPPING: no download of the guideline mapping (no network here). checkov
# exits 0 even when a file does not parse, so its JSON summary is what decides.
BC_SKIP_MAPPING=TRUE "$VENV/bin/checkov" --framework bicep --directory infra \
  --output json --compact >"$report" 2>"$errors" || true

"$PY" - "$report" "$errors" <<'PY' || fail "checkov reported problems (above)."
import json
import os
import sys

try:
    with open(sys.argv[1]) as handle:
        data = json.load(handle)
except ValueError:
    print("infra-check: checkov printed no JSON report; the end of its error output:")
    with open(sys.argv[2]) as handle:
        print("".join(handle.readlines()[-15:]))
    sys.exit(1)
reports = data if isinstance(data, list) else [data]
failed, skipped, unparsed, passed, resources = [], [], [], 0, 0
for report in reports:
    results = report.get("results", {})
    summary = report.get("summary", {})
    failed += results.get("failed_checks", [])
    skipped += results.get("skipped_checks", [])
    unparsed += results.get("parsing_errors", [])
    passed += summary.get("passed", 0)
    resources += summary.get("resource_count", 0)
for check in failed:
    print(
        f"infra-check: {check['check_id']} failed on {check['resource']} "
        f"({check['file_path']}): {check['check_name']}"
    )
# checkov checks resources only: a template it cannot parse (its bundled pycep is older
# than the project's, e.g. no lambdas) loses nothing when it declares no resource;
# pycep-parser and the schema check above read it.
def declares_resources(path):
    with open(path.lstrip("/") if not os.path.exists(path) else path) as handle:
        return any(line.startswith("resource ") for line in handle)
lost = []
for path in unparsed:
    if declares_resources(path):
        lost.append(path)
        print(f"infra-check: checkov could not parse {path} (its bundled parser is older than the project's)")
    else:
        print(f"infra-check: note: checkov could not parse {path}, which declares no resource (nothing for it to check)")
unparsed = lost
print(
    f"infra-check: checkov passed={passed} failed={len(failed)} "
    f"skipped={len(skipped)} (each with its reason in the template) "
    f"parsing_errors={len(unparsed)} resources={resources}"
)
if resources == 0:
    print("infra-check: checkov scanned no resources")
sys.exit(1 if failed or unparsed or resources == 0 else 0)
PY
echo "infra-check: OK"
