#!/usr/bin/env python3
"""Fails when a recording rule of uvm-sizer.rules.yml is never evaluated by a promql_expr_test, or an alert
never fires in an alert_rule_test, of the *_test.yml files beside it (so a new rule cannot ship untested),
or an alert has no runbook_url to its own page docs/runbooks/<alert>.md in this repository.

Usage: check_coverage.py RULES_FILE TEST_FILE...   (ctest: metrics_rules_coverage)
Python 3 standard library only (Debian has no PyYAML by default): the files are scanned line by line, which
is enough for the flat `record:`, `alert:`, `- expr:` and `alertname:` keys they use.
"""
import os
import re
import sys


def main(argv):
    if len(argv) < 3:
        print("usage: check_coverage.py RULES_FILE TEST_FILE...", file=sys.stderr)
        return 2
    rules_text = open(argv[1], encoding="utf-8").read()
    records = set(re.findall(r"^\s*- record:\s*(\S+)\s*$", rules_text, re.M))
    alerts = set(re.findall(r"^\s*- alert:\s*(\S+)\s*$", rules_text, re.M))
    evaluated, fired = set(), set()
    for path in argv[2:]:
        text = open(path, encoding="utf-8").read()
        # `- expr: name` or `- expr: name{...}`: the test evaluates that recorded series itself.
        evaluated.update(re.findall(r"^\s*- expr:\s*([A-Za-z_:][A-Za-z0-9_:]*)", text, re.M))
        # An alert test with at least one expected alert (not only `exp_alerts: []`).
        fired.update(re.findall(r"^\s*alertname:\s*(\S+)\s*\n\s*exp_alerts:[^\n\[]*\n\s*- exp_labels:", text, re.M))
    missing = sorted(r for r in records - evaluated) + sorted(a for a in alerts - fired)
    # Each alert block runs from its `- alert:` line to the next rule; its runbook_url names its own page.
    repo = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(argv[1])), "..", ".."))
    bad_runbooks = []
    for block in re.split(r"^\s*- (?=alert:|record:)", rules_text, flags=re.M):
        name = re.match(r"alert:\s*(\S+)", block)
        if not name:
            continue
        url = re.search(r"^\s*runbook_url:\s*(\S+)\s*$", block, re.M)
        page = f"docs/runbooks/{name[1]}.md"
        if not url or not url[1].endswith("/" + page):
            bad_runbooks.append(f"alert {name[1]}: runbook_url must end in /{page}")
        elif not os.path.isfile(os.path.join(repo, page)):
            bad_runbooks.append(f"alert {name[1]}: {page} does not exist")
    if not records or not alerts:
        print(f"{argv[1]}: no record or alert found: wrong file?", file=sys.stderr)
        return 1
    for name in missing:
        kind = "recording rule" if name in records else "alert"
        print(f"{kind} {name} is not covered by any test in {', '.join(argv[2:])}", file=sys.stderr)
    for problem in bad_runbooks:
        print(problem, file=sys.stderr)
    if missing or bad_runbooks:
        return 1
    print(f"{len(records)} recorded series and {len(alerts)} alerts, each covered by a test; every alert has "
          "its runbook")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
