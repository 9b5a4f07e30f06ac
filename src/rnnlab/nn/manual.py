"""The LSTM with a hand-written backward pass: closed-form BPTT (reference PART 1) as a torch Function.

Forward, for one layer over a whole sequence (time-major, so each step's slice is contiguous):
    Z_t  = x_t W_ih^T + b_ih + b_hh                 every step's input projection in one matmul
    a_t  = Z_t + h_{t-1} W_hh^T                      one matmul per step: the recurrence
    i, f, o = sigmoid(a_t^{i,f,o}),  g = tanh(a_t^g)
    C_t  = f * C_{t-1} + i * g,      h_t = o * tanh(C_t)
Saved: the gate activations [i f g o] and C_t of every step (x, W and h_t are kept anyway).

Backward. With dh_t = dL/dh_t (from above and from step t+1) and dC_t = dL/dC_t:
    dC_t     = dC_{t+1} f_{t+1} + dh_t o_t (1 - tanh^2 C_t)
    da_t     = [dC_t g i(1-i),  dC_t C_{t-1} f(1-f),  dC_t i (1-g^2),  dh_t tanh(C_t) o(1-o)]
    dh_{t-1} = dL/dh_{t-1} (from above) + da_t W_hh
Every factor that does not involve dh or dC depends only on the forward pass, so it is computed for
all steps at once before the loop (into the buffer that becomes dA); the loop is five operations per step. After the loop each
weight gradient is one matmul over all steps:
    dW_hh = sum_t da_t^T h_{t-1},  dW_ih = sum_t da_t^T x_t,  db_ih = db_hh = sum_t da_t,  dx_t = da_t W_ih
"""
import torch


class LSTMFunction(torch.autograd.Function):
    """One LSTM layer: (x (T,B,I), h0, c0 (B,H), w_ih, w_hh, b_ih, b_hh) -> (h (T,B,H), h_T, C_T)."""

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        T, B, _ = x.shape
        H = w_hh.shape[1]
        gates = torch.addmm(b_ih + b_hh, x.reshape(T * B, -1), w_ih.t()).view(T, B, 4 * H)   # Z, for now
        hs, cs = x.new_empty(T, B, H), x.new_empty(T, B, H)
        w_hh_t = w_hh.t()
        h, c = h0, c0
        for t in range(T):
            a = torch.addmm(gates[t], h, w_hh_t)
            torch.sigmoid(a, out=gates[t])                              # Z_t is used up: keep i, f, o here
            torch.tanh(a[:, 2 * H:3 * H], out=gates[t, :, 2 * H:3 * H])  # and g
            i, f, g, o = gates[t].chunk(4, 1)
            c = torch.addcmul(f * c, i, g, out=cs[t])
            h = torch.mul(o, c.tanh(), out=hs[t])
        ctx.save_for_backward(x, h0, c0, w_ih, w_hh, gates, cs, hs)
        return hs, h.clone(), c.clone()

    @staticmethod
    def backward(ctx, d_hs, d_hT, d_cT):
        x, h0, c0, w_ih, w_hh, gates, cs, hs = ctx.saved_tensors
        T, B, H = hs.shape
        i, f, g, o = gates.chunk(4, 2)
        # da_t's factors that come from the forward pass alone, for all steps at once, written straight
        # into the buffer of dA (no temporaries); the loop multiplies them in place by dC_t or dh_t
        d_gates = torch.empty_like(gates)
        d_i, d_f, d_g, d_o = d_gates.chunk(4, 2)
        torch.sub(1, i, out=d_i).mul_(i).mul_(g)                     # g i(1-i)
        torch.sub(1, f, out=d_f).mul_(f)                             # C_{t-1} f(1-f)
        d_f[0].mul_(c0)
        d_f[1:].mul_(cs[:-1])
        torch.mul(g, g, out=d_g).neg_().add_(1).mul_(i)              # i (1-g^2)
        tanh_c = cs.tanh()
        torch.sub(1, o, out=d_o).mul_(o).mul_(tanh_c)                # tanh(C_t) o(1-o)
        dc_by_dh = tanh_c.square_().neg_().add_(1).mul_(o)           # o (1 - tanh^2 C_t), in tanh_c's place

        d_hs = d_hs if d_hs is not None else torch.zeros_like(hs)
        dh = d_hs[-1] if d_hT is None else d_hs[-1] + d_hT
        dc = torch.zeros_like(c0) if d_cT is None else d_cT
        for t in reversed(range(T)):
            da = d_gates[t]
            dc = torch.addcmul(dc, dh, dc_by_dh[t])
            da[:, :3 * H].view(B, 3, H).mul_(dc.unsqueeze(1))
            da[:, 3 * H:].mul_(dh)
            dc = dc * f[t]
            dh = torch.addmm(d_hs[t - 1], da, w_hh) if t > 0 else da @ w_hh

        flat = d_gates.view(T * B, 4 * H)
        h_prev = torch.cat([h0.unsqueeze(0), hs[:-1]]).view(T * B, H)
        d_b = flat.sum(0)
        return (flat @ w_ih).view(x.shape), dh, dc, flat.t() @ x.reshape(T * B, -1), flat.t() @ h_prev, d_b, d_b
