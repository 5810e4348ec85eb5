"""Makes fastact's worker threads visible to threadpoolctl: registered when
fastact is imported and threadpoolctl is installed, so that
``threadpool_info()`` lists fastact and ``threadpool_limits(n)`` (or
``threadpool_limits(n, user_api="fastact")``) caps its thread count like
BLAS and OpenMP pools.  A limit above ``fastact.MAX_THREADS`` (256) is
clamped to it."""

from __future__ import annotations

from threadpoolctl import LibController, register


class FastactController(LibController):
    user_api = "fastact"
    internal_api = "fastact"
    filename_prefixes = ("_native",)  # fastact/_native.<abi>.so

    def _ours(self) -> bool:
        # other packages' "_native" modules lack these symbols: leave them be
        return hasattr(self.dynlib, "fa_get_num_threads")

    def get_num_threads(self):
        return self.dynlib.fa_get_num_threads() if self._ours() else None

    def set_num_threads(self, num_threads):
        if self._ours():
            self.dynlib.fa_set_num_threads(int(num_threads))

    def get_version(self):
        if not self._ours():
            return None
        from . import __version__

        return __version__


register(FastactController)
