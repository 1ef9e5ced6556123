"""Typed, validated component options built on attrs.

A component declares ``Options`` as an ``@attrs.frozen`` class whose fields come from
:func:`option`. The same converters and validators run whether a value comes from a CLI
string (``"0.1"``), a TOML file, a Python call or a reloaded ``.keras`` file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import builtins

import attrs

from daekit.errors import ConfigError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError(f"expected true or false, got {value!r}")


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise ValueError(f"expected an integer, got {value!r}") from None


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a number, got {value!r}") from None
    if not math.isfinite(number):  # no setting or option can use NaN or infinity
        raise ValueError(f"expected a finite number, got {value!r}")
    return number


def _to_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


_SCALAR_CONVERTERS = {bool: _to_bool, int: _to_int, float: _to_float, str: _to_str}


def _tuple_converter(element):
    def convert(value: Any) -> tuple:
        if isinstance(value, str):
            value = [part for part in value.replace(" ", "").split(",") if part]
        if not isinstance(value, Sequence):
            raise ValueError(f"expected a comma-separated list, got {value!r}")
        return tuple(element(item) for item in value)

    return convert


def option(
    default: Any,
    *,
    help: str,
    min: float | None = None,
    max: float | None = None,
    min_exclusive: float | None = None,
    choices: Sequence[Any] | None = None,
    nonempty: bool = False,
    type: type | None = None,
    metadata: dict[str, Any] | None = None,
) -> Any:
    """Declare one option of a component: its default, help text and constraints.

    The converter follows the default's type (bool, int, float, str, or a tuple of one of
    them, written on the command line as ``32,64,128``). Bounds apply to every element of
    a tuple.

    Args:
        default: The default value; its type fixes how strings are converted.
        help: One sentence for ``daekit components`` and the docs.
        min: Smallest allowed value (inclusive).
        max: Largest allowed value (inclusive).
        min_exclusive: Values must be strictly greater than this.
        choices: The only values allowed.
        nonempty: For tuples, refuse an empty tuple.
        type: The value type when ``default`` is ``None`` (the option is then optional).
        metadata: More entries for the field's metadata (training settings keep their CLI
            names and whether a resumed run may change them there).
    """
    if isinstance(default, tuple):
        element = _SCALAR_CONVERTERS[builtins.type(default[0]) if default else int]
        converter = _tuple_converter(element)
    elif default is None:
        scalar = _SCALAR_CONVERTERS[type]

        def converter(value):
            return None if value is None or value == "" else scalar(value)
    else:
        converter = _SCALAR_CONVERTERS[builtins.type(default)]

    def check(instance, attribute, value):
        if value is None:
            return
        items = value if isinstance(value, tuple) else (value,)
        if nonempty and isinstance(value, tuple) and not value:
            raise ValueError("must not be empty")
        for item in items:
            if choices is not None and item not in choices:
                raise ValueError(f"must be one of {', '.join(map(str, choices))}; got {item!r}")
            if min is not None and item < min:
                raise ValueError(f"must be >= {min}; got {item!r}")
            if max is not None and item > max:
                raise ValueError(f"must be <= {max}; got {item!r}")
            if min_exclusive is not None and item <= min_exclusive:
                raise ValueError(f"must be > {min_exclusive}; got {item!r}")

    return attrs.field(
        default=default,
        converter=converter,
        validator=check,
        metadata={"help": help, "choices": choices, **(metadata or {})},
    )


@attrs.frozen
class NoOptions:
    """Options of a component that takes none."""


def option_fields(options_cls: type) -> dict[str, attrs.Attribute]:
    """The fields of an ``Options`` class, by name."""
    return {field.name: field for field in attrs.fields(options_cls)}


def build_options(options_cls: type, values: Mapping[str, Any], owner: str):
    """Convert and validate ``values`` into ``options_cls``, reporting every bad field.

    Args:
        options_cls: An attrs class declared with :func:`option` fields.
        values: Raw values, strings from the CLI or typed values from Python or JSON.
        owner: How to name the component in messages, for example ``"corruption 'gaussian'"``.

    Raises:
        ConfigError: One line per unknown or invalid option.
    """
    fields = option_fields(options_cls)
    problems = []
    for key in values:
        if key not in fields:
            known = ", ".join(fields) or "none"
            problems.append(f"{owner}: unknown option {key!r} (options: {known})")
    good = {key: value for key, value in values.items() if key in fields}
    for key, value in good.items():
        try:
            options_cls(**{key: value})
        except (ValueError, TypeError, ConfigError) as exc:
            problems.append(f"{owner}: {key}={value!r}: {exc}")
    if problems:
        raise ConfigError(problems)
    try:
        return options_cls(**good)
    except (ValueError, TypeError) as exc:  # a constraint between several options
        raise ConfigError(f"{owner}: {exc}") from None


def options_to_dict(options) -> dict[str, Any]:
    """Options as plain JSON-friendly values (tuples become lists)."""
    return {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in attrs.asdict(options, recurse=False).items()
    }
