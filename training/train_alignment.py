"""Train the date translator whose alignment maps the learned-alignment page shows.

    pip install -e ".[train]"      # torch, CPU build
    python training/train_alignment.py [--steps 3000] [--out generator/models/alignment_dates.npz]

The model is the one :mod:`attention_atlas.models.alignment` runs in NumPy: word
embeddings, a bidirectional GRU encoder, a GRU decoder whose attention is additive
(Bahdanau) scoring ``v . tanh(s W_q + a W_k)``, greedy decoding of the 10 ISO
characters. Training uses teacher forcing and fresh seeded examples every step, never
a held-out day (:func:`attention_atlas.models.dates.is_held_out`). Everything is seeded
and torch runs on the CPU with one thread (faster than two for matrices this small), so a
run gives the same weights on the same machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from attention_atlas.models import dates
from attention_atlas.models.alignment import OUTPUT_LENGTH, WEIGHTS_PATH

#: Widths: input embedding E, encoder h (per direction), decoder state S, scoring net A,
#: output embedding F.
WIDTHS = {"E": 32, "h": 48, "S": 96, "A": 48, "F": 16}


class GRUCell(nn.Module):
    """A GRU cell with PyTorch's gate order, weights stored as the NumPy model reads them."""

    def __init__(self, inputs: int, size: int) -> None:
        super().__init__()
        bound = size**-0.5
        self.w_ih = nn.Parameter(torch.empty(inputs, 3 * size).uniform_(-bound, bound))
        self.w_hh = nn.Parameter(torch.empty(size, 3 * size).uniform_(-bound, bound))
        self.b_ih = nn.Parameter(torch.empty(3 * size).uniform_(-bound, bound))
        self.b_hh = nn.Parameter(torch.empty(3 * size).uniform_(-bound, bound))
        self.size = size

    def forward(self, x: Tensor, state: Tensor) -> Tensor:
        gi = x @ self.w_ih + self.b_ih
        gh = state @ self.w_hh + self.b_hh
        s = self.size
        r = torch.sigmoid(gi[:, :s] + gh[:, :s])
        z = torch.sigmoid(gi[:, s : 2 * s] + gh[:, s : 2 * s])
        n = torch.tanh(gi[:, 2 * s :] + r * gh[:, 2 * s :])
        return (1 - z) * n + z * state


