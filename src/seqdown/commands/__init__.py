"""Subcommands of the ``seqdown`` command, one module each (see :mod:`seqdown.cli`)."""
