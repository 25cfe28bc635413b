"""Visual reports: a training run's (matplotlib figures plus a self-contained HTML page) and a scored corpus's.

``write_report(run_dirs, output=None, n_boot=1000)`` (see :mod:`stance.reporting.report`)
writes ``report.html`` (figures embedded as data URIs), ``report.md`` and the PNG figures;
:func:`stance.reporting.corpus.write_corpus_report` does the same for a ``stance-score`` output.

Modules: :mod:`~stance.reporting.document` (document model, number formats),
:mod:`~stance.reporting.render` (HTML and Markdown), :mod:`~stance.reporting.plots` (figures),
:mod:`~stance.reporting.report` and :mod:`~stance.reporting.report_bias` (run report),
:mod:`~stance.reporting.corpus`, :mod:`~stance.reporting.corpus_tables`,
:mod:`~stance.reporting.corpus_time` and :mod:`~stance.reporting.corpus_compare` (corpus report).
"""

from __future__ import annotations

from stance.reporting.report import ReportInputError, write_report

__all__ = ["ReportInputError", "write_report"]
