"""rnnlab.optim against torch.optim, step for step, in float64; and the defining behaviour of the two
optimizers torch lacks (AdaptiveGains, NTASGD)."""
import copy

import pytest
import torch

from rnnlab import optim as ours

# every option of every optimizer is exercised by at least one configuration
CONFIGS = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=1e-3)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    ("Adagrad", dict(lr=0.1, lr_decay=1e-3, weight_decay=1e-3, initial_accumulator_value=0.1, eps=1e-8)),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=1e-3)),
    ("RMSprop", dict(lr=1e-2, alpha=0.9, eps=1e-6, weight_decay=1e-3)),
    ("RMSprop", dict(lr=1e-3, alpha=0.99, momentum=0.5, centered=True)),
    ("Adam", dict(lr=1e-2, betas=(0.5, 0.99), eps=1e-7, weight_decay=1e-3)),
    ("Adam", dict(lr=1e-2, amsgrad=True)),
    ("Adamax", dict(lr=1e-2, betas=(0.8, 0.95), eps=1e-7, weight_decay=1e-3)),
    ("ASGD", dict(lr=0.05, lambd=1e-3, alpha=0.6, t0=50, weight_decay=1e-3)),
    ("Rprop", dict(lr=1e-2, etas=(0.4, 1.3), step_sizes=(1e-5, 0.5))),
]


def small_model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3)).double()


def loss_at(model, step):
    gen = torch.Generator().manual_seed(step)
    x = torch.randn(8, 4, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (8,), generator=gen)
    return torch.nn.functional.cross_entropy(model(x), y)


def train(model, optimizer, steps, start=0):
    for step in range(start, start + steps):
        optimizer.zero_grad()
        loss_at(model, step).backward()
        optimizer.step()


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_matches_torch_step_for_step_with_a_reload_halfway(name, kwargs):
    mine, theirs = small_model(), small_model()
    opt_mine = getattr(ours, name)(mine.parameters(), **kwargs)
    opt_theirs = getattr(torch.optim, name)(theirs.parameters(), **kwargs)
    for step in range(200):
        if step == 100:       # save, rebuild the model and optimizer from the saved state, go on
            saved_model, saved_opt = copy.deepcopy(mine.state_dict()), copy.deepcopy(opt_mine.state_dict())
            mine = small_model(seed=1)
            mine.load_state_dict(saved_model)
            opt_mine = getattr(ours, name)(mine.parameters(), **kwargs)
            opt_mine.load_state_dict(saved_opt)
        for model, opt in ((mine, opt_mine), (theirs, opt_theirs)):
            opt.zero_grad()
            loss_at(model, step).backward()
            opt.step()
        for p, q in zip(mine.parameters(), theirs.parameters()):
            assert (p - q).abs().max() <= 1e-6 * q.abs().max(), (name, step)
    tight = 1e-8 if name == "ASGD" else 1e-12      # torch keeps ASGD's eta and mu in float32 tensors
    for p, q in zip(mine.parameters(), theirs.parameters()):
        assert (p - q).abs().max() <= tight


