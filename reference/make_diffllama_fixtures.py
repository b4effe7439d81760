"""Tiny random HF-style DiffLlama checkpoints and their expected logits, for the C# importer/exporter tests.

Regenerate (Debian's PyTorch; the `python3` on PATH may be another interpreter):
    /usr/bin/python3 reference/make_diffllama_fixtures.py

Writes under reference/fixtures/:
    diffllama_tiny_gqa/           config.json, model.safetensors (F32; tied, so no lm_head.weight)
    diffllama_tiny_mha/           config.json, model.safetensors (F32; untied)
    diffllama_tiny_mha_sharded/   the same weights as diffllama_tiny_mha in model-0000{1,2}-of-00002.safetensors
                                  + model.safetensors.index.json
    diffllama_tiny_mha_bf16/      the same weights rounded to bfloat16 (dtype "BF16"), config torch_dtype bfloat16
    <name>.expected.safetensors   input.tokens (I64 [B, T]), output.logits (F32 [B, T, vocab]) from diffllama_ref in
                                  float32 (for _bf16: on the bf16-rounded weights, upcast exactly), output.lambda_full.<i>
                                  ([1], each layer's lambda); __metadata__ has format "difft-fixture", the lambda_init
                                  of each layer and the torch version.

Before writing, it self-checks (asserts):
    1. our reading of upstream's eager tensor shuffling (repeat_kv, chunk/cat/repeat of the values, chunk of the
       output), traced on integer labels, equals the pair/KV indices diffllama_ref uses;
    2. DiffLlama attention == difft_ref.DiffAttention after to_authors_layout, for MHA, GQA with even and odd
       num_key_value_heads, several depths and eps values;
    3. authors -> DiffLlama (from_authors_layout, subln.weight folded into o_proj) == the authors' module;
    4. every fixture model == difft_ref.LanguageModel after to_authors_layout (whole forward);
    5. every written checkpoint directory, read back by diffllama_ref.load_checkpoint, gives the expected logits
       bit for bit.
The mapping itself is described in reference/DIFFLLAMA.md.
"""
import json
import math
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import difft_ref as R  # noqa: E402
import diffllama_ref as D  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")
FORMAT, VERSION = "difft-fixture", "1"


# ----------------------------------------------------------------------------------------------- safetensors writing

def tensor_bytes(t, dtype):
    t = t.detach().contiguous().cpu()
    if dtype == "F32":
        return t.float().numpy().tobytes()
    if dtype == "BF16":                                   # round to nearest even, keep the raw 16 bits
        return t.float().to(torch.bfloat16).view(torch.int16).numpy().tobytes()
    if dtype == "I64":
        return t.long().numpy().tobytes()
    raise NotImplementedError(dtype)


def write_safetensors(path, tensors, metadata, dtype_of=lambda name, t: "F32"):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name]
        dt = dtype_of(name, t)
        b = tensor_bytes(t, dt)
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
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
    return offset                                         # bytes of tensor data


# ----------------------------------------------------------------------------------------------- the mapping

