"""Templates the station formats per unit (client ids, NVS values): format fields by
name with format specs, and nothing else."""

from __future__ import annotations

import string


def template_problem(template: str, allowed: tuple[str, ...]) -> str | None:
    """What is wrong with a template of the ``allowed`` fields, with format specs and
    nothing else (no attribute or index access: a template is not code); None if nothing."""
    names = " or ".join(f"{{{name}}}" for name in allowed)
    hint = f"use {names}, with a format spec such as {{serial:05d}}"
    try:
        fields = [
            (field, spec, conversion)
            for _, field, spec, conversion in string.Formatter().parse(template)
            if field is not None
        ]
    except ValueError as e:
        return f"template {template!r} does not format: {e}; {hint}"
    for field, spec, conversion in fields:
        if field not in allowed or conversion or "{" in (spec or ""):
            return f"template field {{{field}}} is not allowed in {template!r}: {hint}"
    try:
        template.format(serial=1, client_id="node-1", mac="5ccf7f000000")
    except (KeyError, IndexError, ValueError) as e:
        return f"template {template!r} does not format: {e}; {hint}"
    return None
