"""YAML parsing that remembers the line of every value, so errors can say `path:line`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

FieldPath = tuple[str | int, ...]


@dataclass
class ParsedYaml:
    data: Any
    lines: dict[FieldPath, int] = field(default_factory=dict)
    # Where a multi-line (block scalar) string's first line of text sits.
    text_starts: dict[FieldPath, int] = field(default_factory=dict)
    duplicate_keys: list[tuple[FieldPath, int]] = field(default_factory=list)

    def line_of(self, path: FieldPath) -> int:
        """The line of `path`, or of its nearest ancestor that has one (1 for the document)."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


class YamlSyntaxError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


# libyaml's parser is about ten times faster and builds the same nodes, with the same marks;
# its error messages differ, so a file it rejects is parsed again by the pure-Python loader.
_FAST_LOADER = getattr(yaml, "CSafeLoader", None)


def parse_yaml(text: str) -> ParsedYaml:
    """Parse one YAML document safely; raise YamlSyntaxError with a 1-based line."""
    if _FAST_LOADER is not None:
        try:
            return _parse(text, _FAST_LOADER)
        except YamlSyntaxError:
            pass
    return _parse(text, yaml.SafeLoader)


def _parse(text: str, loader_class: type) -> ParsedYaml:
    try:
        # The pure-Python reader refuses control characters as soon as it is built.
        loader = loader_class(text)
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, max(0, error.position)) + 1
        raise YamlSyntaxError(line, f"YAML syntax error: {error.reason}") from None
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlSyntaxError(line, f"YAML syntax error: {error.problem or error}") from None
    except yaml.YAMLError as error:
        raise YamlSyntaxError(1, f"YAML error: {error}") from None
    finally:
        loader.dispose()
    parsed = ParsedYaml(data=data)
    if node is not None:
        parsed.lines[()] = node.start_mark.line + 1
        _walk(node, (), parsed)
    return parsed


def _walk(node: yaml.Node, path: FieldPath, parsed: ParsedYaml) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            child = (*path, key)
            if key in seen:
                parsed.duplicate_keys.append((child, key_node.start_mark.line + 1))
            seen.add(key)
            parsed.lines[child] = key_node.start_mark.line + 1
            _record_text_start(value_node, child, parsed)
            _walk(value_node, child, parsed)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            parsed.lines[child] = item.start_mark.line + 1
            _record_text_start(item, child, parsed)
            _walk(item, child, parsed)


def _record_text_start(node: yaml.Node, path: FieldPath, parsed: ParsedYaml) -> None:
    if isinstance(node, yaml.ScalarNode):
        block = node.style in ("|", ">")
        # A block scalar's text starts on the line after its `|` indicator.
        parsed.text_starts[path] = node.start_mark.line + (2 if block else 1)
