#!/usr/bin/env python3
"""PyTorch CPU timings for the same work as the TypeScript benchmarks (random weights, fp32).

Usage: torch_bench.py [--threads N] [--only block,mvfa] -> prints one JSON object.
- torch_block_fwd_ms / torch_block_fwdbwd_ms: one ViT-L/14 block (290 tokens, width 1024, 16 heads, MLP 4096),
  forward, and forward + gradient w.r.t. the input (weights frozen), medians after warm-up.
- torch_mvfa_infer_s: MVFA inference for one 240 px image on ViT-L/14 (24 blocks, adapters at 6/12/18/24, zero-shot
  maps and scores, memory-bank search of both heads against K=4 ×11 augmented normals).
- torch_mvfa_train_step_s: one training step (batch 1) from the cached stream after block 6 (blocks 7–24, adapters,
  focal + dice + BCE at 4 levels, backward, two Adam steps).
"""
import argparse, json, os, sys, time
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts", "fixtures"))
from block_ref import Block  # noqa: E402


def median_ms(fn, warmup=3, reps=10):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000)
    ts.sort()
    return ts[len(ts) // 2]


def bench_block():
    blk = Block(1024, 16, "gelu").eval()
    for p in blk.parameters():
        p.requires_grad_(False)
    x = torch.randn(290, 1, 1024)
    gy = torch.randn(290, 1, 1024)

    def fwd():
        with torch.no_grad():
            blk(x)

    def fwdbwd():
        xi = x.clone().requires_grad_(True)
        y = blk(xi)
        (y * gy).sum().backward()

    return {"torch_block_fwd_ms": median_ms(fwd), "torch_block_fwdbwd_ms": median_ms(fwdbwd)}


class Adapter(torch.nn.Module):
    def __init__(self, c=1024, b=768):
        super().__init__()
        self.fc1 = torch.nn.Sequential(torch.nn.Linear(c, b, bias=False), torch.nn.LeakyReLU())
        self.fc2 = torch.nn.Sequential(torch.nn.Linear(b, c, bias=False), torch.nn.LeakyReLU())

    def forward(self, x):
        m = self.fc1(x)
        return m, self.fc2(m)


def bench_mvfa():
    torch.manual_seed(0)
    blocks = torch.nn.ModuleList([Block(1024, 16, "gelu") for _ in range(24)]).eval()
    for p in blocks.parameters():
        p.requires_grad_(False)
    conv = torch.nn.Conv2d(3, 1024, 14, 14, bias=False)
    pos = torch.randn(290, 1024) * 0.02
    ln_pre = torch.nn.LayerNorm(1024)
    for p in list(conv.parameters()) + list(ln_pre.parameters()):
        p.requires_grad_(False)
    seg = torch.nn.ModuleList([Adapter() for _ in range(4)])
    det = torch.nn.ModuleList([Adapter() for _ in range(4)])
    text = F.normalize(torch.randn(768, 2), dim=0)
    levels = [6, 12, 18, 24]

    def tail(x, start):
        mids_s, mids_d = [], []
        for i in range(start, 24):
            x = blocks[i](x)
            if i + 1 in levels:
                j = levels.index(i + 1)
                sm, so = seg[j](x)
                dm, do = det[j](x)
                x = 0.8 * x + 0.1 * so + 0.1 * do
                mids_s.append(sm.permute(1, 0, 2))
                mids_d.append(dm.permute(1, 0, 2))
        return mids_s, mids_d

    def stem(img):
        x = conv(img).reshape(1, 1024, -1).permute(0, 2, 1)
        x = torch.cat([torch.zeros(1, 1, 1024), x], dim=1) + pos
        return ln_pre(x).permute(1, 0, 2)

    def scores(mids, size=240):
        maps, dets = [], []
        for m in mids:
            p = m[0, 1:, :]
            p = p / p.norm(dim=-1, keepdim=True)
            logits = 100.0 * p @ text
            z = logits.t().reshape(1, 2, 17, 17)
            maps.append(torch.softmax(F.interpolate(z, size=size, mode="bilinear", align_corners=True), dim=1)[:, 1])
            dets.append(torch.softmax(logits, dim=-1)[:, 1].mean())
        return maps, dets

    img = torch.rand(1, 3, 240, 240)
    bank = [F.normalize(torch.randn(44 * 290, 768), dim=-1) for _ in range(4)]

    def infer():
        with torch.no_grad():
            ms, md = tail(stem(img), 0)
            scores(ms)
            scores(md)
            for mids in (ms, md):
                acc = 0
                for j, m in enumerate(mids):
                    q = F.normalize(m[0, 1:, :], dim=-1)
                    d = (1 - (q @ bank[j].t()).max(dim=1)[0]).reshape(1, 1, 17, 17)
                    acc = acc + F.interpolate(d, size=240, mode="bilinear", align_corners=True)

    opt_s = torch.optim.Adam(seg.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(det.parameters(), lr=1e-3, betas=(0.5, 0.999))
    with torch.no_grad():
        x6 = stem(img)
        for i in range(6):
            x6 = blocks[i](x6)
    mask = (torch.rand(1, 240, 240) > 0.9).float()

    def step():
        ms, md = tail(x6, 6)
        maps, _ = scores(ms)
        _, dets = scores(md)
        loss = 0
        for mp, dt in zip(maps, dets):
            p1 = mp
            probs = torch.stack([1 - p1, p1], dim=1)
            k1 = mask * (1 - 2e-5) + 1e-5
            pt = (1 - k1) * probs[:, 0] + k1 * probs[:, 1] + 1e-5
            loss = loss + (-(1 - pt) ** 2 * pt.log()).mean()
            loss = loss + 1 - (2 * (p1 * mask).sum() + 1) / (p1.sum() + mask.sum() + 1)
            loss = loss + F.binary_cross_entropy_with_logits(dt, torch.tensor(1.0))
        opt_s.zero_grad()
        opt_d.zero_grad()
        loss.backward()
        opt_s.step()
        opt_d.step()

    return {"torch_mvfa_infer_s": median_ms(infer, 1, 3) / 1000, "torch_mvfa_train_step_s": median_ms(step, 1, 3) / 1000}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--only", default="block,mvfa")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    out = {"torch_version": torch.__version__, "torch_threads": a.threads}
    parts = a.only.split(",")
    if "block" in parts:
        out.update(bench_block())
    if "mvfa" in parts:
        out.update(bench_mvfa())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
