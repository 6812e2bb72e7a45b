#!/usr/bin/python3
"""PyTorch reference values for the SequenceModel CPU reference (float64).

Run with Debian's python3 (python3-torch): /usr/bin/python3 scripts/torch-fixtures.py
Writes test/fixtures/torch-*.json; test/cpu-sequence-torch.test.ts compares the
CPU reference with them (CI does not need torch).

Cases: nn.RNN, nn.GRU and nn.LSTM with num_layers=2, bidirectional=True and an
nn.Linear head named `head`, the GRU and LSTM through pack_padded_sequence
(lengths); and the truncations (chunked, an explicit xi, window) through
written-out cells that are first checked against the nn modules, with the
truncation written as MATH.md states it: a step reads
xi * s_prev + (1 - xi) * s_prev.detach(); window(tau) restarts a forward pass
for every loss term at s - tau + 1 from the detached states there.

Every parameter and input is rounded to float32 before the float64
computation, so that the library's Float32Array model holds the same numbers.
"""
import json
import os

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures')
CLASSES = {'rnn': nn.RNN, 'gru': nn.GRU, 'lstm': nn.LSTM}


def f32(t):
    return t.detach().to(torch.float32).to(torch.float64)


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def make_module(cell, d, h, L, bidirectional, bias, seed):
    torch.manual_seed(seed)
    kwargs = dict(num_layers=L, bidirectional=bidirectional, bias=bias)
    if cell == 'rnn':
        kwargs['nonlinearity'] = 'tanh'
    rnn = CLASSES[cell](d, h, **kwargs)
    dirs = 2 if bidirectional else 1
    with torch.no_grad():
        for p in rnn.parameters():
            p.copy_(f32(p))
    return rnn, dirs


def make_head(dirs, h, q, seed):
    torch.manual_seed(seed + 1)
    head = nn.Linear(dirs * h, q)
    with torch.no_grad():
        for p in head.parameters():
            p.copy_(f32(p))
    return head


def state_dict(rnn, head):
    out = {k: flat(v) for k, v in rnn.state_dict().items()}
    if head is not None:
        out['head.weight'] = flat(head.weight)
        out['head.bias'] = flat(head.bias)
    return out


def loss_of(o, y, mask, loss):
    """Mean over valid rows: o [T, B, q], y [T, B] ids or [T, B, q], mask [T, B]."""
    N = mask.sum()
    if loss == 'cross-entropy':
        per = torch.logsumexp(o, dim=2) - o.gather(2, y.unsqueeze(2)).squeeze(2)
    else:
        per = 0.5 * ((o - y) ** 2).sum(dim=2)
    return (per * mask).sum() / N


# ---------------------------------------------------------------- written-out cells


def cell_step(cell, W, x, hp, cp):
    """One step of layer-direction weights W = (w_ih, w_hh, b_ih, b_hh) for a batch: x [B, n], hp, cp [B, h]."""
    w_ih, w_hh, b_ih, b_hh = W
    gx = x @ w_ih.T + (b_ih if b_ih is not None else 0)
    gh = hp @ w_hh.T + (b_hh if b_hh is not None else 0)
    if cell == 'rnn':
        return torch.tanh(gx + gh), cp
    if cell == 'gru':
        xr, xz, xn = gx.chunk(3, 1)
        hr, hz, hn = gh.chunk(3, 1)
        r = torch.sigmoid(xr + hr)
        z = torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        return (1 - z) * n + z * hp, cp
    i, f, g, o = (gx + gh).chunk(4, 1)
    c = torch.sigmoid(f) * cp + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def weights(rnn, l, dirs):
    out = []
    for dir in range(dirs):
        sfx = f'_l{l}' + ('_reverse' if dir == 1 else '')
        get = lambda n: getattr(rnn, n + sfx, None)
        out.append((get('weight_ih'), get('weight_hh'), get('bias_ih'), get('bias_hh')))
    return out


