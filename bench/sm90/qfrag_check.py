#!/usr/bin/env python3
"""qfrag_check.py — host check (no GPU) of -DLA_QRS=1's Q fragment load: simulates the TMA
128B-swizzled Q buffer and ldmatrix x4 with the lane addresses of sm90_fwd.cu's load_q
(la_sw128_x4_addr in sm90_ptx.cuh, which the LA_OTMA epilogue's stmatrix shares), and checks
that every consumer thread's registers qr[4t..4t+3] hold the wgmma A fragment of k-step t (PTX ISA,
register fragment A of m64nNk16, 16-bit types): a0 = (r, 16t + 2c .. +1), a1 = (r + 8, same),
a2 = (r, 16t + 8 + 2c .. +1), a3 = (r + 8, same), r = 64 cw + 16 warp + lane / 4, c = lane % 4.
Usage: python3 bench/sm90/qfrag_check.py   (exit 1 on any mismatch)"""
import sys

BM = 128


def smem_addr(row, col):
    """Byte offset of Q[row][col] (2-byte elements) in the TMA layout: D / 64 slabs of BM rows x
    128 B, the 16-byte chunk index XOR row % 8 (1024-byte aligned 8-row atoms)."""
    slab, c = col // 64, col % 64
    return slab * (BM * 128) + row * 128 + (((c // 8) ^ (row & 7)) << 4) + (c % 8) * 2


def main():
    bad = 0
    for D in (64, 128):
        mem = {}
        for row in range(BM):
            for col in range(D):
                mem[smem_addr(row, col)] = (row, col)
        for cw in (0, 1):
            for warp in range(4):
                # ldmatrix: lane l's address is row l % 8 of matrix l / 8, as load_q computes it
                # with la_sw128_x4_addr(Q, LA_BM, row16 = 64 cw + 16 warp, blk = 2t, lane)
                for t in range(D // 16):
                    addrs = []
                    row16, blk = cw * 64 + warp * 16, 2 * t
                    for lane in range(32):
                        row = row16 + ((lane >> 3) & 1) * 8 + (lane & 7)
                        chunk = blk + (lane >> 4)
                        addrs.append((chunk >> 3) * (BM * 128) + row * 128
                                     + (((chunk & 7) ^ (lane & 7)) << 4))
                    for lane in range(32):
                        for i in range(4):  # register i <- matrix i, row lane / 4, pair lane % 4
                            base = addrs[8 * i + lane // 4]
                            got = [mem[base + 4 * (lane % 4)], mem[base + 4 * (lane % 4) + 2]]
                            r = cw * 64 + warp * 16 + lane // 4 + 8 * (i & 1)
                            c = 16 * t + 8 * (i >> 1) + 2 * (lane % 4)
                            want = [(r, c), (r, c + 1)]
                            if got != want:
                                bad += 1
                                if bad <= 5:
                                    print("D=%d cw=%d warp=%d t=%d lane=%d reg %d: got %s want %s"
                                          % (D, cw, warp, t, lane, i, got, want))
    print("qfrag_check: %d mismatches" % bad)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
