"""Leak-proof article splits (stance.data.splits)."""

from __future__ import annotations

import fnmatch
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stance.data.splits import SPLITS, ArticleFacts, Splitter, check_no_leak, leave_one_source_out
from stance.errors import ConfigError, InputError


def corpus(n_seeds: int = 5, n_other: int = 20, strata=("a", "b")) -> list[ArticleFacts]:
    seeds = [ArticleFacts(f"seed-{i:03d}", f"seed-{i:03d}") for i in range(n_seeds)]
    other = [
        ArticleFacts(f"syn-{i:02d}", f"outlet-{i % 4}", f"2025-10-{i + 1:02d}", strata[i % len(strata)])
        for i in range(n_other)
    ]
    return seeds + other


def by_split(assignment: dict[str, str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {s: set() for s in SPLITS}
    for aid, split in assignment.items():
        out[split].add(aid)
    return out


# --------------------------------------------------------------------------- by=article


def test_pinned_test_articles_by_glob_are_the_whole_test_split():
    arts = corpus()
    res = Splitter(by="article", test_articles=["seed-*"], val_fraction=0.2, test_fraction=0.15).assign(arts)
    parts = by_split(res.assignment)
    assert parts["test"] == {f"seed-{i:03d}" for i in range(5)}  # test_fraction ignored when pinned
    assert len(parts["validation"]) == 4  # 20 % of the 20 other articles
    assert len(parts["train"]) == 16
    assert set(res.assignment) == {a.article_id for a in arts}


def test_several_patterns_pin_matching_articles_only():
    arts = corpus()
    res = Splitter(test_articles=["seed-00[01]", "syn-19"], test_fraction=0.0).assign(arts)
    assert by_split(res.assignment)["test"] == {"seed-000", "seed-001", "syn-19"}


def test_test_fraction_when_nothing_is_pinned():
    arts = corpus(n_seeds=0, n_other=20, strata=("x",))
    res = Splitter(val_fraction=0.2, test_fraction=0.25).assign(arts)
    assert res.counts() == Counter(test=5, validation=4, train=11)


def test_split_is_deterministic_for_a_seed_and_varies_with_it():
    arts = corpus()
    first = Splitter(test_articles=["seed-*"], seed=3).assign(arts).assignment
    assert Splitter(test_articles=["seed-*"], seed=3).assign(arts).assignment == first
    others = [Splitter(test_articles=["seed-*"], seed=s).assign(arts).assignment for s in range(4, 9)]
    assert any(o != first for o in others)


def test_stratified_split_keeps_label_proportions():
    arts = corpus(n_seeds=0, n_other=20, strata=("pro_kabul", "neutral"))
    res = Splitter(val_fraction=0.2, test_fraction=0.2).assign(arts)
    assert res.stratified
    assert res.notes == []
    stratum = {a.article_id: a.stratum for a in arts}
    for split, n in (("test", 2), ("validation", 2), ("train", 6)):
        got = Counter(stratum[a] for a, s in res.assignment.items() if s == split)
        assert got == Counter(pro_kabul=n, neutral=n), split


def test_not_stratified_when_a_stratum_is_too_small():
    arts = corpus(n_seeds=0, n_other=6, strata=("x",)) + [ArticleFacts("rare", "o", stratum="y")]
    res = Splitter().assign(arts)
    assert not res.stratified
    assert any("not stratified" in n for n in res.notes)


def test_single_stratum_is_not_stratified_and_has_no_note():
    res = Splitter().assign(corpus(n_seeds=0, n_other=8, strata=("x",)))
    assert not res.stratified and res.notes == []


def test_duplicate_article_ids_error():
    arts = corpus() + [ArticleFacts("syn-03", "elsewhere")]
    with pytest.raises(InputError, match="duplicate article ids: syn-03"):
        Splitter().assign(arts)


@pytest.mark.parametrize(
    "kwargs", [{"by": "outlet"}, {"val_fraction": 1.0}, {"test_fraction": -0.1}]
)
def test_invalid_settings(kwargs):
    with pytest.raises(ConfigError):
        Splitter(**kwargs)


# --------------------------------------------------------------------------- by=source


def test_by_source_holds_out_named_outlets():
    arts = corpus(n_seeds=0)
    res = Splitter(by="source", test_sources=["outlet-0"], val_sources=["outlet-1"]).assign(arts)
    for a in arts:
        expected = {"outlet-0": "test", "outlet-1": "validation"}.get(a.source, "train")
        assert res.assignment[a.article_id] == expected


def test_by_source_random_holdout_keeps_outlets_whole():
    arts = corpus(n_seeds=0)
    res = Splitter(by="source", val_fraction=0.25, test_fraction=0.25, seed=1).assign(arts)
    split_of_source: dict[str, set[str]] = {}
    for a in arts:
        split_of_source.setdefault(a.source, set()).add(res.assignment[a.article_id])
    assert all(len(s) == 1 for s in split_of_source.values())
    assert Counter(next(iter(s)) for s in split_of_source.values()) == Counter(test=1, validation=1, train=2)


def test_by_source_with_pinned_articles_adds_no_random_test_outlet():
    arts = corpus()
    res = Splitter(by="source", test_articles=["seed-*"], val_sources=["outlet-1"]).assign(arts)
    assert by_split(res.assignment)["test"] == {f"seed-{i:03d}" for i in range(5)}


def test_by_source_unknown_source_lists_valid_ones():
    arts = corpus(n_seeds=0)
    with pytest.raises(ConfigError, match=r"not in the corpus: Dawn; sources are: outlet-0, outlet-1, outlet-2, outlet-3"):
        Splitter(by="source", test_sources=["Dawn"]).assign(arts)


def test_by_source_needs_a_training_outlet():
    arts = corpus(n_seeds=0)
    with pytest.raises(ConfigError, match="no outlet for training"):
        Splitter(by="source", test_sources=["outlet-0", "outlet-1"], val_sources=["outlet-2", "outlet-3"]).assign(arts)


def test_leave_one_source_out_one_fold_per_source():
    arts = corpus(n_seeds=0)
    folds = list(leave_one_source_out(arts, val_fraction=0.2))
    assert [name for name, _ in folds] == ["outlet-0", "outlet-1", "outlet-2", "outlet-3"]
    source = {a.article_id: a.source for a in arts}
    for held, res in folds:
        assert set(res.assignment) == set(source)
        test = {a for a, s in res.assignment.items() if s == "test"}
        assert test == {a for a, src in source.items() if src == held}
        others = Counter(s for a, s in res.assignment.items() if source[a] != held)
        assert others["validation"] > 0 and others["train"] > 0 and others["test"] == 0


# --------------------------------------------------------------------------- by=date


def test_by_date_cutoffs():
    arts = [
        ArticleFacts("a", "s", "2025-10-01"),
        ArticleFacts("b", "s", "2025-10-10"),
        ArticleFacts("c", "s", "2025-10-19T23:59:00"),
        ArticleFacts("d", "s", "2025-10-20T08:00:00+05:00"),
        ArticleFacts("e", "s", "2025-11-02"),
    ]
    res = Splitter(by="date", val_from="2025-10-10", test_from="2025-10-20").assign(arts)
    assert res.assignment == {"a": "train", "b": "validation", "c": "validation", "d": "test", "e": "test"}


def test_by_date_test_cutoff_only():
    arts = [ArticleFacts("a", "s", "2025-10-01"), ArticleFacts("b", "s", "2025-10-21")]
    assert Splitter(by="date", test_from="2025-10-20").assign(arts).assignment == {"a": "train", "b": "test"}


def test_by_date_undated_article_error():
    arts = [ArticleFacts("a", "s", "2025-10-01"), ArticleFacts("nodate", "s", None)]
    with pytest.raises(InputError, match=r"field 'date': 1 article\(s\) have no date, e.g. nodate"):
        Splitter(by="date", test_from="2025-10-20").assign(arts)


def test_by_date_pinned_undated_articles_are_fine():
    arts = [ArticleFacts("a", "s", "2025-10-01"), ArticleFacts("seed-000", "s", None)]
    res = Splitter(by="date", test_from="2025-10-20", test_articles=["seed-*"]).assign(arts)
    assert res.assignment == {"a": "train", "seed-000": "test"}


def test_by_date_needs_a_cutoff():
    with pytest.raises(ConfigError, match="val_from and/or test_from"):
        Splitter(by="date").assign([ArticleFacts("a", "s", "2025-10-01")])


# --------------------------------------------------------------------------- leak check


def test_check_no_leak_detects_an_article_in_two_splits():
    article_of = {"s1": "a", "s2": "a", "s3": "b"}
    assert check_no_leak(article_of, {"s1": "train", "s2": "train", "s3": "test"}) == []
    assert check_no_leak(article_of, {"s1": "train", "s2": "test", "s3": "test"}) == ["a"]


# --------------------------------------------------------------------------- property test

DATES = st.one_of(st.none(), st.dates().map(lambda d: d.isoformat()))


@st.composite
def corpora(draw):
    article_id = st.tuples(st.sampled_from(["seed", "syn", "art"]), st.integers(0, 150)).map("{0[0]}-{0[1]}".format)
    ids = draw(st.lists(article_id, min_size=1, max_size=30, unique=True))
    sources = draw(st.lists(st.sampled_from(["A", "B", "C", "D", "E"]), min_size=len(ids), max_size=len(ids)))
    dates = draw(st.lists(DATES, min_size=len(ids), max_size=len(ids)))
    strata = draw(st.lists(st.sampled_from([None, "pro_islamabad", "pro_kabul", "neutral"]), min_size=len(ids), max_size=len(ids)))
    n_sents = draw(st.lists(st.integers(1, 4), min_size=len(ids), max_size=len(ids)))
    facts = [ArticleFacts(*row) for row in zip(ids, sources, dates, strata)]
    return facts, dict(zip(ids, n_sents))


@st.composite
def settings_for(draw, facts):
    mode = draw(st.sampled_from(["article", "source", "date", "loso"]))
    kw = {
        "val_fraction": draw(st.sampled_from([0.0, 0.1, 0.2, 0.5])),
        "test_fraction": draw(st.sampled_from([0.0, 0.15, 0.3])),
        "seed": draw(st.integers(0, 2**16)),
        "test_articles": draw(st.lists(st.sampled_from(["seed-*", "syn-1*", "art-?", "none-*"]), max_size=2)),
    }
    if mode == "source":
        present = sorted({f.source for f in facts})
        held = draw(st.lists(st.sampled_from(present), unique=True, max_size=len(present)))
        cut = draw(st.integers(0, len(held)))
        kw["test_sources"], kw["val_sources"] = held[:cut], held[cut:]
    if mode == "date":
        kw["val_from"] = draw(st.one_of(st.none(), DATES.filter(bool)))
        kw["test_from"] = draw(DATES.filter(bool))
    return mode, kw


def check_assignment(facts, n_sents, assignment) -> None:
    """Every article gets a split, and exactly one (the assignment is per article, so sentences
    cannot leak here; the built dataset's sentences are checked with ``check_no_leak`` in
    tests/data/test_cli_build.py)."""
    ids = {f.article_id for f in facts}
    assert set(assignment) == ids
    assert set(assignment.values()) <= set(SPLITS)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
@pytest.mark.slow
def test_property_no_article_in_two_splits(data):
    facts, n_sents = data.draw(corpora())
    mode, kw = data.draw(settings_for(facts))
    if mode == "loso":
        folds = list(leave_one_source_out(facts, val_fraction=kw["val_fraction"], seed=kw["seed"]))
        assert [s for s, _ in folds] == sorted({f.source for f in facts})
        for held, res in folds:
            check_assignment(facts, n_sents, res.assignment)
            assert {a for a, s in res.assignment.items() if s == "test"} == {
                f.article_id for f in facts if f.source == held
            }
        return
    splitter = Splitter(by=mode, **kw)
    pinned = {f.article_id for f in facts if any(fnmatch.fnmatchcase(f.article_id, p) for p in kw["test_articles"])}
    if mode == "date" and any(f.date is None for f in facts if f.article_id not in pinned):
        with pytest.raises(InputError, match="have no date"):
            splitter.assign(facts)
        return
    try:
        res = splitter.assign(facts)
    except ConfigError as e:
        # legitimate refusals, by=source only: nothing left to train on, or a held-out outlet
        # that has no unpinned article
        assert mode == "source", e
        unpinned_sources = {f.source for f in facts if f.article_id not in pinned}
        held = set(kw["test_sources"]) | set(kw["val_sources"])
        assert "no outlet for training" in str(e) or (
            "not in the corpus" in str(e) and not held <= unpinned_sources
        ), e
        return
    check_assignment(facts, n_sents, res.assignment)
    assert all(res.assignment[a] == "test" for a in pinned)
    unpinned = [f for f in facts if f.article_id not in pinned]
    if mode == "date":
        check_date_split(unpinned, res.assignment, kw)
    if mode == "source":
        check_source_split(unpinned, res.assignment, kw)


def check_date_split(unpinned, assignment, kw) -> None:
    for f in unpinned:
        d = f.date[:10]
        expected = (
            "test" if d >= kw["test_from"]
            else "validation" if kw["val_from"] and d >= kw["val_from"]
            else "train"
        )
        assert assignment[f.article_id] == expected


def check_source_split(unpinned, assignment, kw) -> None:
    split_of_source: dict[str, set[str]] = {}
    for f in unpinned:
        split_of_source.setdefault(f.source, set()).add(assignment[f.article_id])
    assert all(len(s) == 1 for s in split_of_source.values())
    for f in unpinned:
        if f.source in kw["test_sources"]:
            assert assignment[f.article_id] == "test"
        if f.source in kw["val_sources"]:
            assert assignment[f.article_id] == "validation"
