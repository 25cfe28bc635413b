"""Generate the synthetic sample corpus and its gold labels from the authoring files.

The authoring files (data/sample/synthetic/authoring/*.jsonl) hold one article per line:
``{"id", "source", "title", "date", "paragraphs": [[[label, sentence], ...], ...]}``, with a
label written by hand for every sentence. This script joins the sentences into article text,
checks that the package's own cleaner and segmenter give back exactly the authored sentences
(so every label lands on the sentence it was written for), and writes

- data/sample/synthetic/articles.jsonl  (id, source, title, date, text)
- data/sample/annotations/gold_synthetic.jsonl  (sentence_id, article_id, source, label, text)

Usage: python scripts/make_sample.py [--check]   (--check validates without writing)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from stance.data.cleaning import Cleaner
from stance.data.segment import Segmenter, assign_ids
from stance.resources import bundled_scheme

LABELS = tuple(bundled_scheme("pak_afghan").label_list)

ROOT = Path(__file__).resolve().parents[1]
SYN = ROOT / "data" / "sample" / "synthetic"
GOLD = ROOT / "data" / "sample" / "annotations" / "gold_synthetic.jsonl"
GOLD_VERSION = "1"


def load_authoring(paths: list[Path]) -> list[dict]:
    articles = []
    for path in paths:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                art = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"{path}:{n}: invalid JSON: {e}")
            art["_where"] = f"{path.name}:{n}"
            articles.append(art)
    return articles


def _authored_sentences(art: dict, where: str, problems: list[str]) -> list[tuple[str, str]]:
    """The article's (label, sentence) items; malformed ones go to ``problems``."""
    authored = []
    for para in art["paragraphs"]:
        for item in para:
            if not (isinstance(item, list) and len(item) == 2 and item[0] in LABELS):
                problems.append(f"{where} ({art['id']}): bad sentence item {item!r}")
                continue
            authored.append(tuple(item))
    return authored


def _first_mismatch(got: list[str], want: list[str]) -> tuple[int, str | None, str | None] | None:
    """(index, segmented, authored) of the first sentence that differs, None when all agree."""
    for i in range(max(len(got), len(want))):
        g = got[i] if i < len(got) else None
        w = want[i] if i < len(want) else None
        if g != w:
            return i, g, w
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="validate only, write nothing")
    ap.add_argument("files", nargs="*", type=Path, help="authoring files (default: all)")
    args = ap.parse_args()
    files = args.files or sorted((SYN / "authoring").glob("*.jsonl"))
    cleaner, seg = Cleaner(), Segmenter()
    problems, out_articles, gold = [], [], []
    ids, labels, sources = Counter(), Counter(), Counter()
    for art in load_authoring(files):
        where = art["_where"]
        for key in ("id", "source", "title", "date", "paragraphs"):
            if key not in art:
                problems.append(f"{where}: missing field {key!r}")
        if problems and problems[-1].startswith(where):
            continue
        ids[art["id"]] += 1
        authored = _authored_sentences(art, where, problems)
        text = "\n\n".join(" ".join(s for _, s in para) for para in art["paragraphs"])
        cleaned = cleaner.clean(text, title=art["title"])
        got = seg.split(cleaned.lines)
        mismatch = _first_mismatch(got, [s for _, s in authored])
        if mismatch is not None:
            i, g, w = mismatch
            problems.append(
                f"{where} ({art['id']}): sentence {i} segmented differently\n"
                f"    authored : {w!r}\n    segmenter: {g!r}"
                + (f"\n    cleaner removed: {cleaned.removed_lines}" if cleaned.removed else "")
            )
            continue
        for (sid, s), (label, _) in zip(assign_ids(art["id"], got), authored):
            gold.append(
                {"sentence_id": sid, "article_id": art["id"], "source": art["source"],
                 "label": label, "text": s, "annotator": "synthetic-author", "version": GOLD_VERSION}
            )
            labels[label] += 1
        sources[art["source"]] += 1
        out_articles.append({k: art[k] for k in ("id", "source", "title", "date")} | {"text": text})
    problems += [f"duplicate article id {i!r} ({n} times)" for i, n in ids.items() if n > 1]
    print(f"{len(out_articles)} articles, {len(gold)} sentences, {len(sources)} outlets")
    print("labels:", dict(labels))
    print("articles per outlet:", dict(sources))
    if problems:
        print(f"\n{len(problems)} problem(s):")
        print("\n".join(problems))
        return 1
    if not args.check:
        SYN.joinpath("articles.jsonl").write_text(
            "".join(json.dumps(a, ensure_ascii=False) + "\n" for a in out_articles), encoding="utf-8"
        )
        GOLD.parent.mkdir(parents=True, exist_ok=True)
        GOLD.write_text("".join(json.dumps(g, ensure_ascii=False) + "\n" for g in gold), encoding="utf-8")
        print(f"wrote {SYN / 'articles.jsonl'} and {GOLD}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
