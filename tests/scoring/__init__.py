"""Shared helpers for the scoring tests: a small in-test corpus and cached TF-IDF models.

Each test module wraps these in its own session-scoped fixture; the models are trained once
per process (a few seconds) and saved under a temporary folder.
"""

from __future__ import annotations

import functools
import json
import random
import tempfile
from pathlib import Path

from tests.schemes import LABELS, PAK

PI, PK, NE = LABELS

_TEMPLATES = {
    PI: [
        "Pakistan's forces gave a crushing response to unprovoked aggression from across the border.",
        "The brave soldiers of Pakistan defended the nation against terrorist sanctuaries in Afghanistan.",
        "Islamabad showed great restraint while the Taliban regime sheltered the Khawarij.",
        "Pakistan rightly demanded that Kabul stop harbouring terrorists who attack its people.",
    ],
    PK: [
        "Afghan forces bravely repelled the Pakistani incursion and defended their homeland.",
        "The Islamic Emirate condemned the illegal Pakistani air strikes on civilian homes.",
        "Kabul said Pakistan's military was blaming Afghanistan for its own security failures.",
        "Afghan defenders captured several Pakistani posts after the unprovoked shelling.",
    ],
    NE: [
        "Talks between the two delegations are scheduled to resume in Istanbul next week.",
        "The border crossing at Torkham remained closed on Tuesday, officials said.",
        "Qatar and Turkey offered to mediate between the neighbours.",
        "Trade between the two countries fell sharply during the month.",
    ],
}
_FILLERS = ["", " Reports said so.", " Residents described the situation.", " The statement was brief."]


def training_corpus(n_per_label: int = 40, seed: int = 0) -> tuple[list[str], list[str]]:
    """Labelled sentences: template sentences with small variations."""
    rng = random.Random(seed)
    texts, labels = [], []
    for label, templates in _TEMPLATES.items():
        for i in range(n_per_label):
            t = templates[i % len(templates)]
            texts.append(t + rng.choice(_FILLERS))
            labels.append(label)
    return texts, labels


def article_texts(n: int, seed: int = 1) -> list[str]:
    """``n`` news-like article bodies of 3-6 paragraphs, each of 1-3 template sentences."""
    rng = random.Random(seed)
    pool = [s for ts in _TEMPLATES.values() for s in ts]
    out = []
    for _ in range(n):
        paras = [" ".join(rng.sample(pool, rng.randint(1, 3))) for _ in range(rng.randint(3, 6))]
        out.append("\n\n".join(paras))
    return out


def article_rows(n: int = 12, seed: int = 1) -> list[dict]:
    """Article dicts (id, source, title, text) over three sources."""
    sources = ["Dawn", "Tolo News", "Wire"]
    return [
        {"id": f"art-{i:03d}", "source": sources[i % 3], "title": f"Story number {i}", "text": t}
        for i, t in enumerate(article_texts(n, seed))
    ]


def write_jsonl(path: Path, rows: list[dict], raw_lines: dict[int, str] | None = None) -> Path:
    """Rows as JSONL; ``raw_lines`` inserts raw text at 1-based line positions."""
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    for pos, raw in sorted((raw_lines or {}).items()):
        lines.insert(pos - 1, raw)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_article_dir(root: Path, rows: list[dict]) -> Path:
    """One ``.txt`` file per article in a sub-directory named after its source."""
    for r in rows:
        d = root / r["source"].replace(" ", "_")
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{r['id']}.txt").write_text(r["title"] + "\n\n" + r["text"], encoding="utf-8")
    return root


@functools.cache
def tfidf_model_dir(C: float = 4.0) -> Path:
    """A TF-IDF model trained on :func:`training_corpus` and saved with a data fingerprint
    and a validation confusion matrix (cached per process)."""
    from stance.models.tfidf import TfidfClassifier

    texts, labels = training_corpus()
    model = TfidfClassifier(C=C, max_iter=500).fit(texts, labels, scheme=PAK)
    out = Path(tempfile.mkdtemp(prefix="stance-score-test-")) / f"tfidf-C{C}"
    model.save(out, extra={
        "data_fingerprint": "test-corpus-v1",
        "validation_confusion_matrix": [[18, 1, 1], [1, 17, 2], [1, 1, 18]],
    })
    return out
