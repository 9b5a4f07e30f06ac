"""What every optimizer here shares: a loop over the parameters that have a gradient, with L2 weight decay."""
import torch


class FormulaOptimizer(torch.optim.Optimizer):
    """Subclasses write `update(p, g, state, group)`: one parameter's step from its gradient g.

    g already includes L2 weight decay (g + weight_decay * p), as in torch.optim. `state` is the
    parameter's dict in self.state, so it is saved and restored by state_dict()/load_state_dict().
    """

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if group.get("weight_decay", 0):
                    g = g.add(p, alpha=group["weight_decay"])
                self.update(p, g, self.state[p], group)
        return loss

    def update(self, p, g, state, group):
        raise NotImplementedError
