#!/usr/bin/env python3
"""sim_drift.py — how far apart the persistent CTAs drift under two static schedules (no GPU).
Items are rows of binomial(Tq, d) tiles plus a fixed per-item cost of `ovh` tiles, in rounds of G
consecutive items (v13: rounds in item order, each sorted heaviest first). v13 hands rank k to CTA
k in even rounds and to CTA G-1-k in odd ones (the snake); "balanced" hands each round's heaviest
item to the least-loaded CTA (a rule every CTA could follow only by replaying all rounds before).
Prints the spread of CTA loads (max - min, in mean items) over the rounds, and the end's max/mean.
`--speed s` gives every CTA a speed factor N(1, s) that no static schedule can see.
Usage: python3 bench/sm90/sim_drift.py [--speed 0.0] [--seed 1]
"""
import argparse
import random
import statistics


def binom(n, p):
    return sum(1 for _ in range(n) if random.random() < p)


def sim(H, Tq, d, G=132, ovh=2.2, spd=0.0):
    items = H * Tq
    cost = [binom(Tq, d) + ovh for _ in range(items)]
    mean = sum(cost) / items
    rounds = (items + G - 1) // G
    speed = [1 + random.gauss(0, spd) for _ in range(G)]
    out = {}
    for mode in ("v13", "balanced"):
        tot = [0.0] * G
        spreads = []
        for r in range(rounds):
            w0 = r * G
            nw = min(G, items - w0)
            order = sorted(range(nw), key=lambda i: (-cost[w0 + i], i))
            if mode == "v13":
                ctas = [k if r % 2 == 0 else (nw - 1 - k) for k in range(nw)]
            else:
                ctas = sorted(range(G), key=lambda b: (tot[b], b))[:nw]
            for k, i in enumerate(order):
                tot[ctas[k]] += cost[w0 + i] / speed[ctas[k]]
            if r < rounds - 1:
                spreads.append((max(tot) - min(tot)) / mean)
        out[mode] = "spread max %.2f mean %.2f items; end max/mean %.4f" % (
            max(spreads), statistics.mean(spreads), max(tot) / (sum(tot) / G))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--speed", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    random.seed(a.seed)
    for shape in [(40, 591), (24, 929), (12, 256)]:
        for d in (0.25, 0.1):
            r = sim(*shape, d, spd=a.speed)
            print("H=%d Tq=%d d=%.2f  v13: %s | balanced: %s" % (shape + (d, r["v13"], r["balanced"])))


if __name__ == "__main__":
    main()
