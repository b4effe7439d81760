"""Our PyTorch reference of Hugging Face's DiffLlama (model_type "diffllama", DiffLlamaForCausalLM) forward pass.

Written by us from reading the upstream sources (nothing copied); plain, explicit float32 math in the style of
difft_ref.py. Parameter names are exactly the keys of an HF DiffLlama checkpoint, the configuration is a dict with
the field names of its config.json. It is the yardstick a C# DiffLlama importer/exporter is proved against.

Sources read (huggingface/transformers, src/transformers/...):
  models/diffllama/modeling_diffllama.py   DiffLlamaAttention.__init__/forward (eager), DiffLlamaSdpaAttention.forward,
                                           DiffLlamaFlashAttention2.forward, lambda_init_fn, repeat_kv, rotate_half,
                                           apply_rotary_pos_emb, DiffLlamaRotaryEmbedding, DiffLlamaRMSNorm,
                                           DiffLlamaMLP, DiffLlamaDecoderLayer, DiffLlamaModel, DiffLlamaForCausalLM
  models/diffllama/modular_diffllama.py    the same attention; MLP from MistralMLP, rotary helpers from llama
  models/diffllama/configuration_diffllama.py   DiffLlamaConfig.__init__ (field names and defaults)
  models/llama/modeling_llama.py           rotate_half / apply_rotary_pos_emb / LlamaRMSNorm (DiffLlama reuses them)
  modeling_rope_utils.py                   _compute_default_rope_parameters, _compute_linear_scaling_rope_parameters,
                                           _compute_llama3_parameters, ROPE_INIT_FUNCTIONS

Conventions (N = num_attention_heads, K = num_key_value_heads, d = head_dim, P = N/2, r = N/K):
  * Heads. num_attention_heads counts SUB-heads: q_proj is [N*d, E], k_proj and v_proj [K*d, E], o_proj [E, N*d];
    head_dim = config "head_dim" if present, else hidden_size // N (DiffLlamaConfig.__init__, DiffLlamaAttention.__init__).
    A differential "pair" has P = N/2 members; N must be even.
  * Pairing: the FIRST half of the heads with the SECOND half: pair j (0 <= j < P) is query heads (j, j+P)
    (forward: the attention output is split in two along the head axis, torch.chunk(..., 2, dim=1), and the second
    chunk is subtracted from the first).
  * GQA: query head i reads KV head i // r (repeat_kv: each KV head repeated r times, consecutively). So pair j's
    two softmax maps use keys k[j // r] and k[(j+P) // r].
  * Values: after repeat_kv the values of the first and second head halves are concatenated along the feature axis
    and the result is repeated for both halves; pair j therefore reads the 2d-wide value [v[j//r] ; v[(j+P)//r]]
    (eager and SDPA forward). The flash-attention path splits the UNREPEATED KV heads in halves instead, giving
    pair j [v[(j//r) mod K/2]; v[K/2 + (j//r) mod K/2]]: for even K that is the same value (j//r < K/2 and
    (j+P)//r = j//r + K/2); for odd K it differs (K = 1 cannot even be split) [our reading; not run]. We follow
    eager/SDPA (the default implementations).
  * Scores: (q_i . k) / sqrt(d) -- the scale uses d (the sub-head width), not 2d; softmax in float32;
    causal mask (additive; eager adds finfo.min, we add -inf: identical after softmax).
  * Rotary: rotate_half (GPT-NeoX / Llama style, NOT interleaved): within a head of width d, dims (i, i + d/2) are
    rotated together by angle pos * inv_freq[i], inv_freq[i] = rope_theta ** (-2i / d), i < d/2; cos/sin are
    cat(freqs, freqs). Positions 0..T-1. inv_freq and the angles are computed in float32 (as upstream), then
    multiplied by the rope attention_factor (1 for default/linear/llama3). Applied to q and k of every sub-head;
    rotary dim = head_dim (upstream newer code; older modeling_rope_utils used hidden_size // N -- equal unless
    head_dim is set explicitly to something else). rope_scaling types supported here: default, linear, llama3.
  * lambda: ONE scalar per layer (lambda_q1, lambda_k1, lambda_q2, lambda_k2 are [d], shared by all pairs):
    lambda_full = exp(sum(lambda_q1 * lambda_k1)) - exp(sum(lambda_q2 * lambda_k2)) + lambda_init (sums in float32).
  * lambda_init = 0.8 - 0.6 * exp(-0.3 * layer_idx), layer_idx the 0-based decoder layer index (lambda_init_fn,
    DiffLlamaDecoderLayer(config, layer_idx) for layer_idx in range(num_hidden_layers)).
  * Per-head norm ("groupnorm"): torch.nn.RMSNorm(2d, eps=rms_norm_eps, elementwise_affine=False) -- NO weight,
    over the 2d features of each pair's output, eps = the config's rms_norm_eps; then multiplied by (1 - lambda_init).
  * Output: pair j's 2d-wide result goes to columns [2d*j, 2d*(j+1)) of o_proj's input ([first value half; second]).
  * Block: h = h + attn(input_layernorm(h)); h = h + mlp(post_attention_layernorm(h)); RMSNorm with weight:
    w * x * rsqrt(mean(x^2) + rms_norm_eps), computed in float32. MLP: down(silu(gate(x)) * up(x)), no biases.
    Final model.norm, logits = lm_head(h); with tie_word_embeddings lm_head.weight IS model.embed_tokens.weight
    (an HF checkpoint then has no lm_head.weight key; we create none). attention_bias adds q/k/v/o biases (supported
    here; default false). The embedding's padding_idx does not change the forward.

Where DiffLlama differs from the authors' module (difft_ref.DiffAttention, the C# DifferentialAttention):
  * pairing: ours pairs sub-heads (2h, 2h+1) -- q_proj/k_proj rows interleaved by pair -- DiffLlama pairs (j, j+P);
  * GQA: ours has Hkv groups of two key sub-heads (2g, 2g+1) and one 2d-wide value head per group; DiffLlama has K
    plain heads of width d for keys and values;
  * rotary: ours interleaved (2i, 2i+1), DiffLlama rotate_half (i, i + d/2);
  * subln: ours has a weight [2d] and eps 1e-5; DiffLlama's groupnorm has no weight and eps = rms_norm_eps;
  * names: ours out_proj / subln / attn_norm / ffn_norm / ffn.*, DiffLlama o_proj / (none) / input_layernorm /
    post_attention_layernorm / mlp.*; lambda_init and the lambda formula are the same.
The exact weight mapping from one to the other is in DIFFLLAMA.md and make_diffllama_fixtures.to_authors_layout.
"""
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ----------------------------------------------------------------------------------------------- configuration

