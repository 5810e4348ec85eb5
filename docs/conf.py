"""Sphinx configuration of fastact's documentation (built by ``.ci/docs``).

The API reference is autodoc + numpydoc over the docstrings of the fastact
that Python imports here: run Sphinx from the repository root after building
the extension in place (``pip install -e .`` or ``python setup.py build_ext
--inplace``), as ``.ci/docs`` does.  numpydoc validates every documented
function (all checks on: a missing section is a build error under ``-W``),
and the doctest builder runs the examples: on the API page with ``fa`` the
public ``fastact``, on the twin's page with ``fa`` the NumPy twin.
"""

import doctest

import fastact

if fastact.BACKEND != "native":
    # the API page's doctests are meant to exercise the native kernels
    raise RuntimeError(
        "build the docs with the native backend: unset FASTACT_BACKEND "
        f"(it is {fastact.BACKEND!r})"
    )

project = "fastact"
author = "the fastact developers"
copyright = "2026, the fastact developers"
release = version = fastact.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "numpydoc",
]

exclude_patterns = ["_build"]
nitpicky = True  # as .ci/docs's -n: every cross-reference must resolve

# The signatures as Python writes them; the types are in the docstrings'
# Parameters (annotations would be unresolvable references to typing/NumPy).
autodoc_typehints = "none"
autosummary_generate = False  # the tables link to the entries on each page

numpydoc_show_class_members = False
numpydoc_xref_param_type = False
# Every check, except where the summary starts (GL01): right after the
# opening quotes, as PEP 257 allows (numpydoc >= 1.8 accepts it as well).
numpydoc_validation_checks = {"all", "GL01"}

# Examples: ``np`` everywhere; ``fa`` per page (its testsetup directive).
doctest_global_setup = "import numpy as np"
doctest_default_flags = doctest.ELLIPSIS | doctest.DONT_ACCEPT_TRUE_FOR_1

html_theme = "alabaster"
html_theme_options = {"description": "fast, accurate softmax & co. for NumPy"}
html_static_path: list = []


def _check_coverage(app, env):
    """Every public name is documented: fastact.__all__ on the API page,
    every op of the twin on its page and every name of fastact.dask.__all__
    on the dask page (a new op cannot be left out)."""
    from sphinx.util import logging

    import fastact.dask as fastact_dask

    logger = logging.getLogger(__name__)
    documented = set(env.get_domain("py").objects)
    wanted = {f"fastact.{name}" for name in fastact.__all__}
    wanted |= {
        f"fastact.numpy_impl.{name}"
        for name in fastact.__all__
        if callable(getattr(fastact.numpy_impl, name, None))
    }
    wanted |= {f"fastact.numpy_impl.{name}" for name in fastact.numpy_impl.__all__}
    wanted |= {f"fastact.dask.{name}" for name in fastact_dask.__all__}
    for name in sorted(wanted - documented):
        logger.warning("public name %s is not documented", name)


def setup(app):
    app.connect("env-check-consistency", _check_coverage)
