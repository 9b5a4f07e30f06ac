"""The digit-sum recurrent layers, written from their equations, against torch's own in float64."""
import pytest
import torch

from rnnlab.nn.classify import DigitSumClassifier, SimpleRNN


def rel(a, b):
    return ((a - b).abs().max() / max(a.abs().max(), b.abs().max())).item()


def test_simple_rnn_matches_nn_rnn_in_outputs_and_gradients():
    torch.manual_seed(0)
    ours = SimpleRNN(3, 5).double()
    ref = torch.nn.RNN(3, 5, nonlinearity="tanh", batch_first=True).double()
    with torch.no_grad():                  # x W + h U + b  ==  x W_ih^T + h W_hh^T + b_ih + b_hh
        ref.weight_ih_l0.copy_(ours.W.T)
        ref.weight_hh_l0.copy_(ours.U.T)
        ref.bias_ih_l0.copy_(ours.b)
        ref.bias_hh_l0.zero_()
    x = torch.randn(4, 7, 3, dtype=torch.float64)
    h0 = torch.randn(4, 5, dtype=torch.float64)
    out, last = ours(x, h0)
    ref_out, ref_last = ref(x, h0[None])
    assert rel(out, ref_out) <= 1e-12 and rel(last, ref_last[0]) <= 1e-12
    weights = torch.randn_like(out)
    (out * weights).sum().backward()
    (ref_out * weights).sum().backward()
    assert rel(ours.W.grad, ref.weight_ih_l0.grad.T) <= 1e-7
    assert rel(ours.U.grad, ref.weight_hh_l0.grad.T) <= 1e-7
    assert rel(ours.b.grad, ref.bias_ih_l0.grad) <= 1e-7


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_simple_rnn_and_lstm_pass_torch_gradcheck(kind):
    torch.manual_seed(1)
    model = DigitSumClassifier(kind, embed_size=3, hidden_size=4, bidirectional=True).double()
    layer = model.forward_rnn
    x = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    names, params = zip(*layer.named_parameters())

    def f(x, *ps):
        return torch.func.functional_call(layer, dict(zip(names, ps)), (x,))[0]
    assert torch.autograd.gradcheck(f, (x, *params), eps=1e-6, atol=1e-7, rtol=1e-7)


def test_bidirectional_classifier_matches_nn_rnn_bidirectional():
    torch.manual_seed(2)
    model = DigitSumClassifier("rnn", embed_size=3, hidden_size=4, bidirectional=True).double()
    ref = torch.nn.RNN(3, 4, batch_first=True, bidirectional=True).double()
    with torch.no_grad():
        for suffix, layer in (("", model.forward_rnn), ("_reverse", model.backward_rnn)):
            getattr(ref, f"weight_ih_l0{suffix}").copy_(layer.W.T)
            getattr(ref, f"weight_hh_l0{suffix}").copy_(layer.U.T)
            getattr(ref, f"bias_ih_l0{suffix}").copy_(layer.b)
            getattr(ref, f"bias_hh_l0{suffix}").zero_()
    digits = torch.randint(0, 10, (5, 8))
    _, h_n = ref(model.embedding(digits))
    expected = model.classifier(torch.cat([h_n[0], h_n[1]], dim=1))
    assert rel(model(digits), expected) <= 1e-12
