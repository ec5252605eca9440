"""``python -m seqdown`` runs the ``seqdown`` command."""

import sys

from seqdown.cli import main

sys.exit(main())
