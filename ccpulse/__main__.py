"""``python -m ccpulse`` is the ``ccpulse`` command."""

import sys

from ccpulse.cli import main

sys.exit(main())