class DateTranslator(nn.Module):
    """The encoder-decoder; :meth:`arrays` gives the weights file's arrays."""

    def __init__(self, source_vocab: Sequence[str], target_vocab: Sequence[str]) -> None:
        super().__init__()
        e, h, s, a, f = (WIDTHS[k] for k in "EhSAF")
        self.source_vocab, self.target_vocab = tuple(source_vocab), tuple(target_vocab)
        self.src_embedding = nn.Parameter(torch.randn(len(source_vocab), e) * 0.3)
        self.enc_fwd = GRUCell(e, h)
        self.enc_bwd = GRUCell(e, h)
        self.init_w = nn.Parameter(torch.randn(2 * h, s) * (2 * h) ** -0.5)
        self.init_b = nn.Parameter(torch.zeros(s))
        self.tgt_embedding = nn.Parameter(torch.randn(len(target_vocab) + 1, f) * 0.3)
        self.att_w_q = nn.Parameter(torch.randn(s, a) * s**-0.5)
        self.att_w_k = nn.Parameter(torch.randn(2 * h, a) * (2 * h) ** -0.5)
        self.att_v = nn.Parameter(torch.randn(a) * a**-0.5)
        self.dec = GRUCell(f + 2 * h, s)
        self.out_w = nn.Parameter(torch.randn(s + 2 * h, len(target_vocab)) * (s + 2 * h) ** -0.5)
        self.out_b = nn.Parameter(torch.zeros(len(target_vocab)))

    def encode(self, ids: Tensor, mask: Tensor) -> Tensor:
        """Annotations (B, M, 2h); padding keeps the state of each direction."""
        x = self.src_embedding[ids]
        batch, width, _ = x.shape
        outs = []
        for cell, steps in (
            (self.enc_fwd, range(width)),
            (self.enc_bwd, range(width - 1, -1, -1)),
        ):
            state = x.new_zeros(batch, cell.size)
            seq: list[Tensor] = [state] * width
            for m in steps:
                state = torch.where(mask[:, m, None], cell(x[:, m], state), state)
                seq[m] = state
            outs.append(torch.stack(seq, dim=1))
        return torch.cat(outs, dim=-1)

    def attend(self, state: Tensor, annotations: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Additive attention of one step: context (B, 2h) and weights (B, M)."""
        hidden = torch.tanh((state @ self.att_w_q)[:, None, :] + annotations @ self.att_w_k)
        scores = (hidden @ self.att_v).masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        return torch.einsum("bm,bmk->bk", weights, annotations), weights

    def forward(
        self, ids: Tensor, mask: Tensor, targets: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Logits (B, T, V_t) and weights (B, T, M); teacher-forced when ``targets`` is given,
        greedy otherwise."""
        annotations = self.encode(ids, mask)
        share = mask.float() / mask.float().sum(dim=1, keepdim=True)
        state = torch.tanh(
            torch.einsum("bm,bmk->bk", share, annotations) @ self.init_w + self.init_b
        )
        prev = ids.new_full((ids.shape[0],), len(self.target_vocab))
        logits, weights = [], []
        for t in range(OUTPUT_LENGTH):
            context, w = self.attend(state, annotations, mask)
            state = self.dec(torch.cat([self.tgt_embedding[prev], context], dim=-1), state)
            step = torch.cat([state, context], dim=-1) @ self.out_w + self.out_b
            logits.append(step)
            weights.append(w)
            prev = targets[:, t] if targets is not None else step.argmax(dim=-1)
        return torch.stack(logits, dim=1), torch.stack(weights, dim=1)

    def arrays(self) -> dict[str, np.ndarray]:
        """The weights file's arrays (float32), named as the NumPy model reads them."""
        out: dict[str, np.ndarray] = {
            "source_vocab": np.array(self.source_vocab),
            "target_vocab": np.array(self.target_vocab),
        }
        for name, value in self.named_parameters():
            key = name.replace("enc_fwd.", "enc_fwd_").replace("enc_bwd.", "enc_bwd_")
            key = key.replace("dec.", "dec_")
            out[key] = value.detach().numpy().astype(np.float32)
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> DateTranslator:
        """The model with the weights of a weights file (the inverse of :meth:`arrays`)."""
        model = cls(
            [str(w) for w in arrays["source_vocab"]], [str(c) for c in arrays["target_vocab"]]
        )
        names = dict(model.named_parameters())
        with torch.no_grad():
            for name, param in names.items():
                key = name.replace("enc_fwd.", "enc_fwd_").replace("enc_bwd.", "enc_bwd_")
                param.copy_(torch.from_numpy(arrays[key.replace("dec.", "dec_")]))
        return model


def batch(
    model: DateTranslator, examples: Sequence[dates.DateExample]
) -> tuple[Tensor, Tensor, Tensor]:
    """Ids (B, M), mask (B, M) and target ids (B, T) of ``examples``."""
    index = {w: i for i, w in enumerate(model.source_vocab)}
    chars = {c: i for i, c in enumerate(model.target_vocab)}
    width = max(len(e.words) for e in examples)
    ids = torch.zeros(len(examples), width, dtype=torch.long)
    mask = torch.zeros(len(examples), width, dtype=torch.bool)
    for b, e in enumerate(examples):
        ids[b, : len(e.words)] = torch.tensor([index[w] for w in e.words])
        mask[b, : len(e.words)] = True
    targets = torch.tensor([[chars[c] for c in e.target] for e in examples])
    return ids, mask, targets


def exact_match(model: DateTranslator, examples: Sequence[dates.DateExample]) -> float:
    """Share of ``examples`` translated exactly by greedy decoding."""
    ids, mask, targets = batch(model, examples)
    with torch.no_grad():
        logits, _ = model(ids, mask)
    return float((logits.argmax(-1) == targets).all(dim=1).float().mean())


def train(steps: int, batch_size: int, seed: int) -> tuple[DateTranslator, float]:
    """Train from ``seed``; the model and the seconds it took."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = DateTranslator(dates.source_vocabulary(), dates.TARGET_VOCAB)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    check = dates.sample_examples(np.random.default_rng(seed + 1), 500, held_out=True)
    started = time.perf_counter()
    for step in range(1, steps + 1):
        ids, mask, targets = batch(model, dates.sample_examples(rng, batch_size, held_out=False))
        logits, _ = model(ids, mask, targets)
        loss = nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)
        )
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 250 == 0 or step == steps:
            print(
                f"step {step}: loss {loss.item():.4f}, held-out exact match "
                f"{exact_match(model, check):.3f} ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
    return model, time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # small matmuls: a second thread only waits
    model, seconds = train(args.steps, args.batch_size, args.seed)
    np.savez_compressed(args.out, **model.arrays())
    size = args.out.stat().st_size
    print(f"trained in {seconds:.0f} s; wrote {args.out} ({size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
