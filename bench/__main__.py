"""`python -m bench [name ...]`: run the named benchmarks (default: every bench module present), one after another."""

import importlib
import pkgutil
import sys
from pathlib import Path

KNOWN = ("pricing", "order")


def main() -> None:
    present = {m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])}
    names = sys.argv[1:] or [n for n in KNOWN if n in present] + sorted(present - set(KNOWN) - {"__main__"})
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        print(f"== bench.{name} ==", flush=True)
        sys.argv = [f"bench.{name}"]  # each bench parses its own options; here they run with their defaults
        module.main()


if __name__ == "__main__":
    main()
