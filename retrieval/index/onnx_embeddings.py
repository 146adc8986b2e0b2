"""The embedding model run by onnxruntime, with int8 weights: about twice torch's speed on a
CPU, vectors within 0.99 cosine of torch's (`NEWSBOT_EMBEDDING_BACKEND=onnx-int8`).

The ONNX file is made here, once, from the local model (no download): torch exports the
transformer, onnxruntime quantises its weights to int8 (dynamic quantisation, per channel:
per-tensor scales cost 0.04 of cosine on MiniLM, per channel 0.006). The result is cached under
`DATA_DIR/models/`, keyed by the model's path and the size and date of its files, so a new
model version is exported again. After that, encoding needs neither torch nor
sentence-transformers: the tokenizer is the model's own (`tokenizers`), pooling is the mean over
real tokens and vectors are L2-normalised, as sentence-transformers does for this model.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.index.embeddings import (
    DEFAULT_MODEL,
    ONNX_BATCH_SIZE,
    SentenceEmbeddings,
    resolve_model_path,
)

if TYPE_CHECKING:
    import numpy as np

__all__ = ["OnnxEmbeddings", "export_int8_model"]

_OFFLINE_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
}
EXPORT_FORMAT = 2  # bump when the exported files change meaning (2: fp32 kept; uint8 weights)
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "config.json", "tokenizer.json")


@dataclass(frozen=True)
class ExportedModel:
    directory: Path
    model_file: Path
    tokenizer_file: Path
    max_seq_length: int
    dimension: int


def _cache_key(model_name: str, model_path: str) -> str:
    """The model path and version (its files' sizes and dates), the exporter's format and
    onnxruntime's version: any change makes a new export."""
    import onnxruntime

    facts: dict[str, Any] = {
        "name": model_name,
        "path": model_path,
        "format": EXPORT_FORMAT,
        "ort": onnxruntime.__version__,
    }
    directory = Path(model_path)
    if directory.is_dir():
        facts["path"] = str(directory.resolve())
        for name in _WEIGHT_FILES:
            file = directory / name
            if file.exists():
                stat = file.stat()
                facts[name] = [stat.st_size, stat.st_mtime_ns]
    digest = hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]
    slug = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in Path(model_name).name)
    return f"{slug or 'model'}-{digest}"


def _mean_pooling(pooling: Any) -> bool:
    """Whether a sentence-transformers Pooling module takes the plain mean of the tokens
    (sentence-transformers 6 names it `pooling_mode`; earlier versions had one flag per mode)."""
    mode = getattr(pooling, "pooling_mode", None)
    if isinstance(mode, str):
        return mode == "mean"
    if mode is not None:
        return list(mode) == ["mean"]
    flags = ("cls_token", "max_tokens", "mean_sqrt_len_tokens")
    return getattr(pooling, "pooling_mode_mean_tokens", False) is True and not any(
        getattr(pooling, f"pooling_mode_{flag}", False) for flag in flags
    )