def run_stack(cell, rnn, L, dirs, x, h0, c0, lengths, xi=None, r0=1, r1=None, init=None, sg=None):
    """Every layer over t = r0..r1 (1-based), masked by lengths. xi [T] mixes each step's previous
    state with its detached value (MATH.md). init(k) gives the state at the range's edge (default h0, c0).
    Returns (Y [T, B, dirs*h] of the top layer, zero outside the range and at padding, states[k][t] = (h, c))."""
    T, B = x.shape[0], x.shape[1]
    r1 = T if r1 is None else r1
    h = h0.shape[2]
    inp = x
    states = {}
    for l in range(L):
        W = weights(rnn, l, dirs)
        out = torch.zeros(T, B, dirs * h)
        for dir in range(dirs):
            k = l * dirs + dir
            start = init(k) if init else (h0[k], c0[k])
            hp, cp = start
            st = {}
            ts = range(r0, r1 + 1) if dir == 0 else range(r1, r0 - 1, -1)
            for t in ts:
                valid = (t <= lengths).to(torch.float64).unsqueeze(1)
                # the reverse direction starts at n_b: before that its state stays the initial one
                first_rev = (t == lengths).to(torch.float64).unsqueeze(1) if dir == 1 else None
                if dir == 1:
                    hp = first_rev * start[0] + (1 - first_rev) * hp
                    cp = first_rev * start[1] + (1 - first_rev) * cp
                hu, cu = hp, cp
                if xi is not None:
                    if dir == 0:
                        a = float(xi[t - 1])
                        a = torch.full((B, 1), a)
                    else:
                        a = torch.full((B, 1), float(xi[t]) if t < T else 1.0)
                        a = first_rev + (1 - first_rev) * a
                    hu = a * hp + (1 - a) * hp.detach()
                    cu = a * cp + (1 - a) * cp.detach()
                hn, cn = cell_step(cell, W[dir], inp[t - 1], hu, cu)
                hp = valid * hn + (1 - valid) * hp
                cp = valid * cn + (1 - valid) * cp
                st[t] = (hp, cp)
                out[t - 1, :, dir * h:(dir + 1) * h] = valid * hn
            states[k] = st
        inp = out
    return inp, states


def final_states(states, lengths, L, dirs, T):
    """hT, cT [L*dirs, B, h]: forward at n_b (the masked state at T), reverse at t = 1."""
    hs, cs = [], []
    for k in range(L * dirs):
        t = T if k % dirs == 0 else 1
        hs.append(states[k][t][0])
        cs.append(states[k][t][1])
    return torch.stack(hs), torch.stack(cs)


def one_hot_or_values(x, tokens, d):
    return nn.functional.one_hot(x, d).to(torch.float64) if tokens else x


# ---------------------------------------------------------------- cases


