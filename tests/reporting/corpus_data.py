"""A generated score output for the corpus-report tests: fictional outlets, dated articles and
sentence labels chosen here, written with the package's own ScoreWriter (the documented layout).

Every label, probability, attribution and date is a pure function of the source and article
position, so a test can recompute any per-source or per-week figure by hand from
:func:`corpus_spec` without the package's statistics.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stance.scheme import Scheme
from stance.scoring.writer import ScoreWriter

START = dt.date(2025, 10, 6)  # a Monday

# symmetric validation confusion matrix: P(pred = true) = 0.8, 0.1 each other label, so the
# prevalence-corrected share of a label is (observed share - 0.1) / 0.7
CONFUSION = [[8, 1, 1], [1, 8, 1], [1, 1, 8]]


def source_names(n: int, long_names: bool = False) -> list[str]:
    """Fictional outlets: ``Alpha Herald``, ``Beta Courier`` ... (optionally some very long names)."""
    words = ["Alpha", "Beta", "Gamma", "Delta", "Epsilon", "Zeta", "Eta", "Theta", "Iota", "Kappa", "Lambda",
             "Mu", "Nu", "Xi", "Omicron", "Pi", "Rho", "Sigma", "Tau", "Upsilon", "Phi", "Chi", "Psi", "Omega"]
    kinds = ["Herald", "Courier", "Gazette", "Tribune", "Ledger", "Sentinel", "Observer"]
    out = []
    for i in range(n):
        name = f"{words[i % len(words)]} {kinds[i % len(kinds)]}" + (f" {i // len(words) + 1}" if i >= len(words) else "")
        if long_names and i % 5 == 4:
            name = f"The Independent Evening {name} of the Northern Valleys and Mountain Districts"
        out.append(name)
    return out


def article_labels(si: int, aj: int, labels: Sequence[str]) -> list[str]:
    """The labels of article ``aj`` of source ``si``: 4-7 sentences, tilted by the source."""
    pi, pk, ne = labels[:3]
    n = 4 + (si + aj) % 4
    pattern = [pi, pi, ne, pk] if si % 3 == 0 else ([pk, pk, ne, pi] if si % 3 == 1 else [ne, pi, pk, ne])
    return [pattern[(aj + k) % 4] for k in range(n)]


def corpus_spec(n_sources: int = 14, n_articles: int = 6, *, single_article_source: bool = True,
                dated: bool = True, long_names: bool = False, labels: Sequence[str]) -> list[dict[str, Any]]:
    """Articles as dicts: ``id``, ``source``, ``date`` (every 3 days from :data:`START`, or None),
    ``url`` and ``sentences`` (label, confidence, attributed, speaker_side, text)."""
    names = source_names(n_sources, long_names)
    sides = ["islamabad", "kabul", "third_party", None]
    arts = []
    for si, src in enumerate(names):
        n_art = 1 if (single_article_source and si == n_sources - 1) else n_articles
        for aj in range(n_art):
            aid = f"s{si:02d}-a{aj:02d}"
            sents = []
            for k, lab in enumerate(article_labels(si, aj, labels)):
                attributed = k % 3 == 1
                sents.append({
                    "label": lab,
                    "confidence": round(0.5 + ((si * 7 + aj * 5 + k * 3) % 45) / 100, 2),
                    "attributed": attributed,
                    "speaker_side": sides[(si + aj + k) % 4] if attributed else None,
                    "text": f"Sentence {k + 1} of story {aj + 1} from the {src} desk on the crossing talks.",
                })
            arts.append({"id": aid, "source": src,
                         "date": (START + dt.timedelta(days=3 * aj + si % 2)).isoformat() if dated else None,
                         "url": f"https://news.example/{aid}", "title": f"Story {aj + 1}", "sentences": sents})
    return arts


def write_output(path: Path, scheme: Scheme, articles: list[dict[str, Any]], *, kind: str = "tfidf",
                 weights: str = "w1", model_info: dict[str, Any] | None = None,
                 relabel: Any = None) -> Path:
    """Write ``articles`` (:func:`corpus_spec`) as a finished score output at ``path``.

    ``relabel(article_id, k, label) -> label`` changes labels (a second model)."""
    labels = scheme.label_list
    fp = {"kind": kind, "data_fingerprint": "generated", "model_sha256": weights, "fast": "none",
          "level": "article", "preprocessing_sha256": "p", "path": None}
    w = ScoreWriter(path, fingerprint=fp, scheme=scheme)
    w.open()
    try:
        ids, records, meta = [], [], {}
        for a in articles:
            ids.append(a["id"])
            meta[a["id"]] = {"title": a["title"], "date": a["date"], "url": a["url"]}
            for k, s in enumerate(a["sentences"]):
                lab = relabel(a["id"], k, s["label"]) if relabel else s["label"]
                rest = (1.0 - s["confidence"]) / (len(labels) - 1)
                records.append({"article_id": a["id"], "sentence_id": f"{a['id']}-{k:03d}", "source": a["source"],
                                "text": s["text"], "label": lab,
                                **{f"proba_{c}": (s["confidence"] if c == lab else rest) for c in labels},
                                "attributed": s["attributed"], "speaker_side": s["speaker_side"]})
        w.write_chunk(ids, records, meta=meta)
        info = model_info if model_info is not None else {
            "kind": kind, "data_name": "generated", "label_source": "gold", "temperature": None,
            "validation_confusion_matrix": CONFUSION,
            "metrics": {"validation": {"n": 300, "n_articles": 40, "macro_f1": 0.81,
                                       "macro_f1_ci": {"low": 0.76, "high": 0.86}, "accuracy": 0.83, "ece": 0.04}}}
        w.finalize(confusion=info.get("validation_confusion_matrix"), run_info={"model_info": info},
                   source_options={"n_boot": 50})
    finally:
        w.close()
    return path
