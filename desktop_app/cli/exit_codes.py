"""What the process returns: 0 on success, else one of these (and one line on stderr)."""

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
