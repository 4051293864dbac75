"""One-to-one matching of predicted to true centres within a radius (Hungarian assignment).

Candidate pairs come from a k-d tree (``cKDTree.sparse_distance_matrix``, pairs at distance
<= the radius); the bipartite
graph of candidates splits into small connected components (containers are ~2.4 m apart, the
radius is ~1.25 m), and each component is solved exactly with
``scipy.optimize.linear_sum_assignment``: first the most pairs, then the least total distance.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

__all__ = ["match_centres"]


def match_centres(
    pred_xy: np.ndarray, truth_xy: np.ndarray, *, max_dist: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Match points one-to-one: pairs closer than or at ``max_dist``, most pairs first.

    ``pred_xy`` float [N, 2], ``truth_xy`` float [M, 2], same units (metres) as ``max_dist``.
    Returns ``(pred_index, truth_index, distance)``, each [K], sorted by pred_index.
    """
    pred_xy = np.asarray(pred_xy, np.float64).reshape(-1, 2)
    truth_xy = np.asarray(truth_xy, np.float64).reshape(-1, 2)
    n, m = len(pred_xy), len(truth_xy)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if n == 0 or m == 0:
        return empty
    pairs = cKDTree(pred_xy).sparse_distance_matrix(
        cKDTree(truth_xy), max_dist, output_type="ndarray"
    )
    rows, cols = pairs["i"].astype(np.int64), pairs["j"].astype(np.int64)
    if len(rows) == 0:
        return empty
    dist = np.hypot(*(pred_xy[rows] - truth_xy[cols]).T)
    graph = coo_matrix((np.ones(len(rows)), (rows, cols + n)), shape=(n + m, n + m))
    _, comp = connected_components(graph, directed=False)
    edge_comp = comp[rows]
    order = np.argsort(edge_comp, kind="stable")
    rows, cols, dist, edge_comp = rows[order], cols[order], dist[order], edge_comp[order]
    starts = np.flatnonzero(np.r_[True, edge_comp[1:] != edge_comp[:-1]])
    ends = np.r_[starts[1:], len(rows)]
    out_p, out_t, out_d = [], [], []
    big = 1e6 * (max_dist + 1.0)  # a non-edge costs more than any full set of edges
    for a, b in zip(starts, ends, strict=True):
        r, c, d = rows[a:b], cols[a:b], dist[a:b]
        if b - a == 1:
            out_p.append(r)
            out_t.append(c)
            out_d.append(d)
            continue
        ur, ri = np.unique(r, return_inverse=True)
        uc, ci = np.unique(c, return_inverse=True)
        cost = np.full((len(ur), len(uc)), big)
        cost[ri, ci] = d
        pi, ti = linear_sum_assignment(cost)
        ok = cost[pi, ti] < big
        out_p.append(ur[pi[ok]])
        out_t.append(uc[ti[ok]])
        out_d.append(cost[pi[ok], ti[ok]])
    p, t, d = np.concatenate(out_p), np.concatenate(out_t), np.concatenate(out_d)
    order = np.argsort(p, kind="stable")
    return p[order], t[order], d[order]
