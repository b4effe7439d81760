"""Dumps the reference fixtures the C# tests compare against (llm.c style).

Regenerate (Debian's PyTorch; the `python3` on PATH may be another interpreter):
    /usr/bin/python3 reference/make_fixtures.py            # every fixture
    /usr/bin/python3 reference/make_fixtures.py attn_v2_mha attn_v2_gqa   # only these

Each fixture is a safetensors file. Tensor names:
    param.<key>   weights, <key> = the C# state-dict key
    input.<name>  inputs (x and the upstream gradient dy for a layer; tokens, targets for a model)
    output.<name> forward results (y or logits, loss, lambda per layer, attention maps)
    grad.<name>   gradients: grad.x and grad.<key> for every parameter
__metadata__ holds format "difft-fixture", version, kind, the configuration (JSON) and the
generator's torch version. The weights are random but not tiny, so that the maps are far from
uniform and every gradient path carries signal.
"""
import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import difft_ref as R  # noqa: E402

FORMAT = "difft-fixture"
VERSION = "1"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")

DTYPES = {torch.float32: "F32", torch.int64: "I64"}


def save_safetensors(path, tensors, metadata):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        b = t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def randomize(module, scale=1.0):
    """Weights with enough spread for sharp attention maps; norms not all ones."""
    g = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("norm.weight") or name.endswith("subln.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif "lambda_" in name:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif p.dim() == 2:
                fan_in = p.shape[1]
                p.copy_(scale * torch.randn(p.shape, generator=g) / fan_in ** 0.5)


def attention_fixture(name, embed_dim, num_heads, num_kv_heads, depth, batch, seq_len, seed):
    torch.manual_seed(seed)
    m = R.DiffAttention(embed_dim, depth, num_heads, num_kv_heads)
    randomize(m, scale=2.0)
    x = torch.randn(batch, seq_len, embed_dim, requires_grad=True)
    dy = torch.randn(batch, seq_len, embed_dim)
    y, a1, a2 = m(x, return_maps=True)
    (y * dy).sum().backward()
    t = {"input.x": x, "input.dy": dy, "output.y": y, "output.attn1": a1, "output.attn2": a2,
         "output.lambda_full": m.lambda_full().reshape(1), "grad.x": x.grad}
    for k, p in m.named_parameters():
        t["param." + k] = p
        t["grad." + k] = p.grad
    cfg = dict(embed_dim=embed_dim, num_heads=num_heads, num_kv_heads=num_kv_heads, depth=depth,
               batch=batch, seq_len=seq_len, rope_theta=10000.0)
    meta = dict(format=FORMAT, version=VERSION, kind="diff_attention", config=json.dumps(cfg),
                lambda_init=repr(m.lambda_init), torch=torch.__version__)
    save_safetensors(os.path.join(OUT, name + ".safetensors"), t, meta)
    # The module's own state dict, exactly its nine keys: what a user would save from PyTorch.
    save_safetensors(os.path.join(OUT, name + ".weights.safetensors"), dict(m.state_dict()), {})
    print(f"{name}: y {tuple(y.shape)}, lambda {m.lambda_full().item():.6f}, keys {sorted(m.state_dict())}")


def attention_v2_fixture(name, embed_dim, num_heads, num_kv_heads, batch, seq_len, seed):
    """One DIFF V2 layer: forward (with the 2h softmax maps and the per-token sigmoid(lambda)) and every gradient."""
    torch.manual_seed(seed)
    m = R.DiffAttentionV2(embed_dim, num_heads, num_kv_heads)
    randomize(m, scale=2.0)
    x = torch.randn(batch, seq_len, embed_dim, requires_grad=True)
    dy = torch.randn(batch, seq_len, embed_dim)
    y, a, lam = m(x, return_maps=True)
    (y * dy).sum().backward()
    t = {"input.x": x, "input.dy": dy, "output.y": y, "output.attn": a, "output.lambda": lam, "grad.x": x.grad}
    for k, p in m.named_parameters():
        t["param." + k] = p
        t["grad." + k] = p.grad
    cfg = dict(embed_dim=embed_dim, num_heads=num_heads, num_kv_heads=num_kv_heads, batch=batch, seq_len=seq_len,
               rope_theta=10000.0)
    meta = dict(format=FORMAT, version=VERSION, kind="diff_attention_v2", config=json.dumps(cfg), torch=torch.__version__)
    save_safetensors(os.path.join(OUT, name + ".safetensors"), t, meta)
    print(f"{name}: y {tuple(y.shape)}, sigmoid(lambda) in [{lam.min().item():.3f}, {lam.max().item():.3f}], keys {sorted(m.state_dict())}")


def model_fixture(name, cfg, batch, seq_len, seed):
    torch.manual_seed(seed)
    m = R.LanguageModel(cfg)
    randomize(m, scale=1.5)
    with torch.no_grad():
        m.embed_tokens.weight.normal_(0, 0.5)
    tokens = torch.randint(0, cfg["vocab_size"], (batch, seq_len))
    targets = torch.randint(0, cfg["vocab_size"], (batch, seq_len))
    logits = m(tokens)
    loss = torch.nn.functional.cross_entropy(logits.view(-1, cfg["vocab_size"]), targets.view(-1))
    loss.backward()
    t = {"input.tokens": tokens, "input.targets": targets, "output.logits": logits,
         "output.loss": loss.reshape(1)}
    for i, layer in enumerate(m.layers):
        if cfg["arch"] == "diff":
            t[f"output.lambda.{i}"] = layer.attn.lambda_full().reshape(1)
    for k, p in m.named_parameters():
        t["param." + k] = p
        t["grad." + k] = p.grad
    meta = dict(format=FORMAT, version=VERSION, kind="model", config=json.dumps(cfg),
                batch=batch, seq_len=seq_len, torch=torch.__version__)
    save_safetensors(os.path.join(OUT, name + ".safetensors"), t, meta)
    print(f"{name}: loss {loss.item():.6f}, params {sum(p.numel() for p in m.parameters())}")


def optimizer_fixture(name, cfg, batch, seq_len, seed, lrs, clip):
    """AdamW (decoupled decay on matrices only) with global-norm clipping, a few steps on one batch."""
    torch.manual_seed(seed)
    m = R.LanguageModel(cfg)
    randomize(m, scale=1.5)
    with torch.no_grad():
        m.embed_tokens.weight.normal_(0, 0.5)
    t = {"param." + k: p.detach().clone() for k, p in m.named_parameters()}
    tokens = torch.randint(0, cfg["vocab_size"], (batch, seq_len))
    targets = torch.randint(0, cfg["vocab_size"], (batch, seq_len))
    decay = [p for p in m.parameters() if p.dim() >= 2]
    no_decay = [p for p in m.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=lrs[0], betas=(0.9, 0.95), eps=1e-8)
    losses, norms = [], []
    for i, lr in enumerate(lrs):
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad()
        logits = m(tokens)
        loss = torch.nn.functional.cross_entropy(logits.view(-1, cfg["vocab_size"]), targets.view(-1))
        loss.backward()
        norms.append(torch.nn.utils.clip_grad_norm_(m.parameters(), clip).item())
        for k, p in m.named_parameters():  # the (clipped) gradients the update consumed
            t[f"grad_step{i}." + k] = p.grad.detach().clone()
        opt.step()
        losses.append(loss.item())
    t["input.tokens"], t["input.targets"] = tokens, targets
    t["input.lrs"] = torch.tensor(lrs, dtype=torch.float32)
    t["output.losses"] = torch.tensor(losses, dtype=torch.float32)
    t["output.grad_norms"] = torch.tensor(norms, dtype=torch.float32)
    for k, p in m.named_parameters():
        t["final." + k] = p
    meta = dict(format=FORMAT, version=VERSION, kind="adamw", config=json.dumps(cfg), clip=repr(clip),
                betas="0.9,0.95", eps="1e-8", weight_decay="0.1", torch=torch.__version__)
    save_safetensors(os.path.join(OUT, name + ".safetensors"), t, meta)
    print(f"{name}: losses {[round(x, 6) for x in losses]}, grad norms {[round(x, 4) for x in norms]}")


def main(only):
    """Writes every fixture, or only those named on the command line (each one's generator is seeded on its own)."""
    torch.set_num_threads(2)
    os.makedirs(OUT, exist_ok=True)
    base = dict(vocab_size=97, embed_dim=32, num_layers=2, num_heads=2, num_kv_heads=2, ffn_dim=85,
                max_seq_len=64, rope_theta=10000.0, norm_eps=1e-5)
    fixtures = {
        # (a) one DIFF layer, MHA, depth 0
        "attn_mha_depth0": lambda n: attention_fixture(n, embed_dim=64, num_heads=2, num_kv_heads=None, depth=0,
                                                       batch=2, seq_len=9, seed=1),
        # (b) one DIFF layer, GQA n_rep = 2, depth 3
        "attn_gqa_depth3": lambda n: attention_fixture(n, embed_dim=64, num_heads=4, num_kv_heads=2, depth=3,
                                                       batch=2, seq_len=9, seed=2),
        # (c) a 2-layer DIFF model, untied head; (d) the baseline Transformer, tied head, GQA
        #     (4 heads reading 2 KV heads)
        "model_diff": lambda n: model_fixture(n, dict(base, arch="diff", tie_embeddings=False), batch=2, seq_len=12, seed=3),
        "model_transformer": lambda n: model_fixture(n, dict(base, arch="transformer", num_kv_heads=1, tie_embeddings=True),
                                                     batch=2, seq_len=12, seed=4),
        # (e) AdamW + clipping: five steps of a small DIFF model with a changing learning rate
        "adamw_diff": lambda n: optimizer_fixture(n, dict(base, arch="diff", tie_embeddings=False, vocab_size=33, embed_dim=16,
                                                          num_layers=1, ffn_dim=40),
                                                  batch=2, seq_len=12, seed=5, lrs=[1e-2, 8e-3, 6e-3, 4e-3, 2e-3], clip=1.0),
        # (f) one DIFF V2 layer: h 2 (4 query heads of width 16) against h_kv 2 KV heads (each pair its own);
        # (g) h 4 (8 query heads of width 8) against h_kv 2 (n_rep 4: two pairs per KV head)
        "attn_v2_mha": lambda n: attention_v2_fixture(n, embed_dim=64, num_heads=2, num_kv_heads=None, batch=2, seq_len=9, seed=6),
        "attn_v2_gqa": lambda n: attention_v2_fixture(n, embed_dim=64, num_heads=4, num_kv_heads=2, batch=2, seq_len=9, seed=7),
        # (h) a 2-layer DIFF V2 model, untied head, h 2 against h_kv 1 (both pairs read one KV head)
        "model_diff2": lambda n: model_fixture(n, dict(base, arch="diff2", num_kv_heads=1, tie_embeddings=False), batch=2, seq_len=12, seed=8),
    }
    unknown = [n for n in only if n not in fixtures]
    if unknown:
        sys.exit(f"unknown fixture(s) {unknown}; known: {sorted(fixtures)}")
    for name, make in fixtures.items():
        if not only or name in only:
            make(name)


if __name__ == "__main__":
    main(sys.argv[1:])