DEFAULTS = dict(vocab_size=32000, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                num_attention_heads=32, num_key_value_heads=None, hidden_act="silu", max_position_embeddings=2048,
                rms_norm_eps=1e-5, tie_word_embeddings=False, rope_theta=10000.0, rope_scaling=None,
                attention_bias=False, attention_dropout=0.0, lambda_std_dev=0.1, head_dim=None)


def config_from_dict(raw):
    """HF config.json fields -> a complete dict (DiffLlamaConfig's defaults where a field is absent)."""
    c = dict(DEFAULTS)
    c.update({k: v for k, v in raw.items()})
    if c.get("model_type", "diffllama") != "diffllama":
        raise ValueError(f"model_type {c['model_type']!r} is not diffllama")
    if c["num_key_value_heads"] is None:
        c["num_key_value_heads"] = c["num_attention_heads"]
    if c["head_dim"] is None:
        c["head_dim"] = c["hidden_size"] // c["num_attention_heads"]
    # newer transformers keep rope_theta / rope_type inside "rope_parameters"
    rp = c.get("rope_parameters")
    if isinstance(rp, dict):
        c["rope_theta"] = rp.get("rope_theta", c["rope_theta"])
        if rp.get("rope_type", rp.get("type", "default")) != "default":
            c["rope_scaling"] = rp
    rs = c["rope_scaling"]
    if rs is not None and "rope_type" not in rs and "type" in rs:
        rs = dict(rs, rope_type=rs["type"])
        c["rope_scaling"] = rs
    N, K, d = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    if N % 2 or N % K or d % 2:
        raise ValueError(f"need an even num_attention_heads ({N}) divisible by num_key_value_heads ({K}) and an "
                         f"even head_dim ({d})")
    if c["hidden_act"] != "silu":
        raise NotImplementedError(f"hidden_act {c['hidden_act']!r}")
    return c


def lambda_init_fn(layer_idx: int) -> float:
    return 0.8 - 0.6 * math.exp(-0.3 * layer_idx)


# ----------------------------------------------------------------------------------------------- rotary

def rope_inv_freq(cfg):
    """inv_freq [d/2] (float32, as upstream computes it) and the attention_factor multiplying cos and sin."""
    d = cfg["head_dim"]
    base = float(cfg["rope_theta"])
    inv = 1.0 / (base ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))   # float32
    rs = cfg["rope_scaling"]
    kind = "default" if rs is None else rs.get("rope_type", "default")
    if kind == "default":
        return inv, 1.0
    if kind == "linear":                       # positions / factor  ==  inv_freq / factor
        return inv / rs["factor"], 1.0
    if kind == "llama3":                       # long wavelengths / factor, short kept, smooth ramp between
        factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old_len = rs["original_max_position_embeddings"]
        wavelen = 2 * math.pi / inv
        low_wl, high_wl = old_len / lo, old_len / hi
        scaled = torch.where(wavelen > low_wl, inv / factor, inv)
        smooth = (old_len / wavelen - lo) / (hi - lo)
        mid = (wavelen <= low_wl) & (wavelen >= high_wl)
        return torch.where(mid, (1 - smooth) * scaled / factor + smooth * scaled, scaled), 1.0
    raise NotImplementedError(f"rope_scaling type {kind!r} (dynamic/yarn/longrope are not in this reference)")


