"""Adam (Kingma & Ba 2015), the update of `torch.optim.Adam` with its defaults, written out.

Why not `torch.optim.Adam`: building any `torch.optim` optimizer imports `torch._dynamo` (and
sympy) on a session's first run, 1.5-3.4 s that hold Python's lock in stretches of 250-370 ms,
so the window froze right after Start (docs/benchmarks.md, "While calibrating and training").
This class never imports it. Its `state_dict` has the layout of torch's, so checkpoints written
with `torch.optim.Adam` resume with it."""

from __future__ import annotations

import math
from typing import Any, Iterable

import torch


class Adam:
    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.param_groups: list[dict[str, Any]] = [
            {"params": list(params), "lr": lr, "betas": tuple(betas), "eps": eps}]
        self.state: dict[torch.Tensor, dict[str, Any]] = {}

    def _params(self) -> list[torch.nn.Parameter]:
        return [p for g in self.param_groups for p in g["params"]]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self._params():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state.get(p)
                if st is None:
                    st = self.state[p] = {"step": 0, "exp_avg": torch.zeros_like(p),
                                          "exp_avg_sq": torch.zeros_like(p)}
                st["step"] += 1
                g, m, v = p.grad, st["exp_avg"], st["exp_avg_sq"]
                m.lerp_(g, 1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                correction1 = 1 - beta1 ** st["step"]
                correction2_sqrt = math.sqrt(1 - beta2 ** st["step"])
                denom = (v.sqrt() / correction2_sqrt).add_(group["eps"])
                p.addcdiv_(m, denom, value=-group["lr"] / correction1)

    def state_dict(self) -> dict[str, Any]:
        index = {p: i for i, p in enumerate(self._params())}
        groups, start = [], 0
        for g in self.param_groups:
            ids = list(range(start, start + len(g["params"])))
            start += len(ids)
            groups.append({"lr": g["lr"], "betas": list(g["betas"]), "eps": g["eps"], "params": ids})
        state = {index[p]: {"step": torch.tensor(float(st["step"])), "exp_avg": st["exp_avg"],
                            "exp_avg_sq": st["exp_avg_sq"]} for p, st in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        params = self._params()
        saved = sd["param_groups"]
        if len(saved) != len(self.param_groups) or any(
                len(s["params"]) != len(g["params"]) for s, g in zip(saved, self.param_groups)):
            raise ValueError("the saved optimizer state is for another set of parameters")
        for s, g in zip(saved, self.param_groups):
            g.update(lr=s["lr"], betas=tuple(s["betas"]), eps=s["eps"])
        self.state = {}
        for i, st in sd["state"].items():
            p = params[int(i)]
            self.state[p] = {"step": int(float(st["step"])),
                             "exp_avg": st["exp_avg"].to(p.device, p.dtype).clone(),
                             "exp_avg_sq": st["exp_avg_sq"].to(p.device, p.dtype).clone()}
