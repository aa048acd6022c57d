"""Per-learner variants of a question: parameters, derived values and `{{ expr }}` texts.

A question may declare `params:` (each a range `{min, max, step}` or `{choices: [...]}`)
and `derived:` (name -> expression, evaluated in order). Texts carry `{{ expr }}`, which
renders the value, and a numeric check's answer and tolerances may be expressions.

Expressions are evaluated by simpleeval (an AST walker, never `eval`) behind a whitelist
checked before anything runs: only arithmetic, comparisons, `x if c else y`, the names
declared before and the functions in FUNCTIONS. Powers, lengths and sizes are bounded so
that no expression an author writes can hang the server.
"""

from __future__ import annotations

import ast
import hashlib
import math
import operator
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from random import Random
from typing import Any

from simpleeval import SimpleEval

MAX_PARAMS = 12
MAX_DERIVED = 30
MAX_CHOICES = 50
MAX_EXPRESSION_CHARS = 300
MAX_AST_NODES = 120
# |result| of a power stays below 10^MAX_POWER_DIGITS (floats overflow at about 10^308).
MAX_POWER_DIGITS = 300
MAX_STRING_CHARS = 200
MAX_SIGNIFICANT_DIGITS = 15

NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")
TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.S)

Value = int | float | str
Values = dict[str, Value]


class VariantError(ValueError):
    """An expression or a parameter that cannot be used; the message says why."""


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise VariantError(f"{what} must be a number, not {_show(value)}")
    return value


