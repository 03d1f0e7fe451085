"""`python -m tests.bench`: run the benchmarks and print their figures."""
import logging
import sys

from tests.bench import admin_users, code_tab

if __name__ == "__main__":
    logging.disable(logging.INFO)
    which = sys.argv[1:] or ["code_tab", "observe", "polls", "load", "admin_users"]
    if "polls" in which:  # `python -m tests.bench polls [--polls 1000 --db sqlite|postgres|both]`
        from tests.bench import polls
        polls.main(sys.argv[sys.argv.index("polls") + 1:] if "polls" in sys.argv else [])
    if "observe" in which:  # `python -m tests.bench observe [--sizes 10,100,500]`
        from tests.bench import observe
        observe.main(sys.argv[sys.argv.index("observe") + 1:] if "observe" in sys.argv else [])
    if "code_tab" in which:
        code_tab.main()
    if "admin_users" in which:
        admin_users.main()
    if "git_hosting" in which:  # `python -m tests.bench git_hosting`
        from tests.bench import git_hosting
        git_hosting.main()
    if "metrics_cost" in which:  # `python -m tests.bench metrics_cost [--people 40 ...]`
        from tests.bench import metrics_cost
        metrics_cost.main(sys.argv[sys.argv.index("metrics_cost") + 1:])
    if "admission" in which:  # `python -m tests.bench admission [--limit 10 --people 100]`
        from tests.bench import admission
        admission.main(sys.argv[sys.argv.index("admission") + 1:])
    if "load" in which:  # `python -m tests.bench load [--sizes 100,250,500 ...]`
        from tests.bench import load
        load.main(sys.argv[sys.argv.index("load") + 1:] if "load" in sys.argv else [])
