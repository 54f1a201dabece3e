"""`python -m podplane` is the `podplane` command."""

import sys

from podplane.cli import main

sys.exit(main())
