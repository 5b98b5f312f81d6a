"""Monitoring at scale: one cycle over 16 lab hosts x 10 VMs, the drift check's DigitalOcean
calls against the number of provisions, and the sample tables after a day.

1. Lab (root): a 16-host lab provision with 10 RUNNING Alpine containers per host (made the
   way bench/vm_deploy.py makes VMs: instantiate from the lab marketplace's template, the
   deploy job inline), then several cycles (`monitoring.cycle.run_cycle`), each with its wall
   time, this process's CPU seconds (getrusage, all threads), SSH connections per host and
   DigitalOcean calls per token.
2. Simulator only: the drift check with 1, 4 and 16 provisions on one token; its calls per
   cycle must not grow with them (one listing per kind per token).
3. Database only: 25 simulated hours of samples for 16 hosts x 10 VMs at a 30 s interval,
   one cycle's prune, the rows left against the bound 24 h x 120 cycles/h x (hosts + VMs),
   and the "one VM, last hour" graph query with its plan.

The parts live in bench/monitoring_cycles.py, monitoring_drift.py and monitoring_rows.py; this
module runs them. Figures only: nothing here asserts a duration. The summary says whether each
count-based target was met. Without the lab, part 1 says why it was skipped and parts 2 and 3
still run.
"""

import sys

from bench import common, labworld
from bench.monitoring_common import Failed
from bench.monitoring_cycles import (
    CYCLE_HEADERS,
    CYCLES,
    TITLE_CYCLE,
    ParamikoConnects,
    lab_cycles,
    report_cycles,
    wait_for_quiet_lab,
)
from bench.monitoring_drift import DRIFT_HEADERS, TITLE_DRIFT, drift_calls, report_drift
from bench.monitoring_rows import metric_rows, report_rows


def main() -> int:
    lab, reason = labworld.lab_or_reason()
    verdicts, failed = [], False
    with common.django_env("monitoring") as database:
        ssh = labworld.SSHCounter()
        ssh.install()
        connects = ParamikoConnects()
        connects.install()
        user = common.bench_user()

        if lab:
            busy = wait_for_quiet_lab(timeout=180)
            if busy:
                lab, reason = False, busy
        if not lab:
            labels = [str(n) for n in range(1, CYCLES + 1)]
            rows = [[label] + ["skipped"] * (len(CYCLE_HEADERS) - 1) for label in labels]
            common.table(TITLE_CYCLE, CYCLE_HEADERS, rows, [f"skipped: {reason}"])
            verdicts.append(f"lab cycles skipped ({reason})")
        else:
            try:
                cycles = lab_cycles(user, ssh, connects)
            except Failed as exc:
                rows = [["failed"] + [""] * (len(CYCLE_HEADERS) - 1)]
                common.table(TITLE_CYCLE, CYCLE_HEADERS, rows, [str(exc)])
                verdicts.append(f"lab cycles FAILED: {exc}")
                failed = True
            else:
                outcome = report_cycles(cycles, database)
                verdicts.append(outcome)

        try:
            outcome = report_drift(drift_calls(user), database)
            verdicts.append(outcome)
        except Failed as exc:
            common.table(TITLE_DRIFT, DRIFT_HEADERS, [["failed"] + [""] * 7], [str(exc)])
            verdicts.append(f"drift FAILED: {exc}")
            failed = True

        outcome = report_rows(metric_rows(user), database)
        verdicts.append(outcome)
    common.summary("; ".join(verdicts))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
