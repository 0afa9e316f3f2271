"""Every exception the service defines is in the one tree under `PipelineError`."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pipeline
from pipeline.errors import PipelineError

# Running `python -m pipeline` starts the command line: importing it would too.
NOT_IMPORTED = frozenset({"pipeline.__main__"})


def exception_classes() -> set[type[BaseException]]:
    """Every exception class defined at the top level of a module of `pipeline`."""
    found: set[type[BaseException]] = set()
    for module_info in pkgutil.walk_packages(pipeline.__path__, "pipeline."):
        if module_info.name in NOT_IMPORTED:
            continue
        module = importlib.import_module(module_info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__.startswith("pipeline"):
                found.add(value)
    return found


def test_every_exception_is_a_pipeline_error() -> None:
    classes = exception_classes()
    outside = sorted(
        f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, PipelineError)
    )
    assert outside == []
    # The walk did find the classes defined away from errors.py.
    names = {c.__name__ for c in classes}
    assert {"EmailTooLarge", "ConversionError", "ScreeningError", "NotStarted", "TooLarge"} <= names
