"""Our PyTorch reference of the DIFF Transformer, written from the paper (see
../shared/docs/paper-notes.md in the team's workspace, restated in docs/ARCHITECTURE.md).

Plain, explicit float32 math: both softmax maps are materialised, nothing is fused. It is the
yardstick the C# model is compared against, tensor by tensor; clarity beats speed here.
Parameter names equal the C# state-dict keys (docs/ARCHITECTURE.md, "Weights").
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def lambda_init_fn(depth: int) -> float:
    return 0.8 - 0.6 * math.exp(-0.3 * depth)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        xf = x.float()
        y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return y.type_as(x) * self.weight


def rotary_tables(seq_len: int, d: int, theta: float, offset: int = 0):
    """cos, sin of shape (T, d/2): angle[t, i] = (offset + t) * theta^(-2i/d)."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    pos = torch.arange(offset, offset + seq_len, dtype=torch.float64)
    ang = torch.outer(pos, inv_freq)
    return ang.cos().float(), ang.sin().float()


def apply_rotary_interleaved(x, cos, sin):
    """x: (B, T, nh, d). Pairs (2i, 2i+1) rotate together (GPT-J style)."""
    x0 = x[..., 0::2]
    x1 = x[..., 1::2]
    c = cos[None, :, None, :]
    s = sin[None, :, None, :]
    o0 = x0 * c - x1 * s
    o1 = x1 * c + x0 * s
    return torch.stack([o0, o1], dim=-1).flatten(-2)


def causal_mask(t: int, s: int):
    return torch.triu(torch.full((t, s), float("-inf")), 1 + (s - t))