def rotary_cos_sin(cfg, seq_len, offset=0):
    """cos, sin of shape (T, d): column i and i + d/2 both hold angle (offset + t) * inv_freq[i]."""
    inv, att = rope_inv_freq(cfg)
    pos = torch.arange(offset, offset + seq_len).float()
    freqs = pos[:, None] * inv[None, :]            # (T, d/2), float32 like upstream's matmul
    emb = torch.cat([freqs, freqs], dim=-1)        # (T, d)
    return emb.cos() * att, emb.sin() * att


def rotate_half(x):
    """(x_a, x_b) -> (-x_b, x_a) over the two halves of the last axis."""
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def apply_rotary_half(x, cos, sin):
    """x: (B, nh, T, d); dims (i, i + d/2) rotate together."""
    return x * cos[None, None] + rotate_half(x) * sin[None, None]


# ----------------------------------------------------------------------------------------------- norms

def rms_normalize(x, eps):
    """x * rsqrt(mean(x^2) + eps) over the last axis, in float32 (no weight)."""
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).type_as(x)


class RMSNorm(nn.Module):
    """DiffLlamaRMSNorm (= LlamaRMSNorm): weight * normalized(x)."""

    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return self.weight * rms_normalize(x, self.eps)


def causal_mask(t, s):
    return torch.triu(torch.full((t, s), float("-inf")), 1 + (s - t))


# ----------------------------------------------------------------------------------------------- attention

