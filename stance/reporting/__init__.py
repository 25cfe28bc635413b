"""Visual report of a training run: matplotlib figures plus a self-contained HTML page.

``write_report(run_dirs, output=None, n_boot=1000)`` (see :mod:`stance.reporting.report`)
writes ``report.html`` (figures embedded as data URIs), ``report.md`` and the PNG figures.
"""

from __future__ import annotations

from stance.reporting.report import ReportInputError, write_report

__all__ = ["ReportInputError", "write_report"]
