"""Dataset assembly: articles -> cleaned, attributed sentences -> gold join -> splits -> dedup.

:func:`build_dataset` is the whole pipeline as one function of already-read corpora and
already-instantiated steps; :func:`write_dataset` is the only part that writes files.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from stance.atomic import atomic_dir
from stance.data.annotations import Annotation, JoinReport, join_labels
from stance.data.attribution import Attributor
from stance.data.cleaning import Cleaner
from stance.data.dataset_dir import REPORT, TABLE
from stance.data.dedup import Deduplicator, Duplicate
from stance.data.readers import ReadResult, Skipped
from stance.data.schema import SENTENCE_COLUMNS, Article, Sentence
from stance.data.segment import Segmenter, assign_ids
from stance.data.splits import ArticleFacts, SplitResult, Splitter
from stance.errors import InputError
from stance.scheme import Scheme, infer_labels


@dataclass
class BuildResult:
    """Everything the build produced and everything it left out, with reasons."""

    sentences: pd.DataFrame  # one row per sentence; label None when unlabelled; split column
    n_articles: int
    corpus_of_article: dict[str, str]
    removed_lines: Counter = field(default_factory=Counter)
    skipped: list[Skipped] = field(default_factory=list)
    empty_articles: list[str] = field(default_factory=list)
    join: JoinReport = field(default_factory=JoinReport)
    duplicates: list[Duplicate] = field(default_factory=list)
    split_notes: list[str] = field(default_factory=list)
    scheme: Scheme | None = None
    preprocessing: dict | None = None  # cleaning / segmenter / attribution settings (preprocessing.py)

    @property
    def labels(self) -> tuple[str, ...]:
        """The scheme's labels (the ClassLabel order of the dataset)."""
        return tuple(self.scheme.label_list) if self.scheme is not None else ()

    @property
    def labelled(self) -> pd.DataFrame:
        """Labelled sentences that survived deduplication."""
        df = self.sentences
        return df[df["label"].notna() & ~df["duplicate_of"].notna()]

    def fingerprint(self) -> str:
        """sha256 over (sentence id, text, label, split) of every kept labelled sentence, and
        the model input where it is more than the sentence (:mod:`stance.data.model_input`)."""
        h = hashlib.sha256()
        df = self.labelled.sort_values("sentence_id")
        cols = ["sentence_id", "text", "label", "split"]
        if "input" in df and (df["input"] != df["text"]).any():
            cols.append("input")
        for row in df[cols].itertuples(index=False):
            h.update("\x1f".join(map(str, row)).encode("utf-8") + b"\n")
        return h.hexdigest()

    def summary(self) -> dict:
        """Counts for the build report and the printed summary."""
        lab = self.labelled
        return {
            "articles": self.n_articles,
            "sentences": int(len(self.sentences)),
            "labelled_sentences": int(len(lab)),
            "unlabelled_sentences": len(self.join.unlabelled),
            "gold_without_sentence": len(self.join.orphans),
            "removed_lines": dict(self.removed_lines),
            "skipped_records": len(self.skipped),
            "articles_without_sentences": self.empty_articles,
            "cross_split_duplicates_dropped": len(self.duplicates),
            "labels_per_split": {
                s: {k: int(v) for k, v in g["label"].value_counts().items()}
                for s, g in lab.groupby("split")
            },
            "labels_per_source": {
                s: {k: int(v) for k, v in g["label"].value_counts().items()}
                for s, g in lab.groupby("source")
            },
            "split_notes": self.split_notes,
            "fingerprint": self.fingerprint(),
        }

    def dataset_dict(self):  # -> datasets.DatasetDict
        """train/validation/test (and ``unlabelled``) as a ``datasets.DatasetDict``."""
        from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

        feats = Features(
            {
                "sentence_id": Value("string"),
                "article_id": Value("string"),
                "source": Value("string"),
                "index": Value("int32"),
                "text": Value("string"),
                "title": Value("string"),
                "date": Value("string"),
                "attributed": Value("bool"),
                "speaker": Value("string"),
                "speaker_side": Value("string"),
                "label": ClassLabel(names=list(self.labels)),
            }
        )
        cols = list(SENTENCE_COLUMNS) + ["label"]
        out = {}
        lab = self.labelled
        for split in ("train", "validation", "test"):
            part = lab[lab["split"] == split][cols].copy()
            part["label"] = part["label"].map(self.labels.index)
            out[split] = Dataset.from_pandas(part.reset_index(drop=True), features=feats)
        unl = self.sentences[self.sentences["label"].isna()][cols].copy()
        if len(unl):
            unl["label"] = -1
            out["unlabelled"] = Dataset.from_pandas(unl.reset_index(drop=True), features=feats)
        return DatasetDict(out)