def _export(model_path: str, target: Path) -> dict[str, Any]:
    """Export the transformer to ONNX and quantise it into `target` (a fresh directory)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from sentence_transformers import SentenceTransformer

    model: Any = SentenceTransformer(model_path, device="cpu")
    if not _mean_pooling(model[1] if len(model) > 1 else None):
        raise ValueError(
            f"{model_path}: the onnx-int8 backend supports mean-pooling models only; "
            "use NEWSBOT_EMBEDDING_BACKEND=torch for this one"
        )
    transformer = model[0].auto_model.eval()

    class Encoder(torch.nn.Module):
        """Positional inputs in a fixed order (the model's forward takes keywords)."""

        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    example = torch.ones((2, 8), dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    fp32 = target / "model-fp32.onnx"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shapes the export keeps dynamic
        torch.onnx.export(
            Encoder(),
            (example, example, torch.zeros_like(example)),
            str(fp32),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={
                name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]
            },
            opset_version=17,
            dynamo=False,  # the TorchScript exporter needs no onnxscript
        )
    logging.disable(logging.WARNING)  # "consider pre-processing": it changes nothing here
    try:
        # uint8 weights (U8U8): with int8 weights (U8S8), CPUs with AVX2 but no VNNI (the
        # AMD EPYC here) saturate in onnxruntime's int8 kernels — vectors at mean cosine
        # 0.9923 to torch's, and 0.9878 on the test's sample, against 0.9938 with uint8
        # weights, which were faster too (2.67x torch vs 1.72x; python /tmp probe, 300 BBC
        # chunks, one run). See onnxruntime's quantization docs, "when and why to use U8U8".
        quantize_dynamic(
            str(fp32),
            str(target / "model-int8.onnx"),
            per_channel=True,
            weight_type=QuantType.QUInt8,
        )
    finally:
        logging.disable(logging.NOTSET)
    model.tokenizer.save_pretrained(str(target / "tokenizer"))
    return {
        "max_seq_length": int(model.max_seq_length),
        "dimension": int(model.get_embedding_dimension()),
        "source": model_path,
    }


def export_int8_model(model_name: str, cache_dir: Path, *, int8: bool = True) -> ExportedModel:
    """The ONNX model for `model_name` (int8 weights, or the fp32 export as it is), exported
    into `cache_dir` on first use, saying so on stderr (it takes ~20-60 s)."""
    model_path = resolve_model_path(model_name)
    directory = cache_dir / _cache_key(model_name, model_path)
    meta_file = directory / "export.json"
    if not meta_file.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        # Export into a temporary directory and rename it into place: a crash or a second
        # process exporting at the same time never leaves a half-written model behind.
        work = Path(tempfile.mkdtemp(prefix=".export-", dir=cache_dir))
        print(
            f"Preparing the ONNX model of {Path(model_name).name} once, into {cache_dir} "
            "(about a minute)…",
            file=sys.stderr,
            flush=True,
        )
        try:
            meta = _export(model_path, work)
            (work / "export.json").write_text(json.dumps(meta, indent=2), "utf-8")
            work.chmod(0o755)
            try:
                work.rename(directory)
            except OSError:
                if not meta_file.exists():  # not a concurrent exporter that won the race
                    raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    meta = json.loads(meta_file.read_text("utf-8"))
    return ExportedModel(
        directory=directory,
        model_file=directory / ("model-int8.onnx" if int8 else "model-fp32.onnx"),
        tokenizer_file=directory / "tokenizer" / "tokenizer.json",
        max_seq_length=int(meta["max_seq_length"]),
        dimension=int(meta["dimension"]),
    )


class _OnnxEncoder:
    """An onnxruntime session and the model's tokenizer; `encode` as sentence-transformers.

    Each batch runs on one thread, and `threads` batches (default: one per core) run at
    once, sharing the session. Splitting every op of one batch across threads instead ends
    each op in a barrier whose waits grow with the machine's load: on this 2-core machine,
    under other load, batches side by side gave 1.3x the throughput (same model, interleaved
    runs). Fusing the graph before quantising (onnxruntime's transformer optimiser: attention,
    layer norms, GELU) gave 0.9-1.1x in the same runs, so the export stays as it was."""

    def __init__(self, exported: ExportedModel, threads: int | None) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(exported.model_file), options, providers=["CPUExecutionProvider"]
        )
        self.workers = max(1, threads or os.cpu_count() or 1)
        self._pool = (
            ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="newsbot-onnx")
            if self.workers > 1
            else None
        )
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.tokenizer = Tokenizer.from_file(str(exported.tokenizer_file))
        self.tokenizer.enable_truncation(max_length=exported.max_seq_length)
        pad_id = self.tokenizer.token_to_id("[PAD]")
        self.tokenizer.enable_padding(pad_id=pad_id or 0, pad_token="[PAD]")
        self.dimension = exported.dimension

    def _run(self, feed: dict[str, Any]) -> Any:
        return self.session.run(None, feed)[0]

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        import numpy as np

        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # Longest first, in batches of similar length: little padding, as sentence-transformers.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        batches = []
        for offset in range(0, len(order), batch_size):
            rows = order[offset : offset + batch_size]
            encoded = self.tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            batches.append((rows, mask, {k: v for k, v in feed.items() if k in self.inputs}))
        feeds = [feed for _, _, feed in batches]
        if self._pool is not None and len(batches) > 1:
            hiddens = list(self._pool.map(self._run, feeds))
        else:
            hiddens = [self._run(feed) for feed in feeds]
        for (rows, mask, _), hidden in zip(batches, hiddens, strict=True):
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            vectors[rows] = pooled / norms
        return vectors


class OnnxEmbeddings(SentenceEmbeddings):
    """`SentenceEmbeddings` on onnxruntime: same interface, unit vectors; the int8 model, or
    the fp32 one (`int8=False`: the same vectors as torch, without importing torch)."""

    def __init__(
        self,
        model_name: str = DEFAULT_MODEL,
        batch_size: int = ONNX_BATCH_SIZE,
        *,
        cache_dir: Path,
        threads: int | None = None,
        int8: bool = True,
    ) -> None:
        super().__init__(model_name, batch_size)
        self.cache_dir = cache_dir
        self.int8 = int8
        self.threads = threads
        self._encoder: _OnnxEncoder | None = None
        self._encoder_lock = threading.Lock()

    @property
    def model(self) -> _OnnxEncoder:
        with self._encoder_lock:
            if self._encoder is None:
                for name, value in _OFFLINE_ENVIRONMENT.items():
                    os.environ.setdefault(name, value)
                exported = export_int8_model(self.model_name, self.cache_dir, int8=self.int8)
                self._encoder = _OnnxEncoder(exported, self.threads)
            return self._encoder

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors, one row per text (float32)."""
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self.model.encode(list(texts), self.batch_size)

    @property
    def dimension(self) -> int:
        return self.model.dimension

    @functools.cached_property
    def vector_space(self) -> str:
        """The fp32 export gives torch's vectors (cosine 1.0: one space with torch's); the
        int8 weights others (~0.99), a space of their own."""
        space = super().vector_space
        return f"{space}|onnx-int8:{EXPORT_FORMAT}" if self.int8 else space
