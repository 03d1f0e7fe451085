"""`python -m tests.bench`: run the benchmarks and print their figures."""
import logging
import sys

from tests.bench import code_tab

if __name__ == "__main__":
    logging.disable(logging.INFO)
    which = sys.argv[1:] or ["code_tab"]
    if "code_tab" in which:
        code_tab.main()
