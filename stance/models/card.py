"""Model card (README.md) written into every saved model directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from stance.models.base import StanceClassifier


def _fmt(x: Any) -> str:
    return f"{x:.3f}" if isinstance(x, float) else str(x)


def _hf_metadata(model: StanceClassifier, metrics: dict[str, Any], cfg: DictConfig) -> list[str]:
    """The Hugging Face model-card metadata block (YAML front matter), so that the folder is
    ready for ``push_to_hub``; for a transformer the standard model folder is ``weights/``."""
    import yaml

    transformer = model.kind == "transformer"
    meta: dict[str, Any] = {
        "language": ["en"],
        "license": "mit",
        "library_name": "transformers" if transformer else "sklearn",
        "pipeline_tag": "text-classification",
        "tags": ["stance", "news", "stance-package", f"scheme-{model.scheme_.name}", model.kind],
        "metrics": ["f1", "accuracy"],
    }
    encoder = (getattr(model, "metadata_", {}) or {}).get("encoder")
    if transformer and getattr(model, "encoder", None) is None and not getattr(model, "random_init", False):
        meta["base_model"] = "sentence-transformers/all-MiniLM-L6-v2"
    elif transformer and encoder and not Path(str(encoder)).exists():
        meta["base_model"] = str(encoder)
    results = []
    for split in ("validation", "test"):
        m = metrics.get(split)
        if m:
            results.append({"task": {"type": "text-classification", "name": "stance classification"},
                            "dataset": {"name": f"{cfg.data.get('name', 'data')} ({split})", "type": "custom"},
                            "metrics": [{"type": "f1", "name": "macro-F1", "value": round(float(m["macro_f1"]), 4)},
                                        {"type": "accuracy", "value": round(float(m["accuracy"]), 4)}]})
    if results:
        meta["model-index"] = [{"name": f"stance-{model.kind}-{model.scheme_.name}", "results": results}]
    return ["---", yaml.safe_dump(meta, sort_keys=False).rstrip(), "---", ""]


def write_model_card(path: Path, model: StanceClassifier, metrics: dict[str, Any],
                     data_info: dict[str, Any], cfg: DictConfig) -> Path:
    """Write ``README.md``: labels, data, splits, metrics, per-source results, limitations."""
    scheme = model.scheme_
    lines = [
        *_hf_metadata(model, metrics, cfg),
        f"# stance classifier: {model.kind}",
        "",
        scheme.description or f"Sentence classifier for the label scheme {scheme.name!r}.",
        "",
        f"## Labels (scheme `{scheme.name}`)",
        *[f"- `{c}`" + (f": {scheme.definitions[str(c)]}" if str(c) in scheme.definitions else "")
          for c in model.classes_],
        *([f"- slant = {scheme.slant_description()}"] if scheme.has_slant else []),
        "",
        "## Data",
        f"- data config: `{cfg.data.get('name', '?')}`; fingerprint `{data_info['fingerprint'][:16]}`",
        f"- training sentences: {metrics.get('n_train')}; label source: {cfg.data.get('labels', 'gold')}",
        f"- split: `{dict(cfg.data.split) if 'split' in cfg.data else 'from dataset_dir'}`",
        "",
        "## Metrics",
        "| split | macro-F1 [95% CI, articles bootstrap] | accuracy | ECE | " + " | ".join(
            f"F1 {c}" for c in model.classes_) + " |",
        "|---|---|---|---|" + "---|" * len(model.classes_),
    ]
    for s in ("validation", "test"):
        m = metrics.get(s)
        if not m:
            continue
        ci = m["macro_f1_ci"]
        lines.append(
            f"| {s} (n={m['n']}) | {m['macro_f1']:.3f} [{ci['low']:.3f}, {ci['high']:.3f}] | "
            f"{m['accuracy']:.3f} | {m['ece']:.3f} | "
            + " | ".join(f"{m['per_class'][c]['f1']:.3f}" for c in model.classes_) + " |"
        )
    cv = metrics.get("cv")
    if cv:
        ci = cv["macro_f1_ci"]
        lines.append(
            f"| cv={cv['by']} out-of-fold, {cv['n_folds']} folds (n={cv['n']}) | {cv['macro_f1']:.3f} "
            f"[{ci['low']:.3f}, {ci['high']:.3f}] | {cv['accuracy']:.3f} | {_fmt(cv.get('ece'))} | "
            + " | ".join(_fmt(cv.get("per_class_f1", {}).get(str(c))) for c in model.classes_) + " |"
        )
    test = metrics.get("test", {})
    if test.get("per_source"):
        keys = ["source", "n", "macro_f1", *(["gold_slant", "pred_slant", "slant_error"] if scheme.has_slant
                                             else ["distribution_error"])]
        lines += ["", "## Per-source results (test)", "| " + " | ".join(keys) + " |",
                  "|" + "---|" * len(keys)]
        lines += ["| " + " | ".join(_fmt(r.get(k)) for k in keys) + " |" for r in test["per_source"]]
    lines += [
        "",
        "## Limitations",
        *(["- Trained on the bundled sample: its training data is synthetic and its real test set "
           "is five articles (120 sentences), so confidence intervals are wide and real news from "
           "unseen outlets scores lower."] if cfg.data.get("name") == "sample" else []),
        "- Labels judge whose account a sentence advances, not whether it is true.",
        "- English news only; outlets, vocabulary and events outside the training data may "
        "shift predictions. Check per-source results before ranking outlets.",
    ]
    out = path / "README.md"
    out.write_text("\n".join(lines) + "\n")
    return out
