# The HSRL training step in PyTorch, written for hsrl-edge's bench (not the authors' code): the same shapes and losses
# as scripts/learn/a2c.ts trainPolicy at the bench's shape, on CPU with one thread. bench/train.ts runs it when
# `python3 -c "import torch"` works and reports ours / torch. Input: one JSON object on argv[1]; output: one JSON line.
#   bc: HPN forward (training, dropout) + log pi(target) over the N-item catalog + backward + Adam
#   rl: act (forward, catalog scores, Gumbel-top-K without history items), simulate (response model, Bernoulli clicks,
#       temper), target actor + target critic -> TD target, critic MSE + Adam, actor (A2C + entropy + BC auxiliary) on
#       [RL states; BC examples] + global-norm clip + Adam, soft target updates
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

cfg = json.loads(sys.argv[1])
B, H, d, nl, nh, ff = cfg["batch"], cfg["historyLength"], cfg["dModel"], cfg["layers"], cfg["heads"], cfg["ff"]
L, V, N, K = cfg["levels"], cfg["vocab"], cfg["catalog"], cfg["slate"]
reps, threads = cfg.get("reps", 10), cfg.get("threads", 1)
torch.set_num_threads(threads)
torch.manual_seed(1)
torch.set_flush_denormal(True)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.q, self.k, self.v, self.proj = (nn.Linear(d, d) for _ in range(4))
        self.fc, self.out = nn.Linear(d, ff), nn.Linear(ff, d)
        self.drop = nn.Dropout(0.1)

    def forward(self, x, bias):
        b, t, _ = x.shape
        h = self.ln1(x)
        split = lambda z: z.view(b, t, nh, d // nh).transpose(1, 2)
        q, k, v = split(self.q(h)), split(self.k(h)), split(self.v(h))
        att = self.drop(torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // nh) + bias, -1))
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.drop(self.proj(y))
        return x + self.drop(self.out(torch.relu(self.fc(self.ln2(x)))))


class Hpn(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok_in = nn.ModuleList(nn.Embedding(V, d) for _ in range(L))
        self.pos = nn.Parameter(torch.randn(H, d) * 0.02)
        self.blocks = nn.ModuleList(Block() for _ in range(nl))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.ModuleList(nn.Linear(d, V) for _ in range(L))
        self.tok_out = nn.ParameterList(nn.Parameter(torch.randn(V, d) * 0.02) for _ in range(L))
        self.head_ln = nn.ModuleList(nn.LayerNorm(d) for _ in range(L))
        self.drop = nn.Dropout(0.1)
        self.register_buffer("causal", torch.tril(torch.ones(H, H)))
        self.register_buffer("eye", torch.eye(H))

    def forward(self, sids, length):  # sids [B, H, L] right-aligned, length [B] -> logp [B, L, V], contexts [B, L+1, d]
        b = sids.shape[0]
        valid = (torch.arange(H).view(1, H) >= (H - length).view(b, 1)).float()
        open_ = torch.maximum(valid.view(b, 1, H), self.eye) * self.causal
        bias = ((open_ - 1) * 1e9).view(b, 1, H, H)
        emb = sum(self.tok_in[l](sids[:, :, l]) for l in range(L))
        x = self.drop(emb * valid.unsqueeze(-1) + self.pos)
        for blk in self.blocks:
            x = blk(x, bias)
        c = self.ln_f(x[:, -1])
        logps, ctxs = [], [c]
        for l in range(L):
            logp = torch.log_softmax(self.head[l](c), -1)
            logps.append(logp)
            c = self.head_ln[l](c - logp.exp() @ self.tok_out[l])
            ctxs.append(c)
        return torch.stack(logps, 1), torch.stack(ctxs, 1)


class Critic(nn.Module):
    def __init__(self):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(d, 256), nn.ReLU(), nn.Linear(256, 64), nn.ReLU(), nn.Linear(64, 1))
        self.level_logits = nn.Parameter(torch.zeros(L + 1))

    def forward(self, ctx):
        return (self.mlp(ctx).squeeze(-1) * torch.softmax(self.level_logits, 0)).sum(1)


class Response(nn.Module):  # scripts/model/response.ts slateLogits, id embeddings only
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(N + 1, 32)
        self.bias = nn.Embedding(N + 1, 1)
        self.wq, self.wk, self.wv = (nn.Linear(32, 32, bias=False) for _ in range(3))
        self.mlp = nn.Sequential(nn.Linear(96, 64), nn.ReLU(), nn.Linear(64, 1))

    def forward(self, hist, length, items):  # hist [B, H] (pad N), items [B, K] -> logits [B, K]
        b = hist.shape[0]
        e_i, e_h = self.emb(items), self.emb(hist)
        s = self.wq(e_i) @ self.wk(e_h).transpose(1, 2) / math.sqrt(32)
        valid = (torch.arange(H).view(1, H) >= (H - length).view(b, 1)).float()
        att = torch.softmax(s + ((1 - valid) * -1e9).unsqueeze(1), -1)
        pooled = (att @ self.wv(e_h)) * (length > 0).float().view(b, 1, 1)
        x = torch.cat([e_i, pooled, e_i * pooled], -1)
        return self.mlp(x).squeeze(-1) + self.bias(items).squeeze(-1)


g = torch.Generator().manual_seed(1)
sid_tokens = torch.randint(0, V, (N, L), generator=g)
rows = (sid_tokens + torch.arange(L) * V).view(-1)  # [N*L] rows of the flattened [L*V] log-probs


def catalog_logp(logp):  # log pi over the catalog [B, N]
    scores = logp.reshape(logp.shape[0], L * V)[:, rows].view(-1, N, L).sum(-1)
    return torch.log_softmax(scores, -1)


def encode(histories):  # item ids -> SIDs [B, H, L] right-aligned, length [B]
    b = len(histories)
    sids = torch.zeros(b, H, L, dtype=torch.long)
    length = torch.zeros(b, dtype=torch.long)
    for i, h in enumerate(histories):
        h = h[-H:]
        if h:
            sids[i, H - len(h) :] = sid_tokens[torch.tensor(h)]
        length[i] = len(h)
    return sids, length


def item_batch(histories):
    hist = torch.full((len(histories), H), N, dtype=torch.long)
    length = torch.zeros(len(histories), dtype=torch.long)
    for i, h in enumerate(histories):
        h = h[-H:]
        if h:
            hist[i, H - len(h) :] = torch.tensor(h)
        length[i] = len(h)
    return hist, length


actor, critic, response = Hpn(), Critic(), Response()
target_actor, target_critic = Hpn(), Critic()
target_actor.load_state_dict(actor.state_dict())
target_critic.load_state_dict(critic.state_dict())
a_opt = torch.optim.Adam(actor.parameters(), 1e-3)
c_opt = torch.optim.Adam(critic.parameters(), 1e-3)
gen = torch.Generator().manual_seed(2)
rand_hist = lambda: torch.randint(0, N, (H,), generator=gen).tolist()
bc_hist = [rand_hist() for _ in range(B)]
bc_targets = torch.randint(0, N, (B,), generator=gen)
users = [rand_hist() for _ in range(B)]
temper = [20.0] * B
phases = {}


def timed(name, f):
    t0 = time.perf_counter()
    out = f()
    phases[name] = phases.get(name, 0.0) + (time.perf_counter() - t0) * 1000
    return out


def bc_step():
    actor.train()
    sids, length = encode(bc_hist)
    logp, _ = actor(sids, length)
    loss = -catalog_logp(logp).gather(1, bc_targets.view(-1, 1)).mean()
    a_opt.zero_grad()
    loss.backward()
    a_opt.step()
    return loss.item()


def rl_step():
    global users
    obs = [u[:] for u in users]
    actor.eval()

    def act():
        with torch.no_grad():
            logp, ctx = actor(*encode(obs))
            return catalog_logp(logp), ctx

    item_logp, ctx_s = timed("act.forward", act)

    def slates_of():
        s = item_logp - torch.log(-torch.log(torch.rand(B, N, generator=gen)))  # Gumbel-top-K
        hist, _ = item_batch(obs)
        s.scatter_(1, hist.clamp(max=N - 1), -math.inf)  # never an item already in the history (pad N -> clamp)
        return s.topk(K, 1).indices

    slates = timed("act.slates", slates_of)

    def simulate():
        with torch.no_grad():
            hist, length = item_batch(obs)
            p = torch.sigmoid(response(hist, length, slates))
        clicks = torch.rand(B, K, generator=gen) < p
        n = clicks.sum(1)
        reward = (n + -0.1 * (K - n)) / K
        done = torch.zeros(B)
        for b in range(B):
            temper[b] -= K - int(n[b]) + 1
            users[b] = (users[b] + slates[b][clicks[b]].tolist())[-H:]
            if temper[b] <= 0:
                done[b] = 1
                temper[b] = 20.0
        return reward, done

    reward, done = timed("simulator", simulate)
    nxt = [u[:] for u in users]

    def target():
        with torch.no_grad():
            _, nctx = target_actor(*encode(nxt))
            return reward + 0.9 * (1 - done) * target_critic(nctx)

    y = timed("critic.target", target)

    def critic_update():
        v = critic(ctx_s)
        loss = F.mse_loss(v, y)
        c_opt.zero_grad()
        loss.backward()
        c_opt.step()
        return (y - v.detach()).clamp(-1, 1)

    adv = timed("critic.update", critic_update)
    actor.train()

    def actor_forward():
        sids, length = encode(obs + bc_hist)
        logp, _ = actor(sids, length)
        lp = catalog_logp(logp)
        rl, sup = lp[:B], lp[B:]
        pg = -(adv * rl.gather(1, slates).mean(1)).mean()
        ent = -(rl.exp() * rl).sum(1).mean()
        bc = -sup.gather(1, bc_targets.view(-1, 1)).mean()
        return pg - 0.1 * ent + 0.5 * bc

    loss = timed("actor.forward", actor_forward)

    def backward():
        a_opt.zero_grad()
        loss.backward()

    timed("actor.backward", backward)

    def step():
        torch.nn.utils.clip_grad_norm_(actor.parameters(), 5.0)
        a_opt.step()

    timed("actor.clip+adam", step)

    def soft():
        with torch.no_grad():
            for net, tgt in ((actor, target_actor), (critic, target_critic)):
                for p, t in zip(net.parameters(), tgt.parameters()):
                    t.mul_(0.99).add_(p, alpha=0.01)

    timed("targets", soft)


def mean_ms(f, n):
    f()
    t0 = time.perf_counter()
    for _ in range(n):
        f()
    return (time.perf_counter() - t0) * 1000 / n


bc_ms = mean_ms(bc_step, reps)
rl_step()  # warm-up
phases.clear()
t0 = time.perf_counter()
for _ in range(reps):
    rl_step()
rl_ms = (time.perf_counter() - t0) * 1000 / reps
print(
    json.dumps(
        {
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "bcStepMs": round(bc_ms, 1),
            "rlStepMs": round(rl_ms, 1),
            "phases": {k: round(v / reps, 2) for k, v in phases.items()},
        }
    )
)
