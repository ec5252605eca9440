"""The exit statuses of the ``seqdown`` commands, defined once.

=====  ==========================================================================
0      done: every input succeeded
1      done, but some inputs failed (they are listed, e.g. in ``failures.jsonl``)
2      usage error: the command could not run as asked; nothing was changed
3      internal error: an exception nobody expected (its traceback is printed): a bug
4      output storage failed (a full disk, a quota, an I/O error); nothing was recorded
       against the file being written: free space and run again to resume
130    interrupted (Ctrl-C, or the Dask scheduler lost); ``seqdown preprocess`` resumes
       when run again
=====  ==========================================================================
"""

from __future__ import annotations

__all__ = [
    "DONE",
    "INPUTS_FAILED",
    "INTERNAL_ERROR",
    "INTERRUPTED",
    "STORAGE_FAILED",
    "USAGE_ERROR",
]

DONE = 0
INPUTS_FAILED = 1
USAGE_ERROR = 2
INTERNAL_ERROR = 3
STORAGE_FAILED = 4
INTERRUPTED = 130
