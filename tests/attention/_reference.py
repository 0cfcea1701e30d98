"""Plain-loop references: slow, obviously correct, used to check the vectorized core."""

from __future__ import annotations

import math

import numpy as np


def loop_softmax(row: list[float], allowed: list[bool]) -> list[float]:
    """Softmax of one row over the allowed entries; all zeros when none is allowed."""
    kept = [s for s, a in zip(row, allowed, strict=True) if a]
    if not kept:
        return [0.0] * len(row)
    top = max(kept)
    exps = [math.exp(s - top) if a else 0.0 for s, a in zip(row, allowed, strict=True)]
    total = sum(exps)
    return [e / total for e in exps]


def loop_attention(q, k, v, scale, mask=None):
    """Triple-loop scaled dot-product attention for 2-D q (N, d), k (M, d), v (M, d_v)."""
    q, k, v = (np.asarray(a, dtype=np.float64) for a in (q, k, v))
    n, d = q.shape
    m, d_v = v.shape
    allowed = np.ones((n, m), bool) if mask is None else np.broadcast_to(mask, (n, m))
    weights = np.zeros((n, m))
    out = np.zeros((n, d_v))
    for i in range(n):
        row = []
        for j in range(m):
            total = 0.0
            for t in range(d):
                total += q[i, t] * k[j, t]
            row.append(total * scale)
        weights[i] = loop_softmax(row, list(allowed[i]))
        for c in range(d_v):
            out[i, c] = sum(weights[i, j] * v[j, c] for j in range(m))
    return out, weights


def loop_additive_scores(q, k, w_q, w_k, v):
    """score[n, m] = sum_j v_j tanh(sum_a q[n,a] w_q[a,j] + sum_b k[m,b] w_k[b,j])."""
    n, m, h = q.shape[0], k.shape[0], v.shape[0]
    out = np.zeros((n, m))
    for i in range(n):
        for j in range(m):
            for t in range(h):
                pre = sum(q[i, a] * w_q[a, t] for a in range(q.shape[1]))
                pre += sum(k[j, b] * w_k[b, t] for b in range(k.shape[1]))
                out[i, j] += v[t] * math.tanh(pre)
    return out


def loop_pool(weights, rows, cols, reduce):
    """Block pooling with the rule edges[i] = floor(i * L / blocks)."""
    n, m = weights.shape
    re = [i * n // rows for i in range(rows + 1)]
    ce = [j * m // cols for j in range(cols + 1)]
    out = np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            cell = weights[re[i] : re[i + 1], ce[j] : ce[j + 1]]
            out[i, j] = cell.mean() if reduce == "mean" else cell.max()
    return out
