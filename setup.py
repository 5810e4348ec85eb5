"""Build of the fastact extension: one Cython module linking the C kernels.

Flags: -O3 and no -march (a wheel must run on any x86-64), no -ffast-math
(it breaks NaN/inf semantics), -fno-trapping-math (see below), -ffp-contract=off (the kernels rely on each
operation rounding once: TwoSum, Cody-Waite reduction)."""

import sys
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

SRC_C = sorted(str(p) for p in Path("src_c").glob("*.c"))

macros = [("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION")]
link_args = []
if sys.platform == "win32":
    compile_args = ["/O2", "/fp:precise"]
else:
    # worker threads (src_c/threads.c); without them everything runs serially
    macros.append(("FA_HAVE_PTHREADS", "1"))
    link_args.append("-pthread")
    compile_args = [
        "-O3",
        "-ffp-contract=off",
        # FP ops may be evaluated speculatively (lets GCC if-convert and
        # vectorise the kernels' selects); results and NaN/inf are unchanged,
        # only the sticky FP exception flags are not meaningful.
        "-fno-trapping-math",
        "-Wall",
        "-Wno-unused-function",
        "-pthread",
    ]

ext = Extension(
    "fastact._native",
    sources=["fastact/_native.pyx", *SRC_C],
    include_dirs=[np.get_include(), "src_c"],
    define_macros=macros,
    extra_compile_args=compile_args,
    extra_link_args=link_args,
    depends=sorted(str(p) for p in Path("src_c").glob("*.h")),
)

setup(
    ext_modules=cythonize(
        [ext],
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False},
    ),
)
