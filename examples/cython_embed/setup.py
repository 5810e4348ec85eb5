"""Build the example's extension in place:

    python setup.py build_ext --inplace

Needs Cython, setuptools and a C compiler; fastact must be installed (its
header directory is fastact.get_include(), its Cython declarations
fastact/capi.pxd, found through `from fastact cimport capi`).  Nothing is
linked against fastact.  OpenMP (the prange over row blocks) with GCC and
MSVC; FASTACT_EXAMPLE_OPENMP=0 builds without it (the loop then runs
serially), e.g. with Apple's clang, which has none."""

import os
import sys

import fastact
from Cython.Build import cythonize
from setuptools import Extension, setup

if os.environ.get("FASTACT_EXAMPLE_OPENMP", "1") == "0":
    openmp = []
else:
    openmp = ["/openmp"] if sys.platform == "win32" else ["-fopenmp"]

ext = Extension(
    "classifier",
    sources=["classifier.pyx"],
    include_dirs=[fastact.get_include()],
    extra_compile_args=openmp,
    extra_link_args=openmp,
)
setup(name="fastact-cython-embed-example", ext_modules=cythonize([ext]))
