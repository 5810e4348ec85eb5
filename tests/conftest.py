"""Shared fixtures for the fastact test suite.

`impl`  -> the public API module `fastact` (whatever backend is active)
`twin`  -> `fastact.numpy_impl` (the NumPy twin)
`mode`  -> accuracy class of `impl`: "native" or "twin" (FASTACT_BACKEND=numpy)
`module` (parametrised) -> both of them, for tests that must hold for each.
`restore_threads` -> puts fastact's thread count back after a test that sets it.
"""

import os
import sys

import numpy as np
import pytest

# tests/ itself, for `import _ref` (also under --import-mode=importlib).  The
# project root is deliberately not added: `fastact` must be the installed
# package (editable: the source tree; regular: site-packages).  Prepending the
# root would shadow a regular install with the tree's unbuilt fastact/, e.g.
# when the tests run from an unpacked sdist.
HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)


def _fastact():
    import fastact  # noqa: WPS433  (fails loudly if the package is missing)
    return fastact


@pytest.fixture(scope="session")
def fastact_pkg():
    return _fastact()


@pytest.fixture(scope="session")
def impl(fastact_pkg):
    return fastact_pkg


@pytest.fixture(scope="session")
def twin(fastact_pkg):
    return fastact_pkg.numpy_impl


@pytest.fixture(scope="session")
def mode(fastact_pkg):
    """Accuracy class of the public API under the active backend."""
    return "twin" if fastact_pkg.BACKEND == "numpy" else "native"


@pytest.fixture(scope="session", params=["public", "twin"])
def module(request, fastact_pkg):
    """Both the public API and the NumPy twin (tests that must hold for each)."""
    if request.param == "public":
        return fastact_pkg
    return fastact_pkg.numpy_impl


@pytest.fixture(scope="session", params=["public", "twin"])
def module_mode(request, fastact_pkg):
    """(module, accuracy mode) for the public API and for the twin."""
    if request.param == "public":
        m = "twin" if fastact_pkg.BACKEND == "numpy" else "native"
        return fastact_pkg, m
    return fastact_pkg.numpy_impl, "twin"


@pytest.fixture
def restore_threads(fastact_pkg):
    n = fastact_pkg.get_num_threads()
    yield
    fastact_pkg.set_num_threads(n)


@pytest.fixture(autouse=True)
def _no_numpy_warnings_as_errors():
    # Special values (inf/NaN) legitimately produce RuntimeWarnings inside
    # the twin; tests check values, not warnings.
    with np.errstate(all="ignore"):
        yield