@dataclass
class ArticleSentences:
    """The sentences of one article and what preparing them removed or cut."""

    sentences: list[Sentence]
    removed: Counter
    title: str | None
    truncated_article: bool = False
    truncated_sentences: int = 0


def sentences_of(
    article: Article, cleaner: Cleaner, segmenter: Segmenter, attributor: Attributor | None
) -> ArticleSentences:
    """Clean, segment and attribute one article (the same code for building and scoring)."""
    cleaned = cleaner.clean(article.text, title=article.title)
    segmented = segmenter.segment(cleaned.lines)
    out = []
    for i, (sid, text) in enumerate(assign_ids(article.id, segmented.sentences)):
        att = attributor.attribute(text) if attributor else None
        out.append(
            Sentence(
                sentence_id=sid,
                article_id=article.id,
                source=article.source,
                index=i,
                text=text,
                title=cleaned.title,
                date=article.date,
                attributed=bool(att and att.attributed),
                speaker=att.speaker if att else None,
                speaker_side=att.speaker_side if att else None,
            )
        )
    return ArticleSentences(out, cleaned.removed, cleaned.title, cleaned.truncated, segmented.truncated)


def _dominant(labels: Sequence[str]) -> str | None:
    return Counter(labels).most_common(1)[0][0] if labels else None


def build_dataset(
    corpora: Mapping[str, ReadResult],
    annotations: Sequence[Annotation],
    cleaner: Cleaner,
    segmenter: Segmenter,
    attributor: Attributor | None,
    splitter: Splitter,
    deduplicator: Deduplicator | None = None,
    scheme: Scheme | None = None,
) -> BuildResult:
    """Run the whole pipeline on corpora that have been read already.

    ``scheme`` gives the label set; a scheme without labels (or None) takes the sorted labels
    of the gold annotations.
    """
    articles: list[Article] = []
    origin: dict[str, str] = {}
    corpus_of: dict[str, str] = {}
    skipped: list[Skipped] = []
    for name, res in corpora.items():
        skipped.extend(res.skipped)
        for a in res.articles:
            if a.id in origin:
                raise InputError(
                    f"duplicate article id {a.id!r} (first seen at {origin[a.id]})",
                    path=a.origin,
                    field="id",
                    hint="article ids must be unique across all corpora; prefix them per corpus",
                )
            origin[a.id] = a.origin or name
            corpus_of[a.id] = name
            articles.append(a)
    if not articles:
        raise InputError(
            "the corpus is empty: no article was read"
            + (f" ({len(skipped)} record(s) skipped)" if skipped else ""),
            hint="check the corpus paths in the data config",
        )
    sentences: list[Sentence] = []
    removed: Counter = Counter()
    empty: list[str] = []
    for a in articles:
        got = sentences_of(a, cleaner, segmenter, attributor)
        removed.update(got.removed)
        removed["truncated_article"] += got.truncated_article
        removed["truncated_sentence"] += got.truncated_sentences
        if not got.sentences:
            empty.append(a.id)
        sentences.extend(got.sentences)
    removed = +removed  # drop zero counts
    join = join_labels(sentences, annotations)
    df = pd.DataFrame([s.to_dict() for s in sentences], columns=list(SENTENCE_COLUMNS) + ["cues"])
    df = df.drop(columns=["cues"])
    df["label"] = df["sentence_id"].map(join.labels)
    df["corpus"] = df["article_id"].map(corpus_of)
    facts = []
    by_article = df.groupby("article_id", sort=False)
    for a in articles:
        labs = by_article.get_group(a.id)["label"].dropna().tolist() if a.id not in empty else []
        facts.append(ArticleFacts(a.id, a.source, a.date, _dominant(labs)))
    return _finish(df, splitter.assign(facts), deduplicator, _resolve(scheme, df["label"]),
                   n_articles=len(articles), corpus_of_article=corpus_of, removed_lines=removed,
                   skipped=skipped, empty_articles=empty, join=join)


def _resolve(scheme: Scheme | None, labels: pd.Series, where: str | None = None) -> Scheme:
    """The scheme with its label set: given, or inferred from the labels that occur."""
    scheme = scheme if scheme is not None else Scheme("inferred")
    if scheme.resolved:
        return scheme
    return scheme.with_labels(infer_labels(labels.dropna().tolist(), where=where))


def _finish(df: pd.DataFrame, split: SplitResult, deduplicator: Deduplicator | None, scheme: Scheme,
            **parts: object) -> BuildResult:
    """Split column, cross-split deduplication and the result (shared by both builders)."""
    df["split"] = df["article_id"].map(split.assignment)
    df["duplicate_of"] = None
    dups: list[Duplicate] = []
    if deduplicator is not None:
        dups = deduplicator.find(df["sentence_id"].tolist(), df["text"].tolist(), df["split"].tolist())
        kept = {d.dropped: d.kept for d in dups}
        df["duplicate_of"] = df["sentence_id"].map(kept)
    return BuildResult(sentences=df, duplicates=dups, split_notes=split.notes, scheme=scheme, **parts)  # type: ignore[arg-type]


