"""Batch scoring of new articles: sentence records, summaries, resumable output, fast paths.

* :mod:`stance.scoring.score` - ``score_articles`` / ``score_sentences`` (pure pipeline) and
  the per-article / per-source summaries;
* :mod:`stance.scoring.to_file` - ``score_to_file``: chunked, resumable JSONL/Parquet output
  (:mod:`stance.scoring.writer`, file layout in :mod:`stance.scoring.records`);
* :mod:`stance.scoring.fast` - feature-identical fast TF-IDF, ONNX int8 / bf16 transformer.
* :mod:`stance.scoring.fast_export` - ONNX export + int8 quantisation (cached), the bf16 copy.
"""

from stance.scoring.score import (
    ScoreStats,
    article_summary,
    score_articles,
    score_sentences,
    source_summary,
)

__all__ = [
    "ScoreStats",
    "article_summary",
    "score_articles",
    "score_sentences",
    "source_summary",
]