def _show(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def sig(x: object, n: object = 3) -> str:
    """`x` with `n` significant digits, without exponent for ordinary sizes: sig(0.0012345, 2)
    is "0.0012", sig(1234.5, 2) is "1200"."""
    value, digits = _number(x, "sig's value"), _digits(n)
    if value == 0:
        return "0"
    if not math.isfinite(value):
        raise VariantError("sig of a number that is not finite")
    exponent = math.floor(math.log10(abs(value)))
    rounded = round(value, digits - 1 - exponent)
    if abs(rounded) >= 1e15 or abs(rounded) < 1e-6:
        return f"{rounded:.{digits - 1}e}"
    decimals = max(0, digits - 1 - exponent)
    text = f"{rounded:.{decimals}f}"
    return text


def sci(x: object, n: object = 3) -> str:
    """`x` in scientific notation with `n` significant digits, as LaTeX for `$…$`:
    sci(0.000123, 2) is "1.2 \\times 10^{-4}" (no power of ten when the exponent is 0)."""
    value, digits = _number(x, "sci's value"), _digits(n)
    if not math.isfinite(value):
        raise VariantError("sci of a number that is not finite")
    mantissa, _, exponent = f"{value:.{digits - 1}e}".partition("e")
    power = int(exponent)
    return mantissa if power == 0 else f"{mantissa} \\times 10^{{{power}}}"


def _digits(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_SIGNIFICANT_DIGITS:
        raise VariantError(f"the number of digits must be a whole number from 1 to 15, not {n}")
    return n


def _round(x: object, n: object = 0) -> float | int:
    value = _number(x, "round's value")
    if isinstance(n, bool) or not isinstance(n, int) or not -15 <= n <= 15:
        raise VariantError("round's digits must be a whole number from -15 to 15")
    return round(value, n) if n else round(value)


def _unary(function: Callable[[float], float], name: str) -> Callable[[object], float]:
    def call(x: object) -> float:
        try:
            return function(_number(x, f"{name}'s argument"))
        except (ValueError, OverflowError) as error:
            raise VariantError(f"{name}({_show(x)}): {error}") from None

    call.__name__ = name
    return call


def _log(x: object, base: object = math.e) -> float:
    try:
        return math.log(_number(x, "log's argument"), _number(base, "log's base"))
    except (ValueError, ZeroDivisionError) as error:
        raise VariantError(f"log({_show(x)}): {error}") from None


def _extreme(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    def call(*values: object) -> Any:
        if not 1 <= len(values) <= 20:
            raise VariantError(f"{name} takes 1 to 20 numbers")
        return function(_number(value, f"{name}'s argument") for value in values)

    return call


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sig": sig,
    "sci": sci,
    "round": _round,
    "sqrt": _unary(math.sqrt, "sqrt"),
    "log": _log,
    "log10": _unary(math.log10, "log10"),
    "log2": _unary(math.log2, "log2"),
    "exp": _unary(math.exp, "exp"),
    "floor": _unary(math.floor, "floor"),
    "ceil": _unary(math.ceil, "ceil"),
    "abs": _unary(abs, "abs"),
    "tanh": _unary(math.tanh, "tanh"),
    "sin": _unary(math.sin, "sin"),
    "cos": _unary(math.cos, "cos"),
    "min": _extreme(min, "min"),
    "max": _extreme(max, "max"),
}
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}
RESERVED = frozenset(FUNCTIONS) | frozenset(CONSTANTS) | {"True", "False", "None"}


def _power(base: object, exponent: object) -> float | int:
    a, b = _number(base, "a power's base"), _number(exponent, "an exponent")
    if a != 0 and abs(b) * math.log10(abs(a)) > MAX_POWER_DIGITS:
        raise VariantError(f"{_show(a)} ** {_show(b)} is too large")
    if abs(b) > 10_000:
        raise VariantError(f"the exponent {_show(b)} is too large")
    try:
        result = a**b
    except ZeroDivisionError:
        raise VariantError("0 cannot be raised to a negative power") from None
    if isinstance(result, complex):
        raise VariantError(f"{_show(a)} ** {_show(b)} is not a real number")
    return result


def _checked(function: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def call(a: Any, b: Any) -> Any:
        if isinstance(a, str) or isinstance(b, str):
            if function is operator.add and isinstance(a, str) and isinstance(b, str):
                if len(a) + len(b) > MAX_STRING_CHARS:
                    raise VariantError("that text is too long")
                return a + b
            raise VariantError("arithmetic needs numbers (text can only be joined with +)")
        result = function(a, b)
        if isinstance(result, int) and abs(result) > 10**MAX_POWER_DIGITS:
            raise VariantError("that number is too large")
        return result

    return call


def _divide(function: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def call(a: Any, b: Any) -> Any:
        try:
            return function(a, b)
        except ZeroDivisionError:
            raise VariantError("division by zero") from None

    return _checked(call)


OPERATORS: dict[type, Callable[..., Any]] = {
    ast.Add: _checked(operator.add),
    ast.Sub: _checked(operator.sub),
    ast.Mult: _checked(operator.mul),
    ast.Div: _divide(operator.truediv),
    ast.FloorDiv: _divide(operator.floordiv),
    ast.Mod: _divide(operator.mod),
    ast.Pow: _power,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Not: operator.not_,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_ALLOWED_NODES = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.IfExp,
    ast.Call,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.And,
    ast.Or,
    *OPERATORS,
)


@dataclass(frozen=True)
class Expression:
    """A checked expression: parsed once, with the names it reads."""

    source: str
    tree: ast.Expression
    names: frozenset[str]


def parse_expression(source: object) -> Expression:
    """Check an expression's shape (not its names' values); VariantError says what is wrong."""
    if isinstance(source, int | float):  # bool too: True is 1
        source = repr(source)
    if not isinstance(source, str) or not source.strip():
        raise VariantError("an expression must be non-empty text")
    return _parsed(source.strip())


@lru_cache(maxsize=4096)
def _parsed(text: str) -> Expression:
    """Parsed once per text: every learner's page evaluates the same few expressions (the
    tree is never changed, so sharing it is safe; a refusal raises and is not cached)."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise VariantError(f"an expression is at most {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        raise VariantError(f"syntax error in {text!r}: {error.msg}") from None
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_AST_NODES:
        raise VariantError(f"{text!r} is too long an expression (split it with derived:)")
    names: set[str] = set()
    for node in nodes:
        if not isinstance(node, _ALLOWED_NODES):
            raise VariantError(f"{type(node).__name__.lower()} is not allowed in {text!r}")
        if isinstance(node, ast.Constant) and not isinstance(node.value, int | float | str):
            raise VariantError(f"{node.value!r} is not allowed in {text!r}")
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and len(node.value) > MAX_STRING_CHARS
        ):
            raise VariantError("a text in an expression is at most 200 characters")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                shown = node.func.id if isinstance(node.func, ast.Name) else "that"
                raise VariantError(
                    f"unknown function {shown!r}; available: {', '.join(sorted(FUNCTIONS))}"
                )
            if node.keywords:
                raise VariantError("functions take positional arguments only")
        elif isinstance(node, ast.Name) and node.id not in FUNCTIONS:
            names.add(node.id)
    return Expression(text, tree, frozenset(names - set(CONSTANTS)))


def check_names(expression: Expression, known: set[str] | frozenset[str]) -> None:
    unknown = sorted(expression.names - set(known))
    if unknown:
        declared = ", ".join(sorted(known)) or "none declared"
        raise VariantError(f"unknown name {unknown[0]!r} (params and derived: {declared})")


_local = threading.local()


def _evaluator() -> SimpleEval:
    """One evaluator per thread: building one costs more than most evaluations, and an
    evaluator keeps the expression it is evaluating, so threads must not share one."""
    evaluator = getattr(_local, "evaluator", None)
    if evaluator is None:
        evaluator = _local.evaluator = SimpleEval(operators=OPERATORS, functions=FUNCTIONS)
    return evaluator


def evaluate(source: object, values: Mapping[str, Value]) -> Value:
    """The value of an expression for one variant; VariantError for any failure."""
    expression = parse_expression(source)
    check_names(expression, set(values))
    evaluator = _evaluator()
    evaluator.names = {**CONSTANTS, **dict(values)}
    try:
        result = evaluator.eval(expression.source, previously_parsed=expression.tree.body)
    except VariantError:
        raise
    except (ArithmeticError, ValueError, TypeError) as error:
        raise VariantError(f"{expression.source!r}: {error}") from None
    except Exception as error:  # simpleeval's own refusals
        raise VariantError(f"{expression.source!r}: {error}") from None
    if isinstance(result, bool):
        return int(result)
    if isinstance(result, float) and not math.isfinite(result):
        raise VariantError(f"{expression.source!r} is not a finite number ({result})")
    if not isinstance(result, int | float | str):
        raise VariantError(f"{expression.source!r} is not a number or text")
    return result


def evaluate_number(source: object, values: Mapping[str, Value]) -> float:
    if isinstance(source, int | float) and not isinstance(source, bool):
        return float(source)
    result = evaluate(source, values)
    if isinstance(result, str):
        raise VariantError(f"{str(source).strip()!r} gives text ({result!r}), not a number")
    return float(result)


# -- parameters -------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One parameter: the values it may take, in order."""

    name: str
    choices: tuple[Value, ...] = ()
    start: float = 0
    step: float = 1
    count: int = 0
    integer: bool = False

    @property
    def size(self) -> int:
        return len(self.choices) if self.choices else self.count

    def value(self, index: int) -> Value:
        if self.choices:
            return self.choices[index]
        if self.integer:
            return int(self.start) + index * int(self.step)
        return round(self.start + index * self.step, 12)

    def values(self) -> Iterator[Value]:
        return (self.value(i) for i in range(self.size))


MAX_RANGE_VALUES = 1_000_000


def parse_param(name: str, spec: object) -> Param:
    """A parameter from its YAML mapping; VariantError naming the problem."""
    if not isinstance(spec, Mapping):
        raise VariantError("must be a mapping: {min, max, step} or {choices: [...]}")
    keys = set(spec)
    if "choices" in keys:
        if keys != {"choices"}:
            raise VariantError("give either choices or min, max and step, not both")
        choices = spec["choices"]
        if not isinstance(choices, list) or not 2 <= len(choices) <= MAX_CHOICES:
            raise VariantError(f"choices must be a list of 2 to {MAX_CHOICES} values")
        for choice in choices:
            if isinstance(choice, bool) or not isinstance(choice, int | float | str):
                raise VariantError(f"a choice must be a number or text, not {choice!r}")
            if isinstance(choice, float) and not math.isfinite(choice):
                raise VariantError("a choice must be a finite number")
            if isinstance(choice, str) and len(choice) > MAX_STRING_CHARS:
                raise VariantError("a text choice is at most 200 characters")
        if len(set(map(repr, choices))) != len(choices):
            raise VariantError("a choice is listed twice")
        return Param(name, choices=tuple(choices))
    missing = [key for key in ("min", "max", "step") if key not in keys]
    if missing:
        raise VariantError(f"needs min, max and step (missing {', '.join(missing)})")
    extra = sorted(keys - {"min", "max", "step"})
    if extra:
        raise VariantError(f"unknown key {extra[0]!r} (use min, max, step or choices)")
    low, high, step = (_range_number(spec[key], key) for key in ("min", "max", "step"))
    if step <= 0:
        raise VariantError("step must be greater than 0")
    if high <= low:
        raise VariantError(f"max ({_show(high)}) must be greater than min ({_show(low)})")
    span = (high - low) / step
    count = round(span)
    if abs(span - count) > 1e-9 * max(1.0, span):
        raise VariantError(
            f"max ({_show(high)}) is not min plus a whole number of steps of {_show(step)}"
        )
    if count + 1 > MAX_RANGE_VALUES:
        raise VariantError(f"the range has more than {MAX_RANGE_VALUES:,} values")
    integer = all(isinstance(spec[key], int) for key in ("min", "max", "step"))
    return Param(name, start=low, step=step, count=count + 1, integer=integer)


def _range_number(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise VariantError(f"{key} must be a number")
    if abs(value) > 1e15:
        raise VariantError(f"{key} must be at most 1e15 in size")
    return value


def check_name(name: object, taken: set[str]) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise VariantError(
            "a name is letters, digits and _ (not starting with a digit), up to 40 characters"
        )
    if name in RESERVED:
        raise VariantError(f"{name!r} is a function or constant name; choose another")
    if name in taken:
        raise VariantError(f"{name!r} is declared twice")
    return name


@dataclass(frozen=True)
class VariantSpec:
    """A question's parameters and derived values, checked."""

    params: tuple[Param, ...]
    derived: tuple[tuple[str, Expression], ...]

    @property
    def names(self) -> frozenset[str]:
        return frozenset(p.name for p in self.params) | {name for name, _ in self.derived}

    @property
    def size(self) -> int:
        """How many distinct parameter combinations there are."""
        return math.prod(param.size for param in self.params)

    def complete(self, params: Mapping[str, Value]) -> Values:
        """Parameter values with every derived value added, in order."""
        values: Values = {p.name: params[p.name] for p in self.params}
        for name, expression in self.derived:
            values[name] = evaluate(expression.source, values)
        return values

    def draw(self, seed: int) -> Values:
        """The parameter values drawn for `seed` (derived values not included)."""
        rng = Random(seed)
        return {param.name: param.value(rng.randrange(param.size)) for param in self.params}

    def accepts(self, params: object) -> bool:
        """Whether a recorded variant still names exactly this spec's parameters."""
        return isinstance(params, Mapping) and set(params) == {p.name for p in self.params}


@dataclass(frozen=True)
class SpecProblem:
    """A problem in `params:`/`derived:` at a path below the question (e.g. ("params", "n"))."""

    path: tuple[str, ...]
    message: str


def parse_spec(params: object, derived: object) -> tuple[VariantSpec | None, list[SpecProblem]]:
    """The question's variant spec, or None with every problem found."""
    problems: list[SpecProblem] = []
    parsed_params: list[Param] = []
    taken: set[str] = set()
    if params is not None and not isinstance(params, Mapping):
        return None, [SpecProblem(("params",), "must be a mapping of name: {min, max, step}")]
    if derived is not None and not isinstance(derived, Mapping):
        return None, [SpecProblem(("derived",), "must be a mapping of name: expression")]
    params = params or {}
    derived = derived or {}
    if len(params) > MAX_PARAMS:
        problems.append(SpecProblem(("params",), f"at most {MAX_PARAMS} parameters"))
    if derived and not params:
        problems.append(SpecProblem(("derived",), "derived values need params: to derive from"))
    for name, spec in params.items():
        try:
            check_name(name, taken)
            parsed_params.append(parse_param(name, spec))
        except VariantError as error:
            problems.append(SpecProblem(("params", str(name)), str(error)))
        taken.add(str(name))
    if len(derived) > MAX_DERIVED:
        problems.append(SpecProblem(("derived",), f"at most {MAX_DERIVED} derived values"))
    parsed_derived: list[tuple[str, Expression]] = []
    for name, source in derived.items():
        try:
            check_name(name, taken)
            expression = parse_expression(source)
            check_names(expression, taken)
            parsed_derived.append((name, expression))
        except VariantError as error:
            problems.append(SpecProblem(("derived", str(name)), str(error)))
        taken.add(str(name))
    if problems or not parsed_params:
        return None, problems
    return VariantSpec(tuple(parsed_params), tuple(parsed_derived)), []


def spec_from_stored(stored: Mapping[str, Any] | None) -> VariantSpec | None:
    """The spec kept with an imported question ({"params": ..., "derived": ...})."""
    if not stored:
        return None
    spec, problems = parse_spec(stored.get("params"), stored.get("derived"))
    return None if problems else spec


def variant_seed(learner_key: str, question_slug: str, epoch: int = 0) -> int:
    """A stable seed per learner, question and epoch, the same in every process."""
    text = f"variant\0{learner_key}\0{question_slug}\0{int(epoch)}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def distinct_draws(spec: VariantSpec, slug: str, count: int, purpose: str) -> list[Values]:
    """Up to `count` distinct parameter sets of `slug`'s spec (all of them when there are
    fewer), drawn from seeds named by `purpose`, so each purpose sees the same sets each time."""
    seen: dict[tuple, Values] = {}
    for index in range(count * 4):
        params = spec.draw(variant_seed(f"{purpose}:{index}", slug))
        seen.setdefault(tuple(params.items()), params)
        if len(seen) >= min(count, spec.size):
            break
    return list(seen.values())


# -- texts --------------------------------------------------------------------------------


def format_value(value: Value) -> str:
    """How a value shows in a text: integers as they are, other numbers with up to 12
    significant digits (1/3 shows 0.333333333333; use sig() to choose)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.12g}"


def template_expressions(text: str) -> Iterator[tuple[int, str]]:
    """Each `{{ expr }}` of a text with the 0-based line it starts on."""
    for match in TEMPLATE.finditer(text):
        yield text.count("\n", 0, match.start()), match.group(1)


def has_template(text: object) -> bool:
    return isinstance(text, str) and "{{" in text


def substitute(text: str, values: Mapping[str, Value]) -> str:
    """The text with every `{{ expr }}` replaced by its value."""
    if "{{" not in text:
        return text
    return TEMPLATE.sub(lambda match: format_value(evaluate(match.group(1), values)), text)


def store_text(container: Any, path: tuple[str | int, ...], text: str, html: str) -> None:
    """Put `text` at `path` and its `html` beside it: `name_html` for a field, `list_html[i]`
    for the i-th text of a list (e.g. a hint)."""
    *parents, last = path
    if isinstance(last, int):
        *parents, list_name = parents
        for key in parents:
            container = container[key]
        container[list_name][last] = text
        rendered = container.get(f"{list_name}_html")
        if not isinstance(rendered, list) or len(rendered) != len(container[list_name]):
            rendered = container[f"{list_name}_html"] = [""] * len(container[list_name])
        rendered[last] = html
        return
    for key in parents:
        container = container[key]
    container[last] = text
    container[f"{last}_html"] = html
