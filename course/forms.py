"""Write or check graders/rules/forms.json.gz, the word forms the shipped rules and course need (graders.text.lexicon).

    python -m course.forms            # exit 1 when the file is out of date
    python -m course.forms --write    # after editing phrases or english.yaml's word classes
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

from course.loader import load_course
from graders import text
from graders.text import lexicon

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    """Compile the shipped rules and course, then store (or compare with the file) every form they needed."""
    args = sys.argv[1:] if argv is None else argv
    text.default_rules()
    load_course(REPO)
    # The rules record each phrase word they inflected and each tag class they listed in lexicon's memos.
    data = lexicon.compute(lexicon._INFLECTED, lexicon._CLASSES)
    name = lexicon.FORMS_FILE.name
    if "--write" in args:
        lexicon.FORMS_FILE.write_bytes(gzip.compress(json.dumps(data, separators=(",", ":")).encode(), mtime=0))
        print(f"wrote {name}: {len(data['english']):,} English words, {len(data['inflections']):,} phrase words, "
              f"{len(data['tagged'])} tag classes")
        return 0
    current = lexicon.stored() == data
    print(f"{name} is {'current' if current else 'out of date: run python -m course.forms --write'}")
    return 0 if current else 1


if __name__ == "__main__":
    sys.exit(main())