class DiffLlamaAttention(nn.Module):
    """Keys: q_proj [N d, E], k_proj [K d, E], v_proj [K d, E], o_proj [E, N d], lambda_q1/k1/q2/k2 [d]
    (+ q/k/v/o_proj.bias with attention_bias). No parameter for the per-pair norm."""

    def __init__(self, cfg, layer_idx):
        super().__init__()
        E, N, K, d = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
        self.cfg = cfg
        self.num_heads, self.num_kv_heads, self.head_dim = N, K, d
        self.n_rep = N // K
        self.eps = cfg["rms_norm_eps"]
        bias = bool(cfg["attention_bias"])
        self.q_proj = nn.Linear(E, N * d, bias=bias)
        self.k_proj = nn.Linear(E, K * d, bias=bias)
        self.v_proj = nn.Linear(E, K * d, bias=bias)
        self.o_proj = nn.Linear(N * d, E, bias=bias)
        self.layer_idx = layer_idx
        self.lambda_init = lambda_init_fn(layer_idx)
        std = cfg["lambda_std_dev"]
        self.lambda_q1 = nn.Parameter(torch.randn(d) * std)
        self.lambda_k1 = nn.Parameter(torch.randn(d) * std)
        self.lambda_q2 = nn.Parameter(torch.randn(d) * std)
        self.lambda_k2 = nn.Parameter(torch.randn(d) * std)

    def lambda_full(self):
        l1 = torch.exp(torch.sum(self.lambda_q1.float() * self.lambda_k1.float()))
        l2 = torch.exp(torch.sum(self.lambda_q2.float() * self.lambda_k2.float()))
        return l1 - l2 + self.lambda_init

    def forward(self, x, return_maps=False):
        B, T, E = x.shape
        N, K, d, r = self.num_heads, self.num_kv_heads, self.head_dim, self.n_rep
        P = N // 2
        q = self.q_proj(x).view(B, T, N, d).transpose(1, 2)        # (B, N, T, d)
        k = self.k_proj(x).view(B, T, K, d).transpose(1, 2)        # (B, K, T, d)
        v = self.v_proj(x).view(B, T, K, d).transpose(1, 2)        # (B, K, T, d)
        cos, sin = rotary_cos_sin(self.cfg, T)                     # (T, d)
        q = apply_rotary_half(q, cos, sin)
        k = apply_rotary_half(k, cos, sin)

        j = torch.arange(P)
        q1, q2 = q[:, j], q[:, j + P]                              # (B, P, T, d): pair j = heads (j, j+P)
        k1, k2 = k[:, j // r], k[:, (j + P) // r]                  # the KV head each query head reads
        vv = torch.cat([v[:, j // r], v[:, (j + P) // r]], dim=-1)  # (B, P, T, 2d)

        mask = causal_mask(T, T)
        a1 = F.softmax((torch.matmul(q1, k1.transpose(-1, -2)) / math.sqrt(d) + mask).float(), dim=-1)
        a2 = F.softmax((torch.matmul(q2, k2.transpose(-1, -2)) / math.sqrt(d) + mask).float(), dim=-1)
        lam = self.lambda_full()
        o = torch.matmul(a1, vv) - lam * torch.matmul(a2, vv)      # (B, P, T, 2d)
        o = rms_normalize(o, self.eps) * (1 - self.lambda_init)    # weightless per-pair RMSNorm
        o = o.transpose(1, 2).reshape(B, T, P * 2 * d)             # pair j -> columns [2d j, 2d (j+1))
        out = self.o_proj(o)
        if return_maps:
            return out, a1, a2
        return out


class DiffLlamaMLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        E, I = cfg["hidden_size"], cfg["intermediate_size"]
        self.gate_proj = nn.Linear(E, I, bias=False)
        self.up_proj = nn.Linear(E, I, bias=False)
        self.down_proj = nn.Linear(I, E, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DiffLlamaDecoderLayer(nn.Module):
    def __init__(self, cfg, layer_idx):
        super().__init__()
        self.self_attn = DiffLlamaAttention(cfg, layer_idx)
        self.mlp = DiffLlamaMLP(cfg)
        self.input_layernorm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])

    def forward(self, h):
        h = h + self.self_attn(self.input_layernorm(h))
        return h + self.mlp(self.post_attention_layernorm(h))


class DiffLlamaModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.layers = nn.ModuleList([DiffLlamaDecoderLayer(cfg, i) for i in range(cfg["num_hidden_layers"])])
        self.norm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])

    def forward(self, tokens):
        h = self.embed_tokens(tokens)                              # (B, T, E)
        for layer in self.layers:
            h = layer(h)
        return self.norm(h)


class DiffLlamaForCausalLM(nn.Module):
    """state_dict keys = an HF DiffLlama checkpoint's keys (no lm_head.weight when tie_word_embeddings)."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg = config_from_dict(cfg)
        self.model = DiffLlamaModel(cfg)
        if not cfg["tie_word_embeddings"]:
            self.lm_head = nn.Linear(cfg["hidden_size"], cfg["vocab_size"], bias=False)

    def forward(self, tokens):
        h = self.model(tokens)
        w = self.model.embed_tokens.weight if self.cfg["tie_word_embeddings"] else self.lm_head.weight
        return F.linear(h, w)                                      # (B, T, vocab)

    def load_hf_state_dict(self, sd):
        """Loads an HF checkpoint's tensors (float32 or not; cast to float32). A tied checkpoint may carry an
        lm_head.weight copy; it is ignored (upstream ties it to the embedding)."""
        sd = {k: v.float() for k, v in sd.items()}
        if self.cfg["tie_word_embeddings"]:
            sd.pop("lm_head.weight", None)
        self.load_state_dict(sd, strict=True)
        return self


# ----------------------------------------------------------------------------------------------- checkpoint reading

def read_safetensors(path):
    """name -> float32/int64 tensor (F32, F16, BF16, I64 supported), and the __metadata__ dict."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n).decode("utf-8"))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        raw, shape, dt = data[a:b], info["shape"], info["dtype"]
        if dt == "F32":
            arr = np.frombuffer(raw, dtype="<f4")
        elif dt == "F16":
            arr = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif dt == "BF16":                         # the top 16 bits of a float32
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        elif dt == "I64":
            arr = np.frombuffer(raw, dtype="<i8")
        else:
            raise NotImplementedError(dt)
        out[name] = torch.from_numpy(arr.copy()).reshape(shape)
    return out, meta


def load_checkpoint(directory):
    """An HF checkpoint directory (config.json + model.safetensors, or model.safetensors.index.json + shards)."""
    with open(os.path.join(directory, "config.json")) as f:
        cfg = json.load(f)
    index = os.path.join(directory, "model.safetensors.index.json")
    sd = {}
    if os.path.exists(index):
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
        for shard in sorted(set(weight_map.values())):
            tensors, _ = read_safetensors(os.path.join(directory, shard))
            for k, v in tensors.items():
                if weight_map.get(k) != shard:
                    raise ValueError(f"{k} is in {shard} but the index says {weight_map.get(k)}")
                sd[k] = v
        missing = set(weight_map) - set(sd)
        if missing:
            raise ValueError(f"index names tensors no shard holds: {sorted(missing)}")
    else:
        sd, _ = read_safetensors(os.path.join(directory, "model.safetensors"))
    return DiffLlamaForCausalLM(cfg).load_hf_state_dict(sd)
