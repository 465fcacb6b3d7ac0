"""Load and validate the station config (YAML): one walk over the node tree reading each
section by its fields' readers (walk.py), then the rules that span fields and sections
(rules.py: a pin used twice, a recovery profile that exists). Any problem is a
ConfigError naming file, line and field."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from flashjig.config.model import Config
from flashjig.config.nodes import located_error
from flashjig.config.rules import check
from flashjig.config.walk import Walk
from flashjig.errors import ConfigError


def load_config(path: str | os.PathLike[str], *, check_files: bool = True) -> Config:
    """Read and validate a config file; every problem surfaces as a ConfigError."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        reason = f"cannot read config file: {exc.strerror or exc}"
        raise ConfigError(f"{p}: {reason}", file=str(p), reason=reason) from exc
    except UnicodeDecodeError as exc:
        reason = f"config file is not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise ConfigError(f"{p}: {reason}", file=str(p), reason=reason) from exc
    return parse_config(text, p, check_files=check_files)


def parse_config(text: str, path: Path, *, check_files: bool = True) -> Config:
    """Validate config text; path names the file in errors and anchors relative image paths."""
    path = Path(path)
    file = str(path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem, context = exc.problem, exc.context
        if problem and context and problem.startswith("but "):
            # ComposerError reads "expected a single document ..., but found another document".
            reason = f"{context}, {problem}"
        elif problem and context and exc.context_mark is not None:
            reason = f"{problem} ({context} started on line {exc.context_mark.line + 1})"
        else:
            reason = problem or context or str(exc)
        raise located_error(file, line, None, f"YAML syntax error: {reason}") from exc
    except RecursionError:  # a document nested thousands deep: no config is like that
        raise located_error(file, None, None, "YAML nested too deep to be a config") from None
    except yaml.reader.ReaderError as exc:  # a control character; has a position, not a mark
        line = text.count("\n", 0, exc.position) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        reason = f"YAML syntax error: unacceptable character #x{char:04x}: {exc.reason}"
        raise located_error(file, line, None, reason) from exc
    if root is None:
        raise located_error(file, 1, None, "config is empty")
    walk = Walk(path, check_files)
    config = walk.section(Config, root, "", path=path.absolute())
    check(config, walk)
    return config
