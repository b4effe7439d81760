"""Checks a DiffLlama checkpoint that `difft export` wrote against the model of ours it came from, with two references.

    /usr/bin/python3 reference/check_diffllama_export.py OURS_MODEL_DIR EXPORTED_DIR [--tokens N]

OURS_MODEL_DIR is one of our model directories (config.json + model.safetensors, keys of docs/ARCHITECTURE.md);
EXPORTED_DIR what `difft export OURS_MODEL_DIR --out EXPORTED_DIR` made of it. The script runs our reference of our
model (difft_ref.LanguageModel, the authors' layout, with its learnt subln) on random tokens and our reference of
Hugging Face's DiffLlamaForCausalLM forward (diffllama_ref, which reads the checkpoint exactly as transformers does:
config.json fields, Llama key names, shards and index) on the same tokens, and prints the largest logit difference.
Nothing here calls the C# exporter's code: a mistake in its permutations or in the o_proj fold shows as a large
difference. It also checks the files' shape the way from_pretrained would read them (format metadata, index).
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import difft_ref as R          # noqa: E402
import diffllama_ref as D      # noqa: E402


def ours_model(directory):
    with open(os.path.join(directory, "config.json")) as f:
        c = json.load(f)
    if c.get("arch", "diff") != "diff":
        raise SystemExit(f"{directory}: arch {c['arch']}, not diff")
    e, h = c["embed_dim"], c["num_heads"]
    cfg = dict(arch="diff", vocab_size=c["vocab_size"], embed_dim=e, num_layers=c["num_layers"], num_heads=h,
               num_kv_heads=c.get("num_kv_heads"), ffn_dim=c.get("ffn_dim") or round(8 * e / 3),
               rope_theta=c.get("rope_theta", 10000.0), norm_eps=c.get("norm_eps", 1e-5),
               tie_embeddings=c.get("tie_embeddings", False))
    sd, _ = D.read_safetensors(os.path.join(directory, "model.safetensors"))
    m = R.LanguageModel(cfg)
    head_eps = c.get("head_norm_eps") or 1e-5
    for layer in m.layers:
        layer.attn.subln.eps = head_eps
    m.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
    return m.eval(), c


def check_files(directory):
    names = sorted(os.listdir(directory))
    weights = [n for n in names if n.endswith(".safetensors")]
    for w in weights:
        _, meta = D.read_safetensors(os.path.join(directory, w))
        assert meta.get("format") == "pt", f"{w}: metadata format {meta.get('format')!r}, from_pretrained wants 'pt'"
    if "model.safetensors.index.json" in names:
        with open(os.path.join(directory, "model.safetensors.index.json")) as f:
            index = json.load(f)
        assert set(index["weight_map"].values()) == set(weights), "the index names other shards than the directory holds"
        assert "total_size" in index["metadata"]
    else:
        assert weights == ["model.safetensors"], weights
    with open(os.path.join(directory, "config.json")) as f:
        cfg = json.load(f)
    assert cfg["model_type"] == "diffllama" and cfg["architectures"] == ["DiffLlamaForCausalLM"]
    return names, cfg


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ours")
    ap.add_argument("exported")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--batch", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    ours, c = ours_model(args.ours)
    names, hf_cfg = check_files(args.exported)
    hf = D.load_checkpoint(args.exported).eval()
    t = min(args.tokens, c["max_seq_len"])
    tokens = torch.randint(0, c["vocab_size"], (args.batch, t))
    with torch.no_grad():
        a = ours(tokens)
        b = hf(tokens)
    diff = (a - b).abs().max().item()
    print(f"files: {', '.join(names)}")
    print(f"config: hidden_size {hf_cfg['hidden_size']}, num_attention_heads {hf_cfg['num_attention_heads']}, "
          f"num_key_value_heads {hf_cfg['num_key_value_heads']}, layers {hf_cfg['num_hidden_layers']}, vocab {hf_cfg['vocab_size']}, "
          f"tied {hf_cfg['tie_word_embeddings']}, eos {hf_cfg['eos_token_id']}")
    print(f"logits [{args.batch}, {t}, {c['vocab_size']}]: max |ours| {a.abs().max().item():.3f}, "
          f"largest |difft_ref(ours) - diffllama_ref(exported)| = {diff:.3e}")
    scale = max(1.0, a.abs().max().item())
    if not diff <= 1e-4 * scale:
        raise SystemExit(f"FAIL: the exported checkpoint computes another function (difference {diff:.3e})")
    print("OK")


if __name__ == "__main__":
    main()