def base_case(name, cell, T, B, d, h, q, L, bidirectional, loss, lengths, states, tokens, seed):
    rnn, dirs = make_module(cell, d, h, L, bidirectional, True, seed)
    head = make_head(dirs, h, q, seed)
    g = torch.Generator().manual_seed(seed + 2)
    K = L * dirs
    if tokens:
        x_ids = torch.randint(0, d, (T, B), generator=g)
        x = None
    else:
        x = f32(torch.rand(T, B, d, generator=g) * 2 - 1).requires_grad_(True)
    if loss == 'cross-entropy':
        y = torch.randint(0, q, (T, B), generator=g)
    else:
        y = f32(torch.rand(T, B, q, generator=g) * 2 - 1)
    lens = torch.tensor(lengths if lengths else [T] * B)
    h0 = f32(torch.rand(K, B, h, generator=g) - 0.5).requires_grad_(True) if states else torch.zeros(K, B, h, requires_grad=True)
    c0 = f32(torch.rand(K, B, h, generator=g) - 0.5).requires_grad_(True) if states else torch.zeros(K, B, h, requires_grad=True)
    dhT = f32((torch.rand(K, B, h, generator=g) - 0.5) * 0.6) if states else torch.zeros(K, B, h)
    dcT = f32((torch.rand(K, B, h, generator=g) - 0.5) * 0.6) if states and cell == 'lstm' else torch.zeros(K, B, h)
    xin = one_hot_or_values(x_ids, True, d) if tokens else x
    mask = (torch.arange(1, T + 1).unsqueeze(1) <= lens.unsqueeze(0)).to(torch.float64)
    fixture = {
        'name': name, 'cell': cell, 'numLayers': L, 'bidirectional': bidirectional, 'T': T, 'B': B, 'd': d, 'h': h, 'q': q,
        'loss': loss, 'stateDict': state_dict(rnn, head),
        'x': [int(v) for v in x_ids.reshape(-1).tolist()] if tokens else flat(x), 'tokens': tokens,
        'y': [int(v) for v in y.reshape(-1).tolist()] if loss == 'cross-entropy' else flat(y),
    }
    if lengths:
        fixture['lengths'] = lengths
    if states:
        fixture['h0'] = flat(h0)
        fixture['dhT'] = flat(dhT)
        if cell == 'lstm':
            fixture['c0'] = flat(c0)
            fixture['dcT'] = flat(dcT)
    ctx = dict(rnn=rnn, head=head, xin=xin, x=x, y=y, lens=lens, h0=h0, c0=c0, dhT=dhT, dcT=dcT, mask=mask, K=K, dirs=dirs)
    return fixture, ctx


def finish(fixture, ctx, J, L_value, hT, cT):
    rnn, head = ctx['rnn'], ctx['head']
    params = list(rnn.named_parameters()) + [('head.weight', head.weight), ('head.bias', head.bias)]
    wrt = [p for _, p in params] + [ctx['h0']] + ([ctx['x']] if ctx['x'] is not None else []) + ([ctx['c0']] if fixture['cell'] == 'lstm' else [])
    grads = torch.autograd.grad(J, wrt, allow_unused=True)
    exp = {'loss': float(L_value), 'grads': {}, 'hT': flat(hT)}
    for (n, p), gr in zip(params, grads):
        exp['grads'][n] = flat(gr if gr is not None else torch.zeros_like(p))
    i = len(params)
    exp['dh0'] = flat(grads[i])
    i += 1
    if ctx['x'] is not None:
        exp['dx'] = flat(grads[i])
        i += 1
    if fixture['cell'] == 'lstm':
        exp['dc0'] = flat(grads[i])
        exp['cT'] = flat(cT)
    fixture['expected'] = exp
    path = os.path.join(OUT, f"torch-{fixture['name']}.json")
    with open(path, 'w') as f:
        json.dump(fixture, f, separators=(',', ':'))
    print('wrote', path)


def module_case(name, cell, lengths, loss, tokens, seed):
    """nn.RNN / nn.GRU / nn.LSTM itself (packed when lengths are given), 2 layers, bidirectional."""
    T, B, d, h, q, L = 5, 3, 4, 3, 3, 2
    fixture, c = base_case(name, cell, T, B, d, h, q, L, True, loss, lengths, True, tokens, seed)
    fixture['truncation'] = {'kind': 'full'}
    rnn = c['rnn']
    hx = (c['h0'], c['c0']) if cell == 'lstm' else c['h0']
    if lengths:
        packed = pack_padded_sequence(c['xin'], c['lens'], enforce_sorted=False)
        out, hn = rnn(packed, hx)
        Y, _ = pad_packed_sequence(out, total_length=T)
    else:
        Y, hn = rnn(c['xin'], hx)
    hT, cT = (hn if cell == 'lstm' else (hn, None))
    # the written-out cells agree with the module (they carry the truncation cases below)
    Yw, st = run_stack(cell, rnn, L, 2, c['xin'], c['h0'], c['c0'], c['lens'])
    hw, cw = final_states(st, c['lens'], L, 2, T)
    assert torch.allclose(Y, Yw, atol=1e-12) and torch.allclose(hT, hw, atol=1e-12), f'{name}: written-out cells differ from nn'
    if cell == 'lstm':
        assert torch.allclose(cT, cw, atol=1e-12)
    o = c['head'](Y)
    Lv = loss_of(o, c['y'], c['mask'], loss)
    J = Lv + (c['dhT'] * hT).sum() + ((c['dcT'] * cT).sum() if cell == 'lstm' else 0)
    finish(fixture, c, J, Lv, hT, cT)


