"""``python -m harness``: the canary-matrix command line."""

import sys

from harness.cli import main

sys.exit(main())