class DiffAttention(nn.Module):
    """Multi-head differential attention (V1), GQA with the flash files' pairing."""

    def __init__(self, embed_dim, depth, num_heads, num_kv_heads=None, rope_theta=10000.0):
        super().__init__()
        self.num_heads = num_heads
        self.num_kv_heads = num_kv_heads or num_heads
        self.n_rep = self.num_heads // self.num_kv_heads
        self.head_dim = embed_dim // num_heads // 2
        self.rope_theta = rope_theta
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=False)
        self.k_proj = nn.Linear(embed_dim, embed_dim // self.n_rep, bias=False)
        self.v_proj = nn.Linear(embed_dim, embed_dim // self.n_rep, bias=False)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=False)
        self.lambda_init = lambda_init_fn(depth)
        d = self.head_dim
        self.lambda_q1 = nn.Parameter(torch.randn(d) * 0.1)
        self.lambda_k1 = nn.Parameter(torch.randn(d) * 0.1)
        self.lambda_q2 = nn.Parameter(torch.randn(d) * 0.1)
        self.lambda_k2 = nn.Parameter(torch.randn(d) * 0.1)
        self.subln = RMSNorm(2 * d, eps=1e-5)

    def lambda_full(self):
        l1 = torch.exp(torch.sum(self.lambda_q1 * self.lambda_k1))
        l2 = torch.exp(torch.sum(self.lambda_q2 * self.lambda_k2))
        return l1 - l2 + self.lambda_init

    def forward(self, x, return_maps=False):
        B, T, E = x.shape
        H, Hkv, d, n = self.num_heads, self.num_kv_heads, self.head_dim, self.n_rep
        q = self.q_proj(x).view(B, T, 2 * H, d)
        k = self.k_proj(x).view(B, T, 2 * Hkv, d)
        v = self.v_proj(x).view(B, T, Hkv, 2 * d)
        cos, sin = rotary_tables(T, d, self.rope_theta)
        q = apply_rotary_interleaved(q, cos, sin)
        k = apply_rotary_interleaved(k, cos, sin)

        q = q.transpose(1, 2).reshape(B, H, 2, T, d)       # head h: sub-heads (2h, 2h+1)
        k = k.transpose(1, 2).reshape(B, Hkv, 2, T, d)     # group g: sub-heads (2g, 2g+1)
        v = v.transpose(1, 2)                              # (B, Hkv, T, 2d)
        g = torch.arange(H) // n                           # head h reads KV group h // n_rep
        k = k[:, g]                                        # (B, H, 2, T, d)
        v = v[:, g]                                        # (B, H, T, 2d)

        logits = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d)  # (B, H, 2, T, T)
        logits = logits + causal_mask(T, T)
        a = F.softmax(logits.float(), dim=-1)
        a1, a2 = a[:, :, 0], a[:, :, 1]
        lam = self.lambda_full()
        attn = torch.matmul(a1 - lam * a2, v)              # (B, H, T, 2d)
        attn = self.subln(attn) * (1 - self.lambda_init)
        attn = attn.transpose(1, 2).reshape(B, T, H * 2 * d)
        out = self.out_proj(attn)
        if return_maps:
            return out, a1, a2
        return out


class BaselineAttention(nn.Module):
    """Ordinary multi-head attention with 2H heads of width d (the parameter-matched baseline)."""

    def __init__(self, embed_dim, num_heads, num_kv_heads=None, rope_theta=10000.0):
        super().__init__()
        self.num_heads = num_heads
        self.num_kv_heads = num_kv_heads or num_heads
        self.n_rep = self.num_heads // self.num_kv_heads
        self.head_dim = embed_dim // num_heads
        self.rope_theta = rope_theta
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=False)
        self.k_proj = nn.Linear(embed_dim, embed_dim // self.n_rep, bias=False)
        self.v_proj = nn.Linear(embed_dim, embed_dim // self.n_rep, bias=False)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=False)

    def forward(self, x):
        B, T, E = x.shape
        nh, nkv, d = self.num_heads, self.num_kv_heads, self.head_dim
        q = self.q_proj(x).view(B, T, nh, d)
        k = self.k_proj(x).view(B, T, nkv, d)
        v = self.v_proj(x).view(B, T, nkv, d)
        cos, sin = rotary_tables(T, d, self.rope_theta)
        q = apply_rotary_interleaved(q, cos, sin).transpose(1, 2)
        k = apply_rotary_interleaved(k, cos, sin).transpose(1, 2)
        v = v.transpose(1, 2)
        g = torch.arange(nh) // self.n_rep
        k, v = k[:, g], v[:, g]
        logits = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d) + causal_mask(T, T)
        a = F.softmax(logits.float(), dim=-1)
        attn = torch.matmul(a, v).transpose(1, 2).reshape(B, T, nh * d)
        return self.out_proj(attn)


class DiffAttentionV2(nn.Module):
    """DIFF V2 (the authors' 2026 design, ../shared/docs/paper-notes.md section 4), written from its formula.

    2h query heads of ordinary width d = E / 2h against h_kv key/value heads of width d, one ordinary attention
    over all 2h query heads (query head j reads KV head j // n_rep, n_rep = 2h / h_kv, even, so that the two
    heads of a pair share their KV head), then per pair
        O_i = A(q_2i) V - sigmoid(lambda_i(x)) * A(q_2i+1) V,    lambda(x) = x W_lambda  (E -> h, no bias),
    and out_proj (h*d -> E). No per-head norm, no lambda_init, no (1 - lambda_init) factor.
    Keys: q_proj [2hd, E], k_proj [h_kv d, E], v_proj [h_kv d, E], lambda_proj [h, E], out_proj [E, hd].
    """

    def __init__(self, embed_dim, num_heads, num_kv_heads=None, rope_theta=10000.0):
        super().__init__()
        h = num_heads
        hkv = num_kv_heads or num_heads
        assert embed_dim % (2 * h) == 0 and (2 * h) % hkv == 0 and ((2 * h) // hkv) % 2 == 0
        self.num_heads, self.num_kv_heads = h, hkv
        self.n_rep = 2 * h // hkv
        self.head_dim = d = embed_dim // (2 * h)
        self.rope_theta = rope_theta
        self.q_proj = nn.Linear(embed_dim, 2 * h * d, bias=False)
        self.k_proj = nn.Linear(embed_dim, hkv * d, bias=False)
        self.v_proj = nn.Linear(embed_dim, hkv * d, bias=False)
        self.lambda_proj = nn.Linear(embed_dim, h, bias=False)
        self.out_proj = nn.Linear(h * d, embed_dim, bias=False)

    def forward(self, x, return_maps=False):
        B, T, E = x.shape
        h, hkv, d = self.num_heads, self.num_kv_heads, self.head_dim
        q = self.q_proj(x).view(B, T, 2 * h, d)
        k = self.k_proj(x).view(B, T, hkv, d)
        v = self.v_proj(x).view(B, T, hkv, d)
        cos, sin = rotary_tables(T, d, self.rope_theta)
        q = apply_rotary_interleaved(q, cos, sin).transpose(1, 2)     # (B, 2h, T, d)
        k = apply_rotary_interleaved(k, cos, sin).transpose(1, 2)     # (B, hkv, T, d)
        v = v.transpose(1, 2)                                         # (B, hkv, T, d)
        g = torch.arange(2 * h) // self.n_rep
        k, v = k[:, g], v[:, g]                                       # (B, 2h, T, d)
        logits = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d) + causal_mask(T, T)
        a = F.softmax(logits.float(), dim=-1)                         # (B, 2h, T, T)
        o = torch.matmul(a, v).view(B, h, 2, T, d)                    # pair i: query heads (2i, 2i+1)
        lam = torch.sigmoid(self.lambda_proj(x))                      # (B, T, h)
        lam_b = lam.transpose(1, 2).unsqueeze(-1)                     # (B, h, T, 1)
        out = o[:, :, 0] - lam_b * o[:, :, 1]                         # (B, h, T, d)
        out = self.out_proj(out.transpose(1, 2).reshape(B, T, h * d))
        if return_maps:
            return out, a, lam
        return out


class SwiGLU(nn.Module):
    def __init__(self, embed_dim, ffn_dim):
        super().__init__()
        self.gate_proj = nn.Linear(embed_dim, ffn_dim, bias=False)  # W_G
        self.up_proj = nn.Linear(embed_dim, ffn_dim, bias=False)    # W_1
        self.down_proj = nn.Linear(ffn_dim, embed_dim, bias=False)  # W_2

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


def v2_ffn_widening(cfg):
    """How much wider DIFF V2's SwiGLU is than ffn_dim, so that the model matches the baseline's parameters: the V2 layer
    lacks 2*h_kv*d*E + E*E/2 - h*E of the baseline's attention parameters, and 3*E*w SwiGLU parameters make them up
    (w rounded half away from zero)."""
    E, h = cfg["embed_dim"], cfg["num_heads"]
    hkv = cfg["num_kv_heads"] or h
    d = E // (2 * h)
    return int(math.floor((2 * hkv * d + E / 2 - h) / 3 + 0.5))


class Block(nn.Module):
    def __init__(self, cfg, depth):
        super().__init__()
        E = cfg["embed_dim"]
        self.attn_norm = RMSNorm(E, cfg["norm_eps"])
        ffn = cfg["ffn_dim"]
        if cfg["arch"] == "diff":
            self.attn = DiffAttention(E, depth, cfg["num_heads"], cfg["num_kv_heads"], cfg["rope_theta"])
        elif cfg["arch"] == "diff2":
            self.attn = DiffAttentionV2(E, cfg["num_heads"], cfg["num_kv_heads"], cfg["rope_theta"])
            ffn += v2_ffn_widening(cfg)
        else:
            self.attn = BaselineAttention(E, 2 * cfg["num_heads"], 2 * cfg["num_kv_heads"], cfg["rope_theta"])
        self.ffn_norm = RMSNorm(E, cfg["norm_eps"])
        self.ffn = SwiGLU(E, ffn)

    def forward(self, x):
        y = x + self.attn(self.attn_norm(x))
        return y + self.ffn(self.ffn_norm(y))


class LanguageModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["embed_dim"])
        self.layers = nn.ModuleList([Block(cfg, i) for i in range(cfg["num_layers"])])
        self.norm = RMSNorm(cfg["embed_dim"], cfg["norm_eps"])
        if not cfg["tie_embeddings"]:
            self.lm_head = nn.Linear(cfg["embed_dim"], cfg["vocab_size"], bias=False)

    def forward(self, tokens):
        h = self.embed_tokens(tokens)
        for layer in self.layers:
            h = layer(h)
        h = self.norm(h)
        w = self.embed_tokens.weight if self.cfg["tie_embeddings"] else self.lm_head.weight
        return F.linear(h, w)
