"""Tiny models built in the test run: no trained cross-encoder ships offline (see README)."""

from __future__ import annotations

from pathlib import Path


def tiny_cross_encoder_save(path: Path) -> Path:
    """A one-layer BERT CrossEncoder of random weights with the default embedder's tokenizer,
    saved as a model folder: it exercises the real loading and scoring path, not ranking quality."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from ingestion.embedding import default_model_path

    tokenizer = AutoTokenizer.from_pretrained(default_model_path())
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=1)
    BertForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
