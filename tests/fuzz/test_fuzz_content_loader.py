"""The content loader never raises: random text, random bytes and mutated valid documents
written to files all come back as errors that name the file and a line inside it."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import yaml
from conftest import CONTENT_DIR, QUESTION_TEMPLATE
from fuzz_profiles import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from quizapp.content.loader import ContentError, load_bank

VALID_QUESTION = QUESTION_TEMPLATE.format(slug="fuzzed", difficulty="medium", related="alpha")
# The real exercise, linked to the fuzzed question instead of whatever cards it lists.
VALID_EXERCISE = re.sub(
    r"^questions: \[.*\]$",
    "questions: [fuzzed]",
    (CONTENT_DIR / "exercises" / "tanh-depth-30-init.yaml").read_text(),
    flags=re.MULTILINE,
)
VALID_TOPICS = """\
- slug: gradient-flow
  title: Gradient flow
  description: Vanishing and exploding gradients.
"""
# Where a fuzzed file goes, with the valid text it replaces.
TARGETS = {
    "questions/fuzzed.yaml": VALID_QUESTION,
    "exercises/tanh-depth-30-init.yaml": VALID_EXERCISE,
    "topics.yaml": VALID_TOPICS,
}

_root = Path(tempfile.mkdtemp(prefix="fuzz-content-"))


def _reset_folder() -> Path:
    """A valid folder: two questions (alpha, fuzzed), one topic and one exercise."""
    shutil.rmtree(_root, ignore_errors=True)
    (_root / "questions").mkdir(parents=True)
    (_root / "exercises").mkdir()
    for name, text in TARGETS.items():
        (_root / name).write_text(text)
    alpha = QUESTION_TEMPLATE.format(slug="alpha", difficulty="easy", related="fuzzed")
    (_root / "questions" / "alpha.yaml").write_text(alpha)
    return _root


def test_the_unfuzzed_folder_is_valid():
    # Otherwise the properties below would only ever see unrelated errors.
    bank = load_bank(_reset_folder())
    assert bank.errors == [], [str(e) for e in bank.errors]
    assert sorted(bank.documents) == ["alpha", "fuzzed"]
    assert list(bank.exercise_documents) == ["tanh-depth-30-init"]


def _load_with(name: str, data: bytes) -> list[ContentError]:
    root = _reset_folder()
    (root / name).write_bytes(data)
    bank = load_bank(root)  # must not raise, whatever the bytes
    _assert_located(bank.errors, name, data)
    return bank.errors


def _assert_located(errors: list[ContentError], name: str, data: bytes) -> None:
    line_count = data.count(b"\n") + 1
    for error in errors:
        assert isinstance(error.path, str) and error.path, error
        assert isinstance(error.line, int) and error.line >= 1, error
        if error.path.endswith(name):
            # A YAML error at the end of the stream points one past the last line.
            assert error.line <= line_count + 1, (str(error), line_count)
        assert error.message and error.field, error
        assert str(error).startswith(f"{error.path}:{error.line}: ")


def _assert_reported(name: str, data: bytes) -> None:
    _load_with(name, data)


targets = st.sampled_from(sorted(TARGETS))


@settings(max_examples=examples(1.0))
@given(name=targets, text=st.text(max_size=2_000))
def test_random_text_is_reported_never_raised(name, text):
    errors = _load_with(name, text.encode("utf-8"))
    # Random text is never a valid question or exercise: the file itself is blamed.
    if name != "topics.yaml":
        assert any(error.path.endswith(name) for error in errors), errors


@settings(max_examples=examples(0.5))
@given(name=targets, data=st.binary(max_size=2_000))
def test_random_bytes_are_reported_never_raised(name, data):
    _assert_reported(name, data)


# Mutations of a valid document, line by line.


def _mutate(text: str, draw) -> str:
    lines = text.splitlines(keepends=True)
    if not lines:
        return draw(st.text(max_size=80))
    index = draw(st.integers(0, len(lines) - 1))
    operation = draw(
        st.sampled_from(
            ["delete", "duplicate", "swap", "insert", "indent", "dedent", "truncate", "replace"]
        )
    )
    if operation == "delete":
        del lines[index]
    elif operation == "duplicate":
        lines.insert(index, lines[index])
    elif operation == "swap":
        other = draw(st.integers(0, len(lines) - 1))
        lines[index], lines[other] = lines[other], lines[index]
    elif operation == "insert":
        lines.insert(index, draw(st.text(max_size=80)) + "\n")
    elif operation == "indent":
        lines[index] = draw(st.sampled_from([" ", "  ", "\t", "    - "])) + lines[index]
    elif operation == "dedent":
        lines[index] = lines[index].lstrip()
    elif operation == "truncate":
        cut = draw(st.integers(0, len(lines[index])))
        lines = [*lines[:index], lines[index][:cut]]
    else:
        line = lines[index]
        start = draw(st.integers(0, len(line)))
        end = draw(st.integers(start, len(line)))
        lines[index] = line[:start] + draw(st.text(max_size=20)) + line[end:]
    return "".join(lines)


@settings(max_examples=examples(1.5))
@given(name=targets, data=st.data())
def test_line_mutations_of_valid_files_are_reported_never_raised(name, data):
    text = TARGETS[name]
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        text = _mutate(text, data.draw)
    _assert_reported(name, text.encode("utf-8"))


# Mutations of a valid document's values: valid YAML, wrong shapes and values.

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(
        ["default", "xavier_normal", "relu", "mlp", "lstm", "healthy", "vanishing", "$x$", "{"]
    ),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=12), children, max_size=4),
    ),
    max_leaves=12,
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


def _replace(node, path, value):
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        return {**node, head: _replace(node[head], rest, value)}
    copy = list(node)
    copy[head] = _replace(copy[head], rest, value)
    return copy


@settings(max_examples=examples(2.0))
@given(name=targets, data=st.data())
def test_value_mutations_of_valid_files_are_reported_never_raised(name, data):
    document = yaml.safe_load(TARGETS[name])
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        path = data.draw(st.sampled_from(list(_paths(document))), label="path")
        document = _replace(document, path, data.draw(values, label="value"))
    if isinstance(document, dict) and data.draw(st.booleans(), label="add a key"):
        document[data.draw(st.text(max_size=12), label="key")] = data.draw(values)
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    _assert_reported(name, text.encode("utf-8"))
