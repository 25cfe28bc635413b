"""Length-sorted batching and concurrent batch execution shared by the transformer backends."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from stance.models.batching import length_sorted_batches, run_batches, torch_threads


class WordTokenizer:
    """Minimal tokenizer: one id per word, [CLS]=1 prepended, pad id 0."""

    pad_token_id = 0

    def __call__(self, texts: list[str], truncation: bool, max_length: int) -> dict:
        ids = [([1] + [len(w) + 2 for w in t.split()])[:max_length] for t in texts]
        return {"input_ids": ids, "token_type_ids": [[0] * len(x) for x in ids]}


TEXTS = ["a bb", "a b c d e f", "x", "one two three", "p q r s"]


def test_batches_cover_every_row_once_longest_first() -> None:
    batches = list(length_sorted_batches(WordTokenizer(), TEXTS, max_length=5, batch_size=2))
    rows = np.concatenate([sel for sel, _ in batches])
    assert sorted(rows.tolist()) == list(range(len(TEXTS)))
    widths = [b["input_ids"].shape[1] for _, b in batches]
    assert widths == sorted(widths, reverse=True)
    assert widths[0] == 5  # "a b c d e f" truncated to max_length
    assert [len(sel) for sel, _ in batches] == [2, 2, 1]


def test_padding_and_built_attention_mask() -> None:
    tok = WordTokenizer()
    (sel, batch), *_ = length_sorted_batches(tok, ["a", "a b c"], 10, 2, ["input_ids", "attention_mask"])
    assert sel.tolist() == [1, 0]
    assert batch["input_ids"].tolist() == [[1, 3, 3, 3], [1, 3, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    assert set(batch) == {"input_ids", "attention_mask"}
    assert batch["input_ids"].dtype == np.int64


def test_no_texts_no_batches_and_bad_batch_size() -> None:
    assert list(length_sorted_batches(WordTokenizer(), [], 8, 4)) == []
    with pytest.raises(ValueError, match="batch_size"):
        list(length_sorted_batches(WordTokenizer(), TEXTS, 8, 0))


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_run_batches_keeps_batch_order(workers: int) -> None:
    batches = [(np.array([i]), {"x": np.full((1, 1), i)}) for i in range(11)]
    seen_threads: set[int] = set()

    def fn(batch: dict) -> int:
        seen_threads.add(threading.get_ident())
        return int(batch["x"][0, 0]) * 10

    out = list(run_batches(fn, iter(batches), workers))
    assert [int(sel[0]) for sel, _ in out] == list(range(11))
    assert [z for _, z in out] == [i * 10 for i in range(11)]
    if workers == 1:
        assert seen_threads == {threading.get_ident()}


def test_run_batches_propagates_errors() -> None:
    def fn(batch: dict) -> int:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        list(run_batches(fn, iter([(np.array([0]), {})] * 3), 2))


def test_torch_threads_restores() -> None:
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before
