"""The long fuzzing run: ``tests/test_fuzz.py`` with many times its usual number of examples.

    python bench/fuzz.py            # 40x the suite's examples (about 6,000 per parser)
    python bench/fuzz.py --scale 5  # a shorter run

Needs the dev extras (hypothesis, moto, h5py). The suite runs the same tests with few examples, so
that it stays under five minutes; this is the run to do after touching a parser or a read path.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=40, help="times the suite's number of examples (default 40)")
    args, pytest_args = parser.parse_known_args()
    if args.scale < 1:
        parser.error("--scale must be at least 1")
    env = dict(os.environ, IFCBKIT_FUZZ_EXAMPLES=str(args.scale))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_fuzz.py", *pytest_args]
    return subprocess.call(command, cwd=REPO, env=env)


if __name__ == "__main__":
    sys.exit(main())