def test_a_step_really_moves_the_weights():
    model = small_model()
    before = [p.clone() for p in model.parameters()]
    train(model, ours.Adam(model.parameters(), lr=1e-2), 1)
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_adaptive_gains_rule():
    w = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    opt = ours.AdaptiveGains([w], lr=0.1, momentum=0.0, increase=0.05, decrease=0.95, gain_range=(0.5, 1.12))
    grads = [[1.0, 1.0, 1.0], [1.0, -1.0, 0.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    expected_gains = [[1.0, 1.0, 1.0],            # first step: no previous sign
                      [1.05, 0.95, 1.0],          # same sign: +0.05; flipped: x0.95; zero: unchanged
                      [1.10, 0.9025, 1.0],        # previous gradient 0: no sign to compare
                      [1.12, 0.9525, 1.05],       # 1.15 clipped to the top of the range
                      [1.12, 1.0025, 1.10]]
    for g, gain in zip(grads, expected_gains):
        before = w.detach().clone()
        w.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        assert torch.allclose(opt.state[w]["gain"], torch.tensor(gain, dtype=torch.float64), atol=1e-12, rtol=0)
        # without momentum the step is -lr * gain * g
        assert torch.allclose(w - before, -0.1 * opt.state[w]["gain"] * w.grad, atol=1e-12, rtol=0)


def test_adaptive_gains_momentum_accumulates():
    w = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = ours.AdaptiveGains([w], lr=0.1, momentum=0.5, gain_range=(1.0, 1.0))
    for _ in range(3):
        w.grad = torch.ones(1, dtype=torch.float64)
        opt.step()
    assert abs(w.item() - -(0.1 + 0.15 + 0.175)) < 1e-12     # v = 0.5 v - 0.1


@pytest.mark.parametrize("history,fires_at", [
    ([5, 4, 3, 2, 1, 0.5, 0.4, 0.3], None),               # always improving: never fires
    ([5, 4, 3, 3.5, 3.6, 3.7, 3.8, 4.5, 2.0], 7),        # 4.5 > min(5, 4); 3.8 was not > min(5); fires once
    ([5, 4, 6, 7, 8, 9, 9.5], 6),                        # 9 at check 5 is too early: needs more than n before
    ([5, 4, 3, 3.1, 3.2, 3.3, 3.4, 2.9, 3.0], None),    # 3.0 is not above min(5, 4, 3): strictly greater
    ([5, 4, 3, 3.1, 3.2, 3.3, 3.4, 2.9, 3.05], 8),      # 3.05 is
])
def test_ntasgd_trigger_fires_exactly_on_the_non_monotone_condition(history, fires_at):
    w = torch.nn.Parameter(torch.zeros(1))
    opt = ours.NTASGD([w], lr=0.1, n=5)
    fired = [k for k, metric in enumerate(history) if opt.check(metric)]
    assert fired == ([] if fires_at is None else [fires_at])
    assert opt.averaging == (fires_at is not None)


def test_ntasgd_averages_the_iterates_since_the_trigger_and_swaps_them():
    model = small_model()
    opt = ours.NTASGD(model.parameters(), lr=0.1, n=1)
    train(model, opt, 5)
    for metric in (1.0, 0.5, 1.2):
        opt.check(metric)
    assert opt.averaging and opt.triggered_at == 5
    iterates = []
    for step in range(5, 12):
        train(model, opt, 1, start=step)
        iterates.append([p.detach().clone() for p in model.parameters()])
    current = [p.detach().clone() for p in model.parameters()]
    means = [torch.stack(ps).mean(0) for ps in zip(*iterates)]
    with opt.averaged():
        for p, m in zip(model.parameters(), means):
            assert torch.allclose(p, m, atol=1e-12, rtol=0)
    for p, c in zip(model.parameters(), current):
        assert torch.equal(p, c)


def test_ntasgd_fine_tuning_averages_from_the_first_step_and_never_triggers():
    model = small_model()
    opt = ours.NTASGD(model.parameters(), lr=0.1, n=1, average_from_start=True)
    iterates = []
    for step in range(4):
        train(model, opt, 1, start=step)
        iterates.append([p.detach().clone() for p in model.parameters()])
    assert not any(opt.check(metric) for metric in (1.0, 0.5, 1.2)) and opt.triggered_at == 0
    with opt.averaged():
        for p, ps in zip(model.parameters(), zip(*iterates)):
            assert torch.allclose(p, torch.stack(ps).mean(0), atol=1e-12, rtol=0)


def test_ntasgd_state_dict_round_trip_mid_run():
    a, b = small_model(), small_model()
    opt_a = ours.NTASGD(a.parameters(), lr=0.1, n=1)
    train(a, opt_a, 3)
    for metric in (1.0, 0.5, 1.2):
        opt_a.check(metric)
    train(a, opt_a, 3, start=3)
    b.load_state_dict(a.state_dict())
    opt_b = ours.NTASGD(b.parameters(), lr=0.1, n=1)
    opt_b.load_state_dict(copy.deepcopy(opt_a.state_dict()))
    assert opt_b.history == [1.0, 0.5, 1.2] and opt_b.triggered_at == 3 and opt_b.n_averaged == 3
    train(a, opt_a, 4, start=6)
    train(b, opt_b, 4, start=6)
    with opt_a.averaged(), opt_b.averaged():
        for p, q in zip(a.parameters(), b.parameters()):
            assert torch.equal(p, q)
