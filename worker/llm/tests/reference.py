#!/usr/bin/env python3
"""Independent reference for the engine: a Llama forward pass in numpy over a GGUF file,
dequantised by the `gguf` package (llama.cpp's own Python reader), and the weights digest
computed from its definition (worker/llm/src/digest.rs).

    reference.py MODEL.gguf digest
    reference.py MODEL.gguf logits TOKEN [TOKEN ...]   # logits after the last token, as JSON

Nothing here shares code with the Rust engine: RoPE is applied in the interleaved layout the
GGUF converter produces, attention is plain grouped-query softmax attention, all in float64.
"""
import hashlib
import json
import struct
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize


def field(r, key):
    return r.fields[key].contents()


def config_line(r):
    f32bits = lambda x: struct.unpack("<I", struct.pack("<f", x))[0]
    vocab = field(r, "llama.vocab_size") if "llama.vocab_size" in r.fields else len(field(r, "tokenizer.ggml.tokens"))
    return ("config layers={} hidden={} intermediate={} heads={} kv_heads={} vocab={} "
            "rope_theta=0x{:08x} rms_eps=0x{:08x} rope=interleaved").format(
        field(r, "llama.block_count"), field(r, "llama.embedding_length"),
        field(r, "llama.feed_forward_length"), field(r, "llama.attention.head_count"),
        field(r, "llama.attention.head_count_kv"), vocab,
        f32bits(field(r, "llama.rope.freq_base")),
        f32bits(field(r, "llama.attention.layer_norm_rms_epsilon")))


def digest(r):
    lines = ["appchain-weights-v1", config_line(r)]
    for t in sorted(r.tensors, key=lambda t: t.name.encode()):
        dims = "x".join(str(int(d)) for d in reversed(t.shape.tolist()))
        lines.append("{} {} {} {}".format(t.name, t.tensor_type.name, dims,
                                          hashlib.sha256(t.data.tobytes()).hexdigest()))
    return hashlib.sha256(("\n".join(lines) + "\n").encode()).hexdigest()


def weights(r):
    out = {}
    for t in r.tensors:
        w = dequantize(t.data, t.tensor_type).astype(np.float64)
        out[t.name] = w.reshape([int(d) for d in reversed(t.shape.tolist())])
    return out


def rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rope_interleaved(x, theta):
    # x: [heads, t, d]; pairs (2i, 2i+1) rotate by pos * theta^(-2i/d)
    h, t, d = x.shape
    inv = theta ** (-np.arange(0, d, 2) / d)
    ang = np.arange(t)[:, None] * inv[None, :]
    cos, sin = np.cos(ang), np.sin(ang)
    a, b = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = a * cos - b * sin
    out[..., 1::2] = a * sin + b * cos
    return out


def logits(r, tokens):
    w = weights(r)
    n_layers = field(r, "llama.block_count")
    heads = field(r, "llama.attention.head_count")
    kv_heads = field(r, "llama.attention.head_count_kv")
    eps = field(r, "llama.attention.layer_norm_rms_epsilon")
    theta = field(r, "llama.rope.freq_base")
    x = w["token_embd.weight"][tokens]  # [t, hidden]
    t, hidden = x.shape
    hd = hidden // heads
    mask = np.triu(np.full((t, t), -np.inf), 1)
    for l in range(n_layers):
        p = "blk.{}.".format(l)
        n = rms_norm(x, w[p + "attn_norm.weight"], eps)
        q = (n @ w[p + "attn_q.weight"].T).reshape(t, heads, hd).transpose(1, 0, 2)
        k = (n @ w[p + "attn_k.weight"].T).reshape(t, kv_heads, hd).transpose(1, 0, 2)
        v = (n @ w[p + "attn_v.weight"].T).reshape(t, kv_heads, hd).transpose(1, 0, 2)
        q, k = rope_interleaved(q, theta), rope_interleaved(k, theta)
        rep = heads // kv_heads
        k, v = np.repeat(k, rep, axis=0), np.repeat(v, rep, axis=0)
        s = q @ k.transpose(0, 2, 1) / np.sqrt(hd) + mask
        s = np.exp(s - s.max(axis=-1, keepdims=True))
        s /= s.sum(axis=-1, keepdims=True)
        y = (s @ v).transpose(1, 0, 2).reshape(t, hidden)
        x = x + y @ w[p + "attn_output.weight"].T
        n = rms_norm(x, w[p + "ffn_norm.weight"], eps)
        g = n @ w[p + "ffn_gate.weight"].T
        u = n @ w[p + "ffn_up.weight"].T
        x = x + ((g / (1 + np.exp(-g))) * u) @ w[p + "ffn_down.weight"].T
    x = rms_norm(x[-1], w["output_norm.weight"], eps)
    head = w.get("output.weight", w["token_embd.weight"])
    return head @ x


def main():
    r = GGUFReader(sys.argv[1])
    if sys.argv[2] == "digest":
        print(digest(r))
    elif sys.argv[2] == "logits":
        print(json.dumps([float(v) for v in logits(r, [int(a) for a in sys.argv[3:]])]))
    else:
        sys.exit("usage: reference.py MODEL.gguf digest|logits TOKENS...")


if __name__ == "__main__":
    main()
