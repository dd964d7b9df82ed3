"""The sample at the top of README.md is what ``mpos charge 15`` prints
(stderr not a terminal, no colour); only what differs per sale (time, auth
code, cryptogram, id) is compared by its shape."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
VARIABLE = [
    (r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d", "<time>"),
    (r"(Auth code +)[A-Z0-9]{6}", r"\1<auth>"),
    (r"((?:TC|ARQC|AAC) +)[0-9A-F]{16}", r"\1<cryptogram>"),
    (r"\d{8}-[0-9A-Z]{6}", "<id>"),
]


def _shape(text: str) -> list[str]:
    for pattern, replacement in VARIABLE:
        text = re.sub(pattern, replacement, text)
    return [line.rstrip() for line in text.strip().splitlines()]


def test_the_readme_sample_is_what_mpos_prints(mpos):
    readme = README.read_text()
    sample = readme[readme.index("$ mpos charge 15\n") + len("$ mpos charge 15\n"):]
    sample = sample[: sample.index("```")]
    result = mpos("charge", "15")
    assert result.exit_code == 0, result
    assert _shape(result.stderr + result.stdout) == _shape(sample)
