"""``python -m eval.qa [--subset] [--load N]``: run the QA set and print the scores."""

from __future__ import annotations

import json
import sys

from eval.qa.runner import markdown_section, run


def main(argv: list[str]) -> dict[str, object]:
    load = int(argv[argv.index("--load") + 1]) if "--load" in argv else 0
    result = run(subset="--subset" in argv, load=load)
    print(markdown_section(result))  # noqa: T201 - a command-line entry point
    if result["failures"]:
        print(json.dumps(result["failures"], indent=1, ensure_ascii=False))  # noqa: T201
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
