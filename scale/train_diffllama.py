"""Train a DiffLlama checkpoint (what `difft export` writes) on many processes with PyTorch: DDP or FSDP.

    torchrun --nproc_per_node 2 scale/train_diffllama.py --model hf/tiny --data data/sotu-byte --out hf/tiny-more \
        --steps 200 --batch-size 8 --seq-len 256

For users who outgrow one machine (docs/SCALING.md): `difft export` a model of ours, train it here on as many
processes, nodes or GPUs as torchrun gives, `difft import` the result. Written by us for this repository.

* --model: a Hugging Face DiffLlama directory (config.json, model.safetensors or shards + index, tokenizer.json).
* --data: a dataset `difft prepare` wrote (meta.json, train_*.bin and val_*.bin token shards: a 64-byte header, then
  little-endian ids of 2 or 4 bytes). Each rank draws its own training windows (seed + rank); the validation loss at
  the start and the end is on the same fixed windows on every rank (averaged with all_reduce).
* --impl hf uses transformers' DiffLlamaForCausalLM (from_pretrained / save_pretrained; transformers >= 4.48);
  --impl ref our PyTorch reference of its forward (reference/diffllama_ref.py), which reads and writes the same files;
  auto (the default) takes hf when transformers imports.
* --parallel ddp (DistributedDataParallel: every rank a full copy, gradients all-reduced) or fsdp
  (FullyShardedDataParallel: parameters, gradients and optimizer state sharded across ranks). Backend nccl with CUDA,
  else gloo.

Optimiser and schedule as `difft train`'s defaults: AdamW (beta 0.9, 0.95; weight decay 0.1 on matrices), linear
warm-up then cosine to 10% of the peak; gradient clipping at 1.0.
"""
import argparse
import glob
import json
import math
import os
import shutil
import struct
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


# ------------------------------------------------------------------------------------------------------------ data

def read_shards(data_dir, split):
    """The ids of every `split` shard of a `difft prepare` directory, concatenated (a memory map per shard)."""
    parts = []
    for path in sorted(glob.glob(os.path.join(data_dir, f"{split}_*.bin"))):
        with open(path, "rb") as f:
            header = f.read(64)
        if header[:8] != b"DTTOKENS":
            raise SystemExit(f"{path}: not a difft token shard (magic {header[:8]!r})")
        size, width = struct.unpack_from("<ii", header, 12)
        count = struct.unpack_from("<q", header, 32)[0]
        if count < 0:
            raise SystemExit(f"{path}: an incomplete shard (a writer did not finish it)")
        dtype = {2: np.uint16, 4: np.uint32}[width]
        parts.append(np.memmap(path, dtype=dtype, mode="r", offset=size, shape=(count,)))
    if not parts:
        raise SystemExit(f"{data_dir}: no {split}_*.bin shards")
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def batch(tokens, starts, seq_len):
    x = np.stack([tokens[s:s + seq_len + 1].astype(np.int64) for s in starts])
    x = torch.from_numpy(x)
    return x[:, :-1], x[:, 1:]


# ------------------------------------------------------------------------------------------------------------ model

def load_model(model_dir, impl):
    if impl in ("auto", "hf"):
        try:
            from transformers import DiffLlamaForCausalLM   # noqa: F401
            impl = "hf"
        except ImportError:
            if impl == "hf":
                raise SystemExit("--impl hf: transformers (>= 4.48, with DiffLlama) does not import here")
            impl = "ref"
    if impl == "hf":
        from transformers import DiffLlamaForCausalLM
        model = DiffLlamaForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32, attn_implementation="eager")
        return model, impl, lambda m, x: m(input_ids=x).logits
    sys.path.insert(0, os.path.join(HERE, "..", "reference"))
    import diffllama_ref
    return diffllama_ref.load_checkpoint(model_dir), impl, lambda m, x: m(x)


