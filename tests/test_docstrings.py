"""numpydoc validation of the docstrings (as scikit-learn's test_docstrings.py)."""

import ast
import inspect
import re

import pytest

numpydoc_validate = pytest.importorskip("numpydoc.validate")

from sklearn_elman import (  # noqa: E402
    ElmanClassifier,
    ElmanForecaster,
    ElmanRegressor,
    SequenceScaler,
    _elman,
    _runtime,
    _sequences,
    _solvers,
    _transforms,
)

# Checks not applied, as in scikit-learn: extended summaries, See Also and
# Examples sections are not required of every method, and a named return value
# ("self : ElmanClassifier") is allowed.
IGNORED = {"ES01", "SA01", "EX01", "RT02", "GL08"}
# The maths modules' summaries may be noun phrases ("Logits of the output layer.").
IGNORED_PRIVATE = IGNORED | {"SS05"}

METHODS = {
    "ElmanClassifier": (
        "fit",
        "partial_fit",
        "predict",
        "predict_proba",
        "predict_log_proba",
        "reset_context",
        "hidden_states",
        "set_callbacks",
    ),
    "ElmanRegressor": (
        "fit",
        "partial_fit",
        "predict",
        "forecast",
        "reset_context",
        "hidden_states",
        "set_callbacks",
    ),
    "SequenceScaler": ("fit", "transform", "inverse_transform", "set_callbacks"),
    "ElmanForecaster": ("fit", "predict", "predict_interval", "default_regressor"),
}
PUBLIC = [f"sklearn_elman.{cls}" for cls in METHODS] + [
    f"sklearn_elman.{cls}.{name}" for cls, names in METHODS.items() for name in names
]


def module_functions():
    for module in (_elman, _solvers, _sequences, _runtime, _transforms):
        for name, obj in inspect.getmembers(module, inspect.isfunction):
            if not name.startswith("_") and obj.__module__ == module.__name__:
                yield f"{module.__name__}.{name}"


def errors_of(name, ignored):
    result = numpydoc_validate.validate(name)
    return [f"{code}: {message}" for code, message in result["errors"]
            if code not in ignored]  # fmt: skip


@pytest.mark.parametrize("name", PUBLIC)
def test_public_docstrings(name):
    assert errors_of(name, IGNORED) == []


@pytest.mark.parametrize("name", sorted(module_functions()))
def test_maths_and_solver_docstrings(name):
    assert errors_of(name, IGNORED_PRIVATE) == []


@pytest.mark.parametrize(
    "name", ["sklearn_elman.onnx.register", "sklearn_elman.onnx.to_onnx"]
)
def test_onnx_docstrings(name):
    pytest.importorskip("skl2onnx")  # the optional onnx extra
    assert errors_of(name, IGNORED) == []


@pytest.mark.parametrize(
    "Estimator", [ElmanClassifier, ElmanRegressor, SequenceScaler, ElmanForecaster]
)
def test_every_parameter_is_documented(Estimator):
    # cleandoc: Python 3.13 strips the indentation of docstrings, older ones do not.
    doc = inspect.cleandoc(Estimator.__doc__)
    for parameter in Estimator().get_params():
        assert f"\n{parameter} : " in doc, parameter
    assert "{" + "parameters}" not in doc and "{" + "attributes}" not in doc


@pytest.mark.parametrize(
    "Estimator", [ElmanClassifier, ElmanRegressor, SequenceScaler, ElmanForecaster]
)
def test_every_documented_default_is_the_signatures(Estimator):
    doc = inspect.cleandoc(Estimator.__doc__)
    for name, value in Estimator().get_params().items():
        line = re.search(rf"^{name} : .*$", doc, flags=re.MULTILINE)[0]
        documented = ast.literal_eval(line.rpartition("default=")[2])
        assert documented == value and type(documented) is type(value), name


@pytest.mark.parametrize("indent", ["", "    ", "        "])
def test_placeholders_are_filled_at_any_indentation(indent):
    """Python 3.13 strips the common indentation of docstrings at compile time."""
    from sklearn_elman._docstring import fill_doc

    def method():
        pass

    method.__doc__ = (
        f"Summary.\n\n{indent}Parameters\n{indent}----------\n"
        f"{indent}{{X}}\n{indent}    Sequences.\n\n{indent}{{sample_weight}}\n"
    )
    doc = fill_doc(method).__doc__
    assert "{" not in doc.replace("{'", "")  # no placeholder left
    assert f"\n{indent}X : array-like of shape" in doc
    assert f"\n{indent}sample_weight : array-like" in doc
    assert f"\n{indent}    Weight of each row's loss" in doc


def test_the_package_imports_without_docstrings():
    """``python -OO`` strips docstrings; scikit-learn imports fine that way."""
    import subprocess
    import sys

    code = (
        "import sys, sklearn_elman\n"
        "from sklearn_elman import ElmanClassifier\n"
        "assert ElmanClassifier.__doc__ is None\n"
        "print(ElmanClassifier(max_iter=2).fit([[0., 1.], [1., 0.]], [0, 1]).n_iter_)"
    )
    result = subprocess.run(
        [sys.executable, "-OO", "-c", code], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2"


def test_the_scaler_does_not_import_the_network_base():
    import ast
    from pathlib import Path

    import sklearn_elman._preprocessing as module

    tree = ast.parse(Path(module.__file__).read_text())
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    }
    assert "sklearn_elman._base" not in imported
