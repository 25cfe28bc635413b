"""Mean-pooling classification head over any Hugging Face encoder.

Sentence-embedding encoders such as all-MiniLM-L6-v2 were trained with mean pooling, so their
[CLS]/pooler output is a poor starting point for a classifier on little data; this head
classifies the attention-masked mean of the last hidden states instead.

Saved as a normal encoder folder (``save_pretrained``, safetensors) plus ``head.safetensors``
and ``head.json``; loading reads only those files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModel, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

HEAD_WEIGHTS = "head.safetensors"
HEAD_CONFIG = "head.json"


def mean_pool(states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Attention-masked mean of token states ``(batch, tokens, dim)`` -> ``(batch, dim)``."""
    mask = attention_mask.unsqueeze(-1).to(states.dtype)
    return (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


class MeanPoolingClassifier(torch.nn.Module):
    """``encoder`` -> masked mean of token states -> dropout -> linear layer.

    ``forward`` takes the tokenizer's tensors and returns an object with ``.logits``, like
    ``AutoModelForSequenceClassification``, so training, prediction and export code is shared.
    """

    def __init__(self, encoder: PreTrainedModel, num_labels: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.config = encoder.config
        self.config.num_labels = num_labels
        self.dropout = torch.nn.Dropout(dropout)
        self.classifier = torch.nn.Linear(encoder.config.hidden_size, num_labels)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        **_: Any,
    ) -> SequenceClassifierOutput:
        kwargs = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state
        return SequenceClassifierOutput(logits=self.classifier(self.dropout(mean_pool(states, attention_mask))))

    def save_pretrained(self, path: str | Path, safe_serialization: bool = True) -> None:
        """Encoder folder plus the head's weights and size."""
        out = Path(path)
        self.encoder.save_pretrained(out, safe_serialization=True)
        save_file({k: v.contiguous() for k, v in self.classifier.state_dict().items()}, str(out / HEAD_WEIGHTS))
        (out / HEAD_CONFIG).write_text(json.dumps({
            "pooling": "mean", "num_labels": self.classifier.out_features, "dropout": self.dropout.p,
        }))

    @classmethod
    def from_pretrained(cls, path: str | Path) -> MeanPoolingClassifier:
        """Load a folder written by :meth:`save_pretrained` (local files, safetensors only)."""
        src = Path(path)
        head = json.loads((src / HEAD_CONFIG).read_text())
        encoder = AutoModel.from_pretrained(src, use_safetensors=True, local_files_only=True,
                                            trust_remote_code=False)
        model = cls(encoder, int(head["num_labels"]), float(head.get("dropout", 0.1)))
        model.classifier.load_state_dict(load_file(str(src / HEAD_WEIGHTS)))
        return model


def is_mean_pooling_folder(path: str | Path) -> bool:
    """Whether a saved weights folder holds a mean-pooling head."""
    return (Path(path) / HEAD_CONFIG).is_file()