def save_model(model, impl, src_dir, out_dir):
    """A DiffLlama directory: config.json and tokenizer.json of the source, the trained weights (float32)."""
    os.makedirs(out_dir, exist_ok=True)
    if impl == "hf":
        model.save_pretrained(out_dir, safe_serialization=True)
    else:
        shutil.copy(os.path.join(src_dir, "config.json"), os.path.join(out_dir, "config.json"))
        write_safetensors(os.path.join(out_dir, "model.safetensors"), model.state_dict())
    for name in ("tokenizer.json",):
        if os.path.exists(os.path.join(src_dir, name)):
            shutil.copy(os.path.join(src_dir, name), os.path.join(out_dir, name))


def write_safetensors(path, state):
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in state.items():
        data = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * ((8 - len(raw) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)
    os.replace(path + ".tmp", path)


# ------------------------------------------------------------------------------------------------------------ run

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=8, help="rows per rank per step")
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--eval-batches", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--impl", choices=["auto", "hf", "ref"], default="auto")
    ap.add_argument("--parallel", choices=["ddp", "fsdp"], default="ddp")
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads per rank on CPU")
    args = ap.parse_args()

    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    local = int(os.environ.get("LOCAL_RANK", 0))
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    else:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    model, impl, forward = load_model(args.model, args.impl)
    model.to(device)
    if args.parallel == "ddp":
        from torch.nn.parallel import DistributedDataParallel
        wrapped = DistributedDataParallel(model, device_ids=[local] if cuda else None)
    else:
        from torch.distributed.fsdp import FullyShardedDataParallel
        wrapped = FullyShardedDataParallel(model, device_id=device if cuda else None)

    train, val = read_shards(args.data, "train"), read_shards(args.data, "val")
    t = args.seq_len
    rng = np.random.default_rng(args.seed + rank)
    val_starts = np.linspace(0, len(val) - t - 2, args.eval_batches * args.batch_size).astype(np.int64)

    decay = [p for p in wrapped.parameters() if p.dim() >= 2]
    other = [p for p in wrapped.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)

    def lr_at(step):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        p = (step - args.warmup) / max(1, args.steps - args.warmup)
        return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, p))))

    def evaluate():
        wrapped.eval()
        total = torch.zeros(2, dtype=torch.float64, device=device)
        with torch.no_grad():
            for i in range(args.eval_batches):
                x, y = batch(val, val_starts[i * args.batch_size:(i + 1) * args.batch_size], t)
                logits = forward(wrapped, x.to(device))
                total[0] += F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.to(device).reshape(-1), reduction="sum").double()
                total[1] += y.numel()
        dist.all_reduce(total)
        wrapped.train()
        return (total[0] / total[1]).item()

    def log(msg):
        if rank == 0:
            print(msg, flush=True)

    log(f"{impl} DiffLlama from {args.model}: {sum(p.numel() for p in model.parameters()):,} parameters; "
        f"{args.parallel} over {world} rank(s) on {device.type}; {args.steps} steps x {world} x {args.batch_size} x {t} tokens")
    log(f"step 0: val loss {evaluate():.4f}")
    start = time.time()
    for step in range(args.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        x, y = batch(train, rng.integers(0, len(train) - t - 1, args.batch_size), t)
        logits = forward(wrapped, x.to(device))
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.to(device).reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(wrapped.parameters(), 1.0) if args.parallel == "ddp" else wrapped.clip_grad_norm_(1.0)
        opt.step()
        if rank == 0 and (step + 1) % max(1, args.steps // 10) == 0:
            tps = (step + 1) * world * args.batch_size * t / (time.time() - start)
            log(f"step {step + 1}/{args.steps}: loss {loss.item():.4f}, lr {lr_at(step):.2e}, {tps:,.0f} tok/s")
    log(f"step {args.steps}: val loss {evaluate():.4f}")

    if args.parallel == "fsdp":
        from torch.distributed.fsdp import FullStateDictConfig, StateDictType
        with FullyShardedDataParallel.state_dict_type(wrapped, StateDictType.FULL_STATE_DICT, FullStateDictConfig(offload_to_cpu=True, rank0_only=True)):
            state = wrapped.state_dict()
        if rank == 0:
            model.load_state_dict(state)
    if rank == 0:
        save_model(model.to("cpu"), impl, args.model, args.out)
        log(f"wrote {args.out}")
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
