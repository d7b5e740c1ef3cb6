"""The CPU a runtime used, told apart from the harness's (what the benchmark reports)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from harness.drivers.cpu import descendants_cpu_s

# A parent that starts a child burning 0.4 s of CPU, then both wait: only the child counts.
BURN = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", '''
import time
end = time.process_time() + 0.4
while time.process_time() < end:
    pass
print("burnt", flush=True)
time.sleep(60)
'''])
time.sleep(60)
"""


def test_a_process_trees_cpu_is_its_descendants_and_not_its_own() -> None:
    parent = subprocess.Popen([sys.executable, "-c", BURN], start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        used = 0.0
        while time.monotonic() < deadline:
            used = descendants_cpu_s(parent.pid) or 0.0
            if used >= 0.4:
                break
            time.sleep(0.1)
        time.sleep(0.3)
        settled = descendants_cpu_s(parent.pid) or 0.0
        # The child's burn and its interpreter's start; it sleeps now, so it stays there.
        assert 0.4 <= used <= settled < 1.5
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait()
    assert descendants_cpu_s(parent.pid) is None  # gone: nothing to say
