"""`python -m ctui` runs the `ctui` command."""

import sys

from ctui.cli import main

sys.exit(main())
