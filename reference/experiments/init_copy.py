"""How the initialisation decides when a tiny model learns to copy from context (docs/RESULTS.md, section 1).

Trains our PyTorch reference model (tiny shape: E 128, 5 layers, 2 DIFF heads) on documents "g=3 | g?3" — the
query's key and value sit at a fixed offset from the pair — and prints the training loss every 25 steps. It falls
from ~1.0 to ~0.55 once the copy is learnt.

  /usr/bin/python3 reference/experiments/init_copy.py diff default 150 3e-3      # PyTorch's default init
  /usr/bin/python3 reference/experiments/init_copy.py diff ours 150 3e-3 5 0.02  # N(0, 0.02²), residual /√(2L)

Arguments: arch (diff|transformer), init (default|ours), steps, lr, [layers = 5], [std = 0.02].
"""
import os, sys, math, random
import torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import difft_ref as R
torch.set_num_threads(1)
arch, init, steps, lr = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
STD = float(sys.argv[6]) if len(sys.argv) > 6 else 0.02
L = int(sys.argv[5]) if len(sys.argv) > 5 else 5
cfg = dict(arch=arch, vocab_size=257, embed_dim=128, num_layers=L, num_heads=2, num_kv_heads=2, ffn_dim=341, rope_theta=10000.0, norm_eps=1e-5, tie_embeddings=True)
torch.manual_seed(0); random.seed(0)
m = R.LanguageModel(cfg)
if init == 'ours':
    for n, p in m.named_parameters():
        if p.dim() >= 2:
            torch.nn.init.normal_(p, 0, STD)
            if n.endswith('out_proj.weight') or n.endswith('down_proj.weight'): p.data /= math.sqrt(2 * L)
keys = 'abcdefghijklmnop'; vals = '0123456789'
def stream(n):
    out = []
    while len(out) < n:
        k = random.choice(keys); v = random.choice(vals)
        out += [256] + list(f"{k}={v} | {k}?{v}".encode())
    return out
def batch(B=16, T=128):
    xs = []
    for _ in range(B):
        s = stream(T + 1 + 12); o = random.randrange(12); xs.append(s[o:o + T + 1])
    t = torch.tensor(xs); return t[:, :-1], t[:, 1:]
opt = torch.optim.AdamW(m.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.1)
for step in range(1, steps + 1):
    cur = lr * min(1, step / 20)
    for g in opt.param_groups: g['lr'] = cur
    x, y = batch()
    loss = torch.nn.functional.cross_entropy(m(x).reshape(-1, 257), y.reshape(-1))
    opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0); opt.step()
    if step % 25 == 0: print(step, round(loss.item(), 4), flush=True)
