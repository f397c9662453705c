import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while Python loads the libraries: no traceback either
    print("shiftemp: interrupted", file=sys.stderr)
    sys.exit(130)

main()
