"""PyTorch's CPU training step for the Node benchmark (bench/node-wasm.mjs).

The same model as every other backend: nn.RNN (tanh, one layer) + nn.Linear,
one-hot inputs for token ids (as d2l does), mean cross-entropy or
mean(1/2 ||o - y||^2), plain SGD. bias_hh is zero and trained as PyTorch
trains it (its gradient equals bias_ih's, so dbh is bias_ih's).

Protocol on stdin/stdout, one JSON object a line:
  {"cmd": "load", "dir": ..., "spec": {...}}  reads model.bin and batch.bin from dir; replies {"ok": true}
  {"cmd": "grads"}                            replies {"loss", "dWhx", ...} (lists) of the initial model
  {"cmd": "step", "threads": n}               one training step on n threads; replies {"ms": ...}
"""
import json
import sys
import time

import numpy as np
import torch
from torch import nn


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Case:
    def __init__(self, folder, spec):
        T, B, d, h, q = (spec[k] for k in ("T", "B", "d", "h", "q"))
        self.spec = spec
        flat = np.fromfile(f"{folder}/model.bin", dtype=np.float32)
        sizes = [h * d, h * h, q * h, h, q]
        parts = np.split(flat, np.cumsum(sizes)[:-1])
        self.rnn = nn.RNN(d, h, nonlinearity="tanh")
        self.lin = nn.Linear(h, q)
        with torch.no_grad():
            self.rnn.weight_ih_l0.copy_(torch.from_numpy(parts[0].reshape(h, d)))
            self.rnn.weight_hh_l0.copy_(torch.from_numpy(parts[1].reshape(h, h)))
            self.lin.weight.copy_(torch.from_numpy(parts[2].reshape(q, h)))
            self.rnn.bias_ih_l0.copy_(torch.from_numpy(parts[3]))
            self.rnn.bias_hh_l0.zero_()
            self.lin.bias.copy_(torch.from_numpy(parts[4]))
        raw = np.fromfile(f"{folder}/batch.bin", dtype=np.uint8)
        nx = T * B if spec["tokens"] else T * B * d
        x = raw[: 4 * nx].view(np.int32 if spec["tokens"] else np.float32)
        y = raw[4 * nx :].view(np.int32 if spec["loss"] == "cross-entropy" else np.float32)
        if spec["tokens"]:
            self.x = nn.functional.one_hot(torch.from_numpy(x.astype(np.int64)), d).float().reshape(T, B, d)
        else:
            self.x = torch.from_numpy(x.copy()).reshape(T, B, d)
        if spec["loss"] == "cross-entropy":
            self.y = torch.from_numpy(y.astype(np.int64))
        else:
            self.y = torch.from_numpy(y.copy()).reshape(T * B, q)
        self.opt = torch.optim.SGD(list(self.rnn.parameters()) + list(self.lin.parameters()), lr=spec["learningRate"])

    def loss(self):
        T, B, h = self.spec["T"], self.spec["B"], self.spec["h"]
        out, _ = self.rnn(self.x)
        o = self.lin(out.reshape(T * B, h))
        if self.spec["loss"] == "cross-entropy":
            return nn.functional.cross_entropy(o, self.y)
        return 0.5 * ((o - self.y) ** 2).sum() / (T * B)

    def grads(self):
        self.opt.zero_grad()
        loss = self.loss()
        loss.backward()
        g = lambda p: p.grad.detach().numpy().ravel().tolist()
        return {"loss": loss.item(), "dWhx": g(self.rnn.weight_ih_l0), "dWhh": g(self.rnn.weight_hh_l0),
                "dWqh": g(self.lin.weight), "dbh": g(self.rnn.bias_ih_l0), "dbq": g(self.lin.bias)}

    def step(self):
        self.opt.zero_grad()
        loss = self.loss()
        loss.backward()
        self.opt.step()
        return loss.item()


def main():
    case = None
    for line in sys.stdin:
        msg = json.loads(line)
        if msg["cmd"] == "load":
            case = Case(msg["dir"], msg["spec"])
            reply({"ok": True, "torch": torch.__version__})
        elif msg["cmd"] == "grads":
            reply(case.grads())
        elif msg["cmd"] == "step":
            torch.set_num_threads(msg["threads"])
            t0 = time.perf_counter()
            case.step()
            reply({"ms": (time.perf_counter() - t0) * 1000})


if __name__ == "__main__":
    main()
