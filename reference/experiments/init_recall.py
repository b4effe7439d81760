"""Six-pair key→value recall on our PyTorch reference model under different initialisations (docs/RESULTS.md, section 1).

Documents "k=4 c=9 ... | c?9 ...", one-letter keys from 16, one-digit values; prints the training loss and the
answer accuracy on the training batch every 50 steps.

  /usr/bin/python3 reference/experiments/init_recall.py --init default --steps 400           # PyTorch's defaults
  /usr/bin/python3 reference/experiments/init_recall.py --init ours --std 0.02 --embstd 1.0 --steps 300
  /usr/bin/python3 reference/experiments/init_recall.py --init ours --std 0.05 --noscale --steps 300
  /usr/bin/python3 reference/experiments/init_recall.py --init ours --std 0.05 --noscale --embstd 1.0 --steps 300
"""
import os, sys, math, random, time
import torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import difft_ref as R
torch.set_num_threads(1)
import argparse
ap = argparse.ArgumentParser()
ap.add_argument('--arch', default='diff'); ap.add_argument('--init', default='default'); ap.add_argument('--std', type=float, default=0.02)
ap.add_argument('--steps', type=int, default=400); ap.add_argument('--lr', type=float, default=3e-3); ap.add_argument('--layers', type=int, default=5)
ap.add_argument('--pairs', type=int, default=6); ap.add_argument('--minpairs', type=int, default=6); ap.add_argument('--queries', type=int, default=6)
ap.add_argument('--B', type=int, default=16); ap.add_argument('--T', type=int, default=128); ap.add_argument('--embstd', type=float, default=None)
ap.add_argument('--sep', default='?'); ap.add_argument('--noscale', action='store_true'); ap.add_argument('--E', type=int, default=128); ap.add_argument('--H', type=int, default=2)
a = ap.parse_args()
L = a.layers
cfg = dict(arch=a.arch, vocab_size=257, embed_dim=a.E, num_layers=L, num_heads=a.H, num_kv_heads=a.H, ffn_dim=int(8*a.E/3), rope_theta=10000.0, norm_eps=1e-5, tie_embeddings=True)
torch.manual_seed(0); random.seed(0)
m = R.LanguageModel(cfg)
if a.init == 'ours':
    for n, p in m.named_parameters():
        if p.dim() >= 2:
            torch.nn.init.normal_(p, 0, a.std)
            if not a.noscale and (n.endswith('out_proj.weight') or n.endswith('down_proj.weight')): p.data /= math.sqrt(2 * L)
if a.embstd: torch.nn.init.normal_(m.embed_tokens.weight, 0, a.embstd)
keys = 'abcdefghijklmnop'; vals = '0123456789'
def doc():
    n = random.randint(a.minpairs, a.pairs); ks = random.sample(keys, n); vs = [random.choice(vals) for _ in ks]
    q = random.sample(range(n), min(a.queries, n))
    s = ' '.join(f'{k}={v}' for k, v in zip(ks, vs)) + ' | ' + ' '.join(f'{ks[i]}{a.sep}{vs[i]}' for i in q)
    ans = []; base = len(s) - len(' '.join(f'{ks[i]}{a.sep}{vs[i]}' for i in q))
    for j, i in enumerate(q): ans.append(base + j * 4 + 2)
    return s, ans
def batch(B, T):
    xs, masks = [], []
    for _ in range(B):
        toks, mk = [], []
        while len(toks) < T + 1:
            s, ans = doc(); st = len(toks) + 1
            toks += [256] + list(s.encode()); mk += [0] * (len(s) + 1)
            for p in ans: mk[st + p - 1] = 1   # predicting position st+p from st+p-1
        xs.append(toks[:T + 1]); masks.append(mk[:T])
    t = torch.tensor(xs); return t[:, :-1], t[:, 1:], torch.tensor(masks).bool()
opt = torch.optim.AdamW(m.parameters(), lr=a.lr, betas=(0.9, 0.95), weight_decay=0.1)
t0 = time.time()
for step in range(1, a.steps + 1):
    cur = a.lr * min(1, step / 20)
    for g in opt.param_groups: g['lr'] = cur
    x, y, mk = batch(a.B, a.T)
    logits = m(x)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 257), y.reshape(-1))
    opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0); opt.step()
    if step % 50 == 0:
        with torch.no_grad():
            acc = (logits.argmax(-1)[mk] == y[mk]).float().mean().item()
        print(step, round(loss.item(), 4), 'ans_acc', round(acc, 3), f'{time.time()-t0:.0f}s', flush=True)