def truncation_case(name, cell, bidirectional, truncation, lengths, seed):
    """Written-out cells, 2 layers, with chunked, explicit-xi or window truncation."""
    T, B, d, h, q, L = 6, 2, 3, 3, 4, 2
    fixture, c = base_case(name, cell, T, B, d, h, q, L, bidirectional, 'cross-entropy', lengths, True, False, seed)
    fixture['truncation'] = truncation
    rnn, dirs = c['rnn'], c['dirs']
    args = (cell, rnn, L, dirs, c['xin'], c['h0'], c['c0'], c['lens'])
    N = c['mask'].sum()
    if truncation['kind'] in ('chunked', 'randomized'):
        if truncation['kind'] == 'chunked':
            tau = truncation['steps']
            xi = [0.0 if (t > 1 and (t - 1) % tau == 0) else 1.0 for t in range(1, T + 1)]
        else:
            xi = truncation['xi']
        Y, st = run_stack(*args, xi=xi)
        hT, cT = final_states(st, c['lens'], L, dirs, T)
        Lv = loss_of(c['head'](Y), c['y'], c['mask'], 'cross-entropy')
        J = Lv + (c['dhT'] * hT).sum() + ((c['dcT'] * cT).sum() if cell == 'lstm' else 0)
    else:
        tau = truncation['steps']
        _, base = run_stack(*args)
        base = {k: {t: (s[0].detach(), s[1].detach()) for t, s in v.items()} for k, v in base.items()}
        J = 0
        for s in range(1, T + 1):
            r0 = max(1, s - tau + 1)
            init = None if r0 == 1 else (lambda k, r0=r0: base[k][r0 - 1])
            Y, st = run_stack(*args, r0=r0, r1=s, init=init)
            o = c['head'](Y[s - 1])
            valid = (s <= c['lens']).to(torch.float64)
            per = torch.logsumexp(o, 1) - o.gather(1, c['y'][s - 1].unsqueeze(1)).squeeze(1)
            J = J + (per * valid).sum() / N
            last = (s == c['lens']).to(torch.float64).unsqueeze(1)
            for k in range(L):
                J = J + (last * c['dhT'][k] * st[k][s][0]).sum()
                if cell == 'lstm':
                    J = J + (last * c['dcT'][k] * st[k][s][1]).sum()
        Y, st = run_stack(*args)
        hT, cT = final_states(st, c['lens'], L, dirs, T)
        Lv = loss_of(c['head'](Y), c['y'], c['mask'], 'cross-entropy')
    finish(fixture, c, J, Lv, hT, cT)


if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    module_case('rnn', 'rnn', None, 'cross-entropy', False, 11)
    module_case('gru-packed', 'gru', [5, 2, 4], 'mse', False, 12)
    module_case('lstm-packed', 'lstm', [3, 5, 1], 'cross-entropy', True, 13)
    truncation_case('gru-chunked', 'gru', True, {'kind': 'chunked', 'steps': 2}, [6, 4], 14)
    truncation_case('lstm-xi', 'lstm', True, {'kind': 'randomized', 'xi': [1.5, 0.0, 1.0, 2.0, 0.5, 1.0]}, [5, 6], 15)
    truncation_case('lstm-window', 'lstm', False, {'kind': 'window', 'steps': 2}, [6, 3], 16)
    truncation_case('gru-window', 'gru', False, {'kind': 'window', 'steps': 3}, None, 17)
    truncation_case('rnn-xi', 'rnn', True, {'kind': 'randomized', 'xi': [2.0, 1.0, 0.0, 1.0, 0.5, 1.0]}, [4, 6], 18)