def build_from_sentences(
    rows: Sequence[Mapping[str, object]],
    *,
    skipped: Sequence[Skipped] = (),
    splitter: Splitter,
    attributor: Attributor | None = None,
    deduplicator: Deduplicator | None = None,
    scheme: Scheme | None = None,
    where: str | None = None,
) -> BuildResult:
    """Build a dataset from labelled sentence records (:func:`stance.data.sentence_table.read_sentence_table`).

    No cleaning or segmentation: each row is one sentence. A ``split`` value on every row is
    honoured (all of an article's rows must agree); otherwise ``splitter`` assigns articles.
    Labels outside a resolved ``scheme`` are errors naming the row.
    """
    if not rows:
        raise InputError("the sentence table is empty: no row was read"
                         + (f" ({len(skipped)} row(s) skipped)" if skipped else ""), path=where,
                         hint="check data.path and the column names (text, label)")
    recs = []
    for r in rows:
        if scheme is not None and scheme.resolved and r["label"] is not None:
            origin = str(r.get("origin") or where)
            file, _, line = origin.rpartition(":")
            scheme.check_label(r["label"], path=file or origin, line=int(line) if line.isdigit() else None)
        att = attributor.attribute(str(r["text"])) if attributor else None
        recs.append({
            **{k: r.get(k) for k in ("sentence_id", "article_id", "source", "index", "text", "title", "date")},
            "attributed": bool(att and att.attributed),
            "speaker": att.speaker if att else None,
            "speaker_side": att.speaker_side if att else None,
            "label": r["label"], "corpus": "sentences", "_split": r.get("split"),
        })
    df = pd.DataFrame(recs)
    resolved = _resolve(scheme, df["label"], where)
    given = df["_split"]
    if given.notna().any():
        split = _split_from_column(df, where)
    else:
        facts = [ArticleFacts(aid, g["source"].iloc[0], g["date"].iloc[0], _dominant(g["label"].dropna().tolist()))
                 for aid, g in df.groupby("article_id", sort=False)]
        split = splitter.assign(facts)
    df = df.drop(columns=["_split"])
    return _finish(df, split, deduplicator, resolved, n_articles=int(df["article_id"].nunique()),
                   corpus_of_article=dict.fromkeys(df["article_id"], "sentences"), skipped=list(skipped))


def _split_from_column(df: pd.DataFrame, where: str | None) -> SplitResult:
    missing = df["_split"].isna()
    if missing.any():
        raise InputError(f"{int(missing.sum())} row(s) have no split while others do (first: sentence "
                         f"{df.loc[missing, 'sentence_id'].iloc[0]})", path=where, field="split",
                         hint="give every row a split, or drop the split column to let data.split decide")
    per_article = df.groupby("article_id")["_split"].nunique()
    torn = per_article[per_article > 1]
    if len(torn):
        raise InputError(f"article {torn.index[0]!r} has rows in several splits ({len(torn)} such article(s)): "
                         "its sentences would leak across splits", path=where, field="split",
                         hint="put all of an article's sentences in one split")
    assignment = df.groupby("article_id")["_split"].first().to_dict()
    return SplitResult(assignment, notes=["splits taken from the table's split column"])


def write_dataset(result: BuildResult, out_dir: str | Path, extra: Mapping | None = None) -> Path:
    """Write the DatasetDict, Parquet/JSONL exports and a build report into ``out_dir``.

    Files are written to a temporary folder first and moved into place, so an interrupted
    build never leaves a half-written dataset.
    """
    import datasets

    import stance

    datasets.disable_progress_bars()
    out = Path(out_dir)
    with atomic_dir(out) as tmp:
        result.dataset_dict().save_to_disk(str(tmp / "hf"))
        df = result.sentences
        df.to_parquet(tmp / TABLE, index=False)
        df.to_json(tmp / "sentences.jsonl", orient="records", lines=True, force_ascii=False)
        report = {
            "package_version": stance.__version__,
            "labels": list(result.labels),
            "scheme": result.scheme.to_dict() if result.scheme is not None else None,
            "preprocessing": result.preprocessing,
            **result.summary(),
            "skipped": [s.__dict__ for s in result.skipped],
            "gold_without_sentence_ids": [
                {"sentence_id": o.sentence_id, "article_id": o.article_id, "text": o.text, "origin": o.origin}
                for o in result.join.orphans
            ],
            "duplicates": [d.__dict__ for d in result.duplicates],
            **(dict(extra) if extra else {}),
        }
        (tmp / REPORT).write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return out
