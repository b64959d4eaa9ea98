"""The operator's workbook (infra/modules/monitoring.bicep) charts exactly the
metrics the code emits (shared/telemetry.py): a renamed metric cannot leave an
empty chart behind, and a new one is not forgotten."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def emitted() -> set[str]:
    code = (ROOT / "shared" / "telemetry.py").read_text()
    return set(re.findall(r'create_(?:counter|histogram)\(\s*"(entrabridge\.[a-z_.]+)"', code))


def charted() -> set[str]:
    template = (ROOT / "infra" / "modules" / "monitoring.bicep").read_text()
    return set(re.findall(r'"(entrabridge\.[a-z_.]+)"', template))


def test_the_workbook_charts_every_metric_the_code_emits_and_no_other() -> None:
    assert len(emitted()) == 5
    assert charted() == emitted()


def test_the_workbook_is_deployed_next_to_application_insights() -> None:
    template = (ROOT / "infra" / "modules" / "monitoring.bicep").read_text()
    assert "resource workbook 'Microsoft.Insights/workbooks@2022-04-01'" in template
    assert "sourceId: appInsights.id" in template
    assert "name: guid(appInsights.id, 'entrabridge-workbook')" in template
