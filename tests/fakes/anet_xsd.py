"""Validating Authorize.Net JSON bodies against the published AnetApiSchema.xsd.

The JSON API mirrors the XML API element for element and in order
(Authorize.Net API reference, "JSON support"), so a JSON request is turned
into the XML document it stands for and that document is validated with
xmlschema against the schema as published (../shared/schemas/, see its
README; not copied into this repository):

- an object is an element whose children are its keys, in the order written;
- a list under a key is that element repeated (``"setting": [{…}, {…}]`` is
  two ``<setting>`` elements);
- a string, number or boolean is the element's text (booleans as ``true``/
  ``false``);
- every element is in the schema's target namespace
  ``AnetApi/xml/v1/schema/AnetApiSchema.xsd``.

So an element out of order, a misspelt name, a missing required element, a
value of the wrong type or too long, all fail as they would in XML.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

NAMESPACE = "AnetApi/xml/v1/schema/AnetApiSchema.xsd"
REPO = Path(__file__).resolve().parents[2]


def _schema_dir() -> Path:
    """``../shared/schemas`` beside the repository; for a git worktree, beside
    its main checkout (where the shared folder lives)."""
    beside = REPO.parent / "shared" / "schemas"
    git = REPO / ".git"
    if not beside.is_dir() and git.is_file():  # a worktree: "gitdir: <main>/.git/worktrees/<name>"
        gitdir = Path(git.read_text().split(":", 1)[1].strip())
        main = gitdir.parent.parent.parent if gitdir.parent.name == "worktrees" else gitdir.parent
        return main.parent / "shared" / "schemas"
    return beside


SCHEMA_DIR = _schema_dir()
SCHEMA_PATH = SCHEMA_DIR / "AnetApiSchema.xsd"
MISSING_REASON = (f"the published Authorize.Net schema is not at {SCHEMA_PATH} "
                  "(../shared/schemas/ beside the repository, see its README): XSD validation skipped")


def available() -> bool:
    return SCHEMA_PATH.is_file()


@functools.lru_cache(maxsize=1)
def schema():
    import xmlschema

    return xmlschema.XMLSchema(str(SCHEMA_PATH))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            for item in child if isinstance(child, list) else [child]:
                sub = ET.SubElement(element, f"{{{NAMESPACE}}}{key}")
                _fill(sub, item)
    else:
        element.text = _text(value)


def to_xml(body: dict[str, Any]) -> ET.Element:
    """The XML document a JSON request body stands for."""
    if len(body) != 1:
        raise ValueError("a request body has exactly one root element")
    (root_name, content), = body.items()
    root = ET.Element(f"{{{NAMESPACE}}}{root_name}")
    _fill(root, content)
    return root


def errors_of(body: dict[str, Any]) -> list[str]:
    """Why the body does not validate against the published schema ([] when it does)."""
    return [str(error.reason or error.message) + f" (at {error.path})" for error in schema().iter_errors(to_xml(body))]