def rotary_perm(d):
    """rho with ours[m] = hf[rho[m]] inside one head: rotate_half pairs (i, i + d/2) -> interleaved (2i, 2i+1)."""
    rho = torch.empty(d, dtype=torch.long)
    rho[0::2] = torch.arange(d // 2)
    rho[1::2] = torch.arange(d // 2) + d // 2
    return rho


def head_maps(N, K):
    """sigma_q[s] = the DiffLlama query head that becomes our sub-head s (ours: pair h = sub-heads 2h, 2h+1);
    sigma_kv[s] = the DiffLlama KV head that becomes our key sub-head s (and our value half s);
    our num_kv_heads. K even: compact (our groups g = DiffLlama KV heads g and g + K/2). K odd: every pair gets its
    own group (our num_kv_heads = N/2), KV heads duplicated where pairs share them."""
    P, r = N // 2, N // K
    j = torch.arange(P)
    sigma_q = torch.stack([j, j + P], dim=1).reshape(-1)
    if K % 2 == 0:
        g = torch.arange(K // 2)
        return sigma_q, torch.stack([g, g + K // 2], dim=1).reshape(-1), K // 2
    return sigma_q, torch.stack([j // r, (j + P) // r], dim=1).reshape(-1), P


def permute_heads(w, sigma, d, rho=None):
    """w: [n_heads * d, ...] rows grouped by head -> rows of head sigma[s] (inner order rho) for s = 0, 1, ..."""
    w = w.reshape(-1, d, *w.shape[1:])[sigma]
    if rho is not None:
        w = w[:, rho]
    return w.reshape(-1, *w.shape[2:])


def attn_to_authors(sd, cfg):
    """DiffLlama self_attn tensors (q_proj.weight, ...) -> difft_ref.DiffAttention tensors, and our num_kv_heads."""
    N, K, d = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    sigma_q, sigma_kv, hkv = head_maps(N, K)
    rho = rotary_perm(d)
    out = {
        "q_proj.weight": permute_heads(sd["q_proj.weight"], sigma_q, d, rho),
        "k_proj.weight": permute_heads(sd["k_proj.weight"], sigma_kv, d, rho),
        "v_proj.weight": permute_heads(sd["v_proj.weight"], sigma_kv, d),
        "out_proj.weight": sd["o_proj.weight"].clone(),     # columns unchanged
        "subln.weight": torch.ones(2 * d),                   # DiffLlama's per-pair norm has no weight
    }
    for n in ("lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2"):
        out[n] = sd[n].clone()                               # unchanged (shared by all pairs in both)
    return out, hkv


def attn_from_authors(sd, num_heads, num_kv_heads, d):
    """difft_ref.DiffAttention tensors -> DiffLlama self_attn tensors (N = 2 num_heads, K = 2 num_kv_heads).
    subln.weight is folded into o_proj's columns (exact); the result has no norm weight, as DiffLlama needs."""
    N, K = 2 * num_heads, 2 * num_kv_heads
    sigma_q, sigma_kv, _ = head_maps(N, K)
    inv = lambda s: torch.argsort(s)                         # noqa: E731
    rho_inv = inv(rotary_perm(d))
    w = sd["subln.weight"].repeat(num_heads)                 # [2d] per pair -> [N d]
    out = {
        "q_proj.weight": permute_heads(sd["q_proj.weight"], inv(sigma_q), d, rho_inv),
        "k_proj.weight": permute_heads(sd["k_proj.weight"], inv(sigma_kv), d, rho_inv),
        "v_proj.weight": permute_heads(sd["v_proj.weight"], inv(sigma_kv), d),
        "o_proj.weight": sd["out_proj.weight"] * w[None, :],
    }
    for n in ("lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2"):
        out[n] = sd[n].clone()
    return out


def check_mappable(cfg):
    """What difft_ref / the C# model cannot represent exactly; raises with the reason."""
    N, d, E = cfg["num_attention_heads"], cfg["head_dim"], cfg["hidden_size"]
    if N * d != E:
        raise ValueError(f"num_attention_heads * head_dim = {N * d} != hidden_size {E}: our DiffAttention has "
                         "q_proj/out_proj E x E")
    if cfg["attention_bias"]:
        raise ValueError("attention_bias: our attention has no biases")
    if cfg["rope_scaling"] is not None and cfg["rope_scaling"].get("rope_type", "default") != "default":
        raise ValueError("rope_scaling: our rotary has no scaling")


def to_authors_layout(hf_sd, cfg):
    """A whole DiffLlama checkpoint -> (difft_ref.LanguageModel state dict, its config). The per-head norm's eps is
    rms_norm_eps (set subln.eps to it; the authors' / C# default is 1e-5)."""
    cfg = D.config_from_dict(cfg)
    check_mappable(cfg)
    sd = {"embed_tokens.weight": hf_sd["model.embed_tokens.weight"], "norm.weight": hf_sd["model.norm.weight"]}
    hkv = None
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        attn = {k[len(p + "self_attn."):]: v for k, v in hf_sd.items() if k.startswith(p + "self_attn.")}
        a, hkv = attn_to_authors(attn, cfg)
        sd.update({f"layers.{i}.attn.{k}": v for k, v in a.items()})
        sd[f"layers.{i}.attn_norm.weight"] = hf_sd[p + "input_layernorm.weight"]
        sd[f"layers.{i}.ffn_norm.weight"] = hf_sd[p + "post_attention_layernorm.weight"]
        for n in ("gate_proj", "up_proj", "down_proj"):
            sd[f"layers.{i}.ffn.{n}.weight"] = hf_sd[p + f"mlp.{n}.weight"]
    tied = bool(cfg["tie_word_embeddings"])
    if not tied:
        sd["lm_head.weight"] = hf_sd["lm_head.weight"]
    ours = dict(arch="diff", vocab_size=cfg["vocab_size"], embed_dim=cfg["hidden_size"],
                num_layers=cfg["num_hidden_layers"], num_heads=cfg["num_attention_heads"] // 2, num_kv_heads=hkv,
                ffn_dim=cfg["intermediate_size"], max_seq_len=cfg["max_position_embeddings"],
                rope_theta=float(cfg["rope_theta"]), norm_eps=cfg["rms_norm_eps"], tie_embeddings=tied)
    return sd, ours


def authors_model(sd, ours_cfg, subln_eps):
    m = R.LanguageModel(ours_cfg)
    for layer in m.layers:
        layer.attn.subln.eps = subln_eps
    m.load_state_dict(sd, strict=True)
    return m


# ----------------------------------------------------------------------------------------------- self-checks

def check_pairing_reading():
    """Traces upstream's eager shuffling (DiffLlamaAttention.forward, as we read it) on integer labels and compares
    with the indices diffllama_ref uses: pair j = query heads (j, j+P), keys k[j//r], k[(j+P)//r],
    value [v[j//r]; v[(j+P)//r]] for BOTH members of the pair."""
    for N, K in [(4, 2), (4, 4), (8, 2), (8, 4), (4, 1), (6, 3), (12, 4)]:
        P, r = N // 2, N // K
        lab = torch.arange(K, dtype=torch.float32).reshape(1, K, 1, 1)          # (B, K, T, d=1): KV head labels
        rep = lab[:, :, None].expand(1, K, r, 1, 1).reshape(1, N, 1, 1)        # repeat_kv: head i -> label i // r
        halves = torch.chunk(rep, 2, dim=1)                                    # heads [0, P), [P, N)
        val = torch.cat(halves, dim=-1).repeat(1, 2, 1, 1)                     # (1, N, 1, 2): value of query head i
        j = torch.arange(P)
        want = torch.stack([j // r, (j + P) // r], dim=-1).float()             # (P, 2)
        assert torch.equal(val[0, :P, 0], want) and torch.equal(val[0, P:, 0], want), (N, K)
        assert torch.equal(rep[0, :, 0, 0], (torch.arange(N) // r).float())    # key of query head i
        qlab = torch.arange(N).reshape(1, N, 1, 1)
        first, second = torch.chunk(qlab, 2, dim=1)                            # output chunk: out1 - lambda * out2
        assert torch.equal(first.flatten(), j) and torch.equal(second.flatten(), j + P)
    print("pairing: upstream's shuffling (traced on labels) == diffllama_ref's indices")


def randomize(module, seed, scale=1.5, lambda_std=0.3):
    """Spread for sharp maps: matrices scale/sqrt(fan_in), norm weights 1 + 0.2 N(0,1), lambda vectors lambda_std
    N(0,1) (larger than the 0.1 init, so that a wrong lambda term shows), embedding N(0, 0.5)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif "lambda_" in name:
                p.copy_(lambda_std * torch.randn(p.shape, generator=g))
            elif name.endswith("embed_tokens.weight"):
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            elif p.dim() == 2:
                p.copy_(scale * torch.randn(p.shape, generator=g) / p.shape[1] ** 0.5)
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))


def check_attention(seed=10):
    """DiffLlama attention vs the authors' DiffAttention after to_authors_layout; then the way back."""
    worst = 0.0
    cases = [(4, 2, 8, 0, 1e-5), (4, 4, 8, 1, 1e-6), (8, 4, 4, 3, 1e-5), (8, 2, 4, 2, 1e-5), (8, 8, 4, 0, 1e-5),
             (4, 1, 8, 5, 1e-5), (6, 3, 4, 1, 1e-5), (12, 6, 4, 7, 1e-6)]
    for n, (N, K, d, depth, eps) in enumerate(cases):
        cfg = D.config_from_dict(dict(hidden_size=N * d, num_attention_heads=N, num_key_value_heads=K, head_dim=d,
                                      rms_norm_eps=eps, rope_theta=10000.0))
        hf = D.DiffLlamaAttention(cfg, depth)
        randomize(hf, seed + n, scale=2.0)
        x = torch.randn(2, 9, N * d, generator=torch.Generator().manual_seed(100 + n))
        y_hf, a1_hf, a2_hf = hf(x, return_maps=True)
        a_sd, hkv = attn_to_authors(dict(hf.state_dict()), cfg)
        au = R.DiffAttention(N * d, depth, N // 2, hkv, 10000.0)
        au.subln.eps = eps
        au.load_state_dict(a_sd, strict=True)
        y_au, a1_au, a2_au = au(x, return_maps=True)
        diff = max((y_hf - y_au).abs().max().item(), (a1_hf - a1_au).abs().max().item(),
                   (a2_hf - a2_au).abs().max().item())
        assert diff < 1e-5 * max(1.0, y_hf.abs().max().item()), (N, K, d, depth, diff)
        assert abs(hf.lambda_full().item() - au.lambda_full().item()) < 1e-7
        worst = max(worst, diff)
        print(f"  attention N {N:2d} K {K} d {d} depth {depth} eps {eps:g} -> our num_heads {N // 2} "
              f"num_kv_heads {hkv}: max |diff| {diff:.2e} (|y| max {y_hf.abs().max().item():.2f})")

        if K % 2 == 0:                                       # the way back, with a non-trivial subln.weight
            with torch.no_grad():
                au.subln.weight.copy_(1 + 0.3 * torch.randn(2 * d, generator=torch.Generator().manual_seed(n)))
            y_au2 = au(x)
            hf2 = D.DiffLlamaAttention(cfg, depth)
            hf2.load_state_dict(attn_from_authors(dict(au.state_dict()), N // 2, hkv, d), strict=True)
            back = (hf2(x) - y_au2).abs().max().item()
            assert back < 1e-5 * max(1.0, y_au2.abs().max().item()), (N, K, back)
            worst = max(worst, back)
            print(f"  {'':44s} authors -> DiffLlama (subln folded into o_proj): max |diff| {back:.2e}")
    return worst


# ----------------------------------------------------------------------------------------------- fixtures

def hf_config(cfg, dtype="float32"):
    """The fields a DiffLlama config.json has (DiffLlamaConfig's attributes as save_pretrained writes them)."""
    c = dict(architectures=["DiffLlamaForCausalLM"], attention_bias=False, attention_dropout=0.0, bos_token_id=1,
             eos_token_id=2, head_dim=cfg["hidden_size"] // cfg["num_attention_heads"], hidden_act="silu",
             initializer_range=0.02, lambda_std_dev=0.1, max_position_embeddings=64, model_type="diffllama",
             rope_scaling=None, rope_theta=10000.0, torch_dtype=dtype, use_cache=True)
    c.update(cfg)
    return dict(sorted(c.items()))


def write_checkpoint(directory, config, sd, dtype="F32", shards=None):
    """An HF checkpoint directory. shards: list of key-predicates, one per shard file (with an index)."""
    os.makedirs(directory, exist_ok=True)
    for f in os.listdir(directory):
        os.remove(os.path.join(directory, f))
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    dtype_of = lambda name, t: dtype                         # noqa: E731
    if shards is None:
        write_safetensors(os.path.join(directory, "model.safetensors"), sd, {"format": "pt"}, dtype_of)
        return
    n = len(shards)
    weight_map, total, taken = {}, 0, set()
    for i, pred in enumerate(shards):
        name = f"model-{i + 1:05d}-of-{n:05d}.safetensors"
        part = {k: v for k, v in sd.items() if pred(k) and k not in taken}
        taken |= set(part)
        total += write_safetensors(os.path.join(directory, name), part, {"format": "pt"}, dtype_of)
        weight_map.update({k: name for k in part})
    assert taken == set(sd), set(sd) - taken
    with open(os.path.join(directory, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
        f.write("\n")


def write_expected(name, model, tokens, checkpoint_dir):
    with torch.no_grad():
        logits = model(tokens)
    t = {"input.tokens": tokens, "output.logits": logits}
    lam_init = {}
    for i, layer in enumerate(model.model.layers):
        t[f"output.lambda_full.{i}"] = layer.self_attn.lambda_full().detach().reshape(1)
        lam_init[i] = layer.self_attn.lambda_init
    meta = dict(format=FORMAT, version=VERSION, kind="diffllama_model", checkpoint=checkpoint_dir,
                config=json.dumps(model.cfg, sort_keys=True), lambda_init=json.dumps(lam_init),
                torch=torch.__version__)
    write_safetensors(os.path.join(OUT, name + ".expected.safetensors"), t, meta,
                      lambda k, v: "I64" if v.dtype == torch.int64 else "F32")
    return logits


def check_against_authors(name, model, tokens, logits):
    sd, ours = to_authors_layout(dict(model.state_dict()), model.cfg)
    au = authors_model(sd, ours, model.cfg["rms_norm_eps"])
    with torch.no_grad():
        y = au(tokens)
        diff = (y - logits).abs().max().item()
        note = ""
        if model.cfg["rms_norm_eps"] != 1e-5:               # how much a subln stuck at 1e-5 would change
            for layer in au.layers:
                layer.attn.subln.eps = 1e-5
            note = f"; with subln eps 1e-5 instead of {model.cfg['rms_norm_eps']:g}: {(au(tokens) - logits).abs().max().item():.2e}"
    assert diff < 1e-4, (name, diff)
    print(f"  {name}: whole model vs difft_ref.LanguageModel(num_heads {ours['num_heads']}, num_kv_heads "
          f"{ours['num_kv_heads']}) after to_authors_layout: max |diff| {diff:.2e} (|logits| max "
          f"{logits.abs().max().item():.2f}){note}")
    return diff


def check_readback(name, directory, logits, tokens):
    m = D.load_checkpoint(directory)
    with torch.no_grad():
        y = m(tokens)
    assert torch.equal(y, logits), (name, (y - logits).abs().max().item())


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    check_pairing_reading()
    print("attention: DiffLlama == authors' DiffAttention after the permutation")
    worst_attn = check_attention()
    worst_model = 0.0

    # (a) GQA, tied: hidden 32, 4 heads of width 8 (2 pairs) reading 2 KV heads
    gqa = hf_config(dict(vocab_size=61, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5, tie_word_embeddings=True))
    # (b) MHA, untied: hidden 24, 4 heads of width 6 (2 pairs, rotary over 3 frequencies), rms_norm_eps 1e-6 (so the per-pair norm's eps must come from the config), rope_theta 50000
    mha = hf_config(dict(vocab_size=61, hidden_size=24, intermediate_size=40, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, rms_norm_eps=1e-6, tie_word_embeddings=False,
                         rope_theta=50000.0))
    for name, cfg, seed in [("diffllama_tiny_gqa", gqa, 21), ("diffllama_tiny_mha", mha, 22)]:
        torch.manual_seed(seed)
        m = D.DiffLlamaForCausalLM(cfg)
        randomize(m, seed)
        tokens = torch.randint(0, cfg["vocab_size"], (2, 12), generator=torch.Generator().manual_seed(seed))
        sd = dict(m.state_dict())
        variants = [(name, "F32", None, m)]
        if name == "diffllama_tiny_mha":
            shards = [lambda k: k.startswith("model.embed_tokens.") or k.startswith("model.layers.0."),
                      lambda k: True]
            variants.append((name + "_sharded", "F32", shards, m))
            mb = D.DiffLlamaForCausalLM(cfg).load_hf_state_dict({k: v.to(torch.bfloat16) for k, v in sd.items()})
            variants.append((name + "_bf16", "BF16", None, mb))
        for vname, dtype, sh, model in variants:
            directory = os.path.join(OUT, vname)
            c = dict(cfg, torch_dtype="bfloat16" if dtype == "BF16" else "float32")
            write_checkpoint(directory, c, dict(model.state_dict()), dtype, sh)
            logits = write_expected(vname, model, tokens, os.path.relpath(directory, HERE))
            worst_model = max(worst_model, check_against_authors(vname, model, tokens, logits))
            check_readback(vname, directory, logits, tokens)
            files = sorted(os.listdir(directory))
            size = sum(os.path.getsize(os.path.join(directory, f)) for f in files)
            esize = os.path.getsize(os.path.join(OUT, vname + ".expected.safetensors"))
            lams = ", ".join(f"{layer.self_attn.lambda_full().item():.4f}" for layer in model.model.layers)
            print(f"{vname}: {files} {size} B + expected {esize} B; lambda_full [{lams}]; read back bit for bit")
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(OUT) for f in fs
                if os.path.relpath(os.path.join(dp, f), OUT).startswith("diffllama"))
    print(f"worst |diff|: attention {worst_attn:.2e}, whole model {worst_model:.2e}; diffllama fixtures {total} B")


if __name__ == "__main__":
    main()
