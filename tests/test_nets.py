"""Table 1 networks: parameter counts, shapes, layer order, initialisation, p1/p2 and the head
monitor."""

import math

import pytest
import torch
from torch import nn

from diffsurr.nets import NN1, NN2, Surrogate, alive_fraction, count_parameters, saved_config

NN1_PARAMS = 3_075
NN2_PARAMS = 50_290_243


@pytest.fixture(scope="module")
def nn2_full():
    torch.manual_seed(0)
    return NN2(0.1, 0.1)


@pytest.fixture
def small():
    torch.manual_seed(0)
    return Surrogate(NN1(0.4, 0.4), NN2(0.1, 0.1, width=1 / 8), p1=1, p2=1)


def image(batch=2, n=100):
    return torch.rand(batch, 1, n, n)


def shapes_after(seq: nn.Sequential, kinds, x):
    """(C, H, W) after every layer of `seq` that is one of `kinds`, in order."""
    out = []
    hooks = [m.register_forward_hook(lambda _m, _i, y: out.append(tuple(y.shape[1:])))
             for m in seq if isinstance(m, kinds)]
    seq(x)
    for h in hooks:
        h.remove()
    return out


# --- parameter counts (Table 1) ---------------------------------------------------------


def test_nn1_parameter_count():
    assert count_parameters(NN1(0.3, 0.3)) == NN1_PARAMS


def test_nn2_parameter_count(nn2_full):
    assert count_parameters(nn2_full) == NN2_PARAMS


def test_relu_head_has_two_fewer_parameters():
    assert (count_parameters(NN2(0.1, 0.1, width=1 / 8))
            - count_parameters(NN2(0.1, 0.1, width=1 / 8, head="relu"))) == 2


def test_width_one_eighth_is_about_0_79_million():
    assert 0.75e6 < count_parameters(NN2(0.1, 0.1, width=1 / 8)) < 0.83e6


@pytest.mark.parametrize(
    ("model", "expected", "has_nn1", "has_nn2"),
    [(6, NN1_PARAMS, True, False), (12, NN2_PARAMS, False, True),
     (9, NN1_PARAMS + NN2_PARAMS, True, True)],
)
def test_surrogate_from_table2_counts(model, expected, has_nn1, has_nn2):
    s = Surrogate.from_table2(model)
    assert count_parameters(s) == expected
    assert (s.nn1 is not None, s.nn2 is not None) == (has_nn1, has_nn2)


# --- shapes -----------------------------------------------------------------------------


def test_nn2_encoder_and_decoder_shapes_full_width(nn2_full):
    nn2_full.eval()
    with torch.no_grad():
        enc = shapes_after(nn2_full.encoder, (nn.AvgPool2d, nn.Conv2d), image(batch=1))
        dec = shapes_after(nn2_full.decoder, nn.ConvTranspose2d, nn2_full.encoder(image(batch=1)))
    assert enc == [
        (64, 100, 100), (64, 50, 50),
        (128, 50, 50), (128, 25, 25),
        (256, 25, 25), (256, 12, 12),
        (512, 12, 12), (512, 6, 6),
        (1024, 6, 6), (1024, 3, 3),
        (2048, 1, 1),
    ]  # fmt: skip
    assert dec == [(1024, 3, 3), (512, 7, 7), (256, 13, 13), (128, 25, 25), (64, 51, 51),
                   (1, 100, 100)]


def test_nn2_channels_scale_with_width():
    net = NN2(0.1, 0.1, width=1 / 8)
    convs = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert [(m.in_channels, m.out_channels) for m in convs] == [
        (1, 8), (8, 16), (16, 32), (32, 64), (64, 128), (128, 256),
        (256, 128), (128, 64), (64, 32), (32, 16), (16, 8), (8, 1),
    ]  # fmt: skip
    assert net(image()).shape == (2, 1, 100, 100)


@pytest.mark.parametrize("n", [100, 37])
def test_nn1_keeps_size_with_table1_channels(n):
    net = NN1(0.3, 0.3)
    got = shapes_after(net.layers, nn.Conv2d, image(n=n))
    assert got == [(c, n, n) for c in (4, 8, 16, 8, 4, 1)]


# --- layer order and settings (Table 1, the book's differences page) ------------------------------


def kinds(seq):
    return [type(m).__name__ for m in seq]


def test_nn1_layer_order():
    net = NN1(0.3, 0.4)
    block = ["Conv2d", "LeakyReLU", "BatchNorm2d"]
    assert kinds(net.layers) == (
        ["Conv2d", "LeakyReLU", "Dropout", "BatchNorm2d"] + block * 4
        + ["Conv2d", "ReLU", "Dropout", "BatchNorm2d"]
    )
    dropouts = [m.p for m in net.layers if isinstance(m, nn.Dropout)]
    assert dropouts == [0.3, 0.4]


@pytest.mark.parametrize("head, tail, n_params", [
    ("table1", ["Conv2d", "ReLU", "Dropout", "BatchNorm2d"], 3075),
    ("d2-first", ["Dropout", "Conv2d", "ReLU", "BatchNorm2d"], 3075),
    ("relu", ["BatchNorm2d", "Dropout", "Conv2d", "ReLU"], 3073),
])
def test_nn1_heads_move_d2_and_the_last_batchnorm(head, tail, n_params):
    net = NN1(0.3, 0.4, head=head)
    assert kinds(net.layers)[-4:] == tail and count_parameters(net) == n_params
    assert [m.p for m in net.layers if isinstance(m, nn.Dropout)] == [0.3, 0.4]
    assert kinds(net.layers)[:16] == kinds(NN1(0.3, 0.4).layers)[:16]


def test_table1_nn1_keeps_its_state_dict_keys():
    """Models saved before NN1 had variants load into the current Table 1 NN1."""
    keys = list(NN1(0.3, 0.3).state_dict())
    assert "layers.19.running_var" in keys and "layers.0.weight" in keys


def test_nn2_layer_order():
    net = NN2(0.2, 0.3, width=1 / 8)
    pool_block = ["Conv2d", "LeakyReLU", "AvgPool2d"]
    assert kinds(net.encoder) == (
        ["Conv2d", "LeakyReLU", "BatchNorm2d", "Dropout", "AvgPool2d"] + pool_block * 4
        + ["Conv2d", "LeakyReLU"]
    )
    assert kinds(net.decoder) == (
        ["ConvTranspose2d", "LeakyReLU"] * 5 + ["Dropout", "ConvTranspose2d", "ReLU", "BatchNorm2d"]
    )
    assert (kinds(NN2(0.2, 0.3, width=1 / 8, head="relu").decoder)[-2:]
            == ["ConvTranspose2d", "ReLU"])
    assert [m.p for m in net.modules() if isinstance(m, nn.Dropout)] == [0.2, 0.3]


def test_convolution_geometry(nn2_full):
    convs = [m for m in nn2_full.encoder if isinstance(m, nn.Conv2d)]
    assert [m.padding for m in convs] == [(1, 1)] * 5 + [(0, 0)]
    assert all(m.kernel_size == (3, 3) and m.stride == (1, 1) for m in convs)
    pools = [m for m in nn2_full.encoder if isinstance(m, nn.AvgPool2d)]
    assert all(m.kernel_size == 2 and m.padding == 0 and not m.ceil_mode for m in pools)
    convts = [m for m in nn2_full.decoder if isinstance(m, nn.ConvTranspose2d)]
    assert [(m.kernel_size[0], m.stride[0], m.padding[0]) for m in convts] == [
        (3, 2, 0), (3, 2, 0), (3, 2, 1), (3, 2, 1), (3, 2, 0), (4, 2, 2),
    ]  # fmt: skip


def test_activation_and_batchnorm_settings():
    net = Surrogate.from_table2(9, width=1 / 8)
    leaky = [m for m in net.modules() if isinstance(m, nn.LeakyReLU)]
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert leaky and all(m.negative_slope == 0.01 for m in leaky)
    assert norms and all(m.momentum == 0.1 and m.eps == 1e-5 for m in norms)


# --- initialisation (Flux: Glorot-uniform, zero bias) ---------------------------------------


def test_all_biases_zero(nn2_full):
    convs = [m for m in nn2_full.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    convs += [m for m in NN1(0.3, 0.3).modules() if isinstance(m, nn.Conv2d)]
    assert all(torch.count_nonzero(m.bias) == 0 for m in convs)


@pytest.mark.parametrize(("kind", "c_in", "c_out"),
                         [(nn.Conv2d, 512, 1024), (nn.ConvTranspose2d, 1024, 512)])
def test_glorot_uniform_weights(nn2_full, kind, c_in, c_out):
    (layer,) = [m for m in nn2_full.modules()
                if isinstance(m, kind) and (m.in_channels, m.out_channels) == (c_in, c_out)]
    fan_sum = (layer.in_channels + layer.out_channels) * 9
    bound = math.sqrt(6 / fan_sum)
    w = layer.weight.detach()
    assert w.abs().max() <= bound
    # uniform(-b, b) has std b/√3; PyTorch's default (≈ 1/√(3·fan_in)) would be ~30 % lower here.
    assert w.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.01)


# --- the weighted sum (Fig. 2) ----------------------------------------------------------------


def test_forward_is_weighted_sum_of_parts():
    torch.manual_seed(1)
    s = Surrogate(NN1(0.4, 0.4), NN2(0.1, 0.1, width=1 / 8), p1=0.3, p2=2.0).eval()
    x = image()
    with torch.no_grad():
        expected = 0.3 * s.nn1(x) + 2.0 * s.nn2(x)
        y1, y2 = s.parts(x)
        assert torch.allclose(s(x), expected)
        assert torch.allclose(0.3 * y1 + 2.0 * y2, expected)


def test_single_network_surrogates():
    x = image()
    only1 = Surrogate(NN1(0.3, 0.3), None, p1=1, p2=0).eval()
    with torch.no_grad():
        y1, y2 = only1.parts(x)
        assert y2 is None and torch.equal(only1(x), y1)
    only2 = Surrogate(None, NN2(0.1, 0.1, width=1 / 8), p1=0, p2=1).eval()
    with torch.no_grad():
        y1, y2 = only2.parts(x)
        assert y1 is None and torch.equal(only2(x), y2)


def test_config_records_what_was_built():
    assert Surrogate.from_table2(9, width=1 / 8, head="relu").config == {
        "model": 9, "p1": 1.0, "p2": 1.0, "D1": 0.4, "D2": 0.4, "D3": 0.1, "D4": 0.1,
        "width": 0.125, "head": "relu", "nn1_head": "table1",
    }  # fmt: skip
    c6 = Surrogate.from_table2(6, nn1_head="relu").config
    assert ((c6["model"], c6["D3"], c6["width"], c6["head"], c6["nn1_head"])
            == (6, None, None, None, "relu"))
    assert Surrogate.from_table2(12).config["nn1_head"] is None


def test_saved_configs_without_nn1_head_read_as_table1():
    for model in (6, 9, 12):
        config = Surrogate.from_table2(model).config
        old = {k: v for k, v in config.items() if k != "nn1_head"}
        assert saved_config(old) == config
        assert saved_config(config) == config
    relu = Surrogate.from_table2(9, nn1_head="relu").config
    assert saved_config({k: v for k, v in relu.items() if k != "nn1_head"}) != relu


# --- bad input ----------------------------------------------------------------------------------


def test_surrogate_network_and_p_must_agree():
    with pytest.raises(ValueError, match="at least one"):
        Surrogate(None, None, p1=0, p2=0)
    with pytest.raises(ValueError, match="NN1 must be None exactly when its p is 0"):
        Surrogate(NN1(0.3, 0.3), None, p1=0, p2=0)
    with pytest.raises(ValueError, match="NN2 must be None exactly when its p is 0"):
        Surrogate(NN1(0.3, 0.3), None, p1=1, p2=1)


@pytest.mark.parametrize(
    "x",
    [torch.rand(1, 100, 100), torch.rand(1, 2, 100, 100), torch.rand(1, 1, 1, 100, 100),
     torch.ones(1, 1, 100, 100, dtype=torch.int64)],
)
def test_bad_input_shape_or_dtype(small, x):
    with pytest.raises(ValueError, match=r"\(B, 1, N, N\)"):
        small(x)


def test_nn2_needs_100_by_100(small):
    with pytest.raises(ValueError, match="100×100"):
        small.nn2(image(n=64))


def test_bad_head_width_and_dropout():
    with pytest.raises(ValueError, match="table1.*relu"):
        NN2(0.1, 0.1, head="batchnorm")
    with pytest.raises(ValueError, match="NN1 head must be one of.*d2-first"):
        NN1(0.3, 0.3, head="batchnorm")
    for width in (0, -0.5, float("inf"), True):
        with pytest.raises(ValueError, match="width"):
            NN2(0.1, 0.1, width=width)
    for p in (1.0, -0.1, None, True):
        with pytest.raises(ValueError, match=r"D1 must be a dropout rate in \[0, 1\)"):
            NN1(p, 0.3)
    with pytest.raises(ValueError, match="1–14"):
        Surrogate.from_table2(0)


# --- dead-head monitor ----------------------------------------------------------------------------


def test_alive_fraction_in_unit_interval_and_side_effect_free(small):
    small.train()
    before = {k: v.clone() for k, v in small.state_dict().items()}
    frac = alive_fraction(small, image())
    assert set(frac) == {"nn1", "nn2"}
    assert all(0.0 < f < 1.0 for f in frac.values())
    assert small.training
    assert all(torch.equal(before[k], v) for k, v in small.state_dict().items())


def test_alive_fraction_zero_for_dead_heads(small):
    with torch.no_grad():
        small.nn2.last_conv.bias.fill_(-1e6)
        small.nn1.last_conv.bias.fill_(-1e6)
    assert alive_fraction(small, image()) == {"nn1": 0.0, "nn2": 0.0}


# --- the faster CPU paths (set_fast_paths): the same maths as the plain torch layers ------------


def _step(model, x, seed=5):
    """Output and parameter gradients of one training-mode pass (dropout seeded)."""
    model.train()
    torch.manual_seed(seed)
    y = model(x)
    y.square().mean().backward()
    return y.detach(), [p.grad.detach().clone() for p in model.parameters()]


def _err(a, b):
    """Largest difference relative to the largest |b|."""
    return ((a.double() - b.double()).abs().max() / b.double().abs().max()).item()


@pytest.mark.parametrize("head", ["table1", "d2-first"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_fast_paths_give_the_plain_layers_outputs_and_gradients(head, channels_last):
    """Model 9 (NN1 + NN2): the fast paths and the plain layers, and both against float64.

    On NCHW tensors the two agree to float rounding. On channels_last tensors torch's
    BatchNorm kernel is itself less accurate for small channel variances (the fast path
    sends those layers to the NCHW kernel), so both are compared with a float64 run: the fast
    path is at least as close to it as the plain one. The same dropout masks in all runs."""
    import copy

    from diffsurr.nets import set_fast_paths

    torch.manual_seed(0)
    fast = Surrogate.from_table2(9, width=1 / 16, head="relu", nn1_head=head)
    if channels_last:
        fast.to(memory_format=torch.channels_last)
    plain = set_fast_paths(copy.deepcopy(fast), False)
    exact = set_fast_paths(copy.deepcopy(fast), False).double()
    x = image(batch=4)
    (yf, gf), (yp, gp), (ye, ge) = _step(fast, x), _step(plain, x), _step(exact, x.double())
    assert list(fast.state_dict()) == list(plain.state_dict())
    # gradients against their largest element anywhere (a conv bias before a BatchNorm has
    # a zero gradient in exact arithmetic: only rounding is left of it)
    gf, gp, ge = (torch.cat([g.flatten() for g in grads]) for grads in (gf, gp, ge))
    if not channels_last:
        assert _err(yf, yp) < 1e-5 and _err(gf, gp) < 1e-5
    assert _err(yf, ye) <= max(_err(yp, ye), 1e-5) and _err(gf, ge) <= max(_err(gp, ge), 1e-5)
    exact_state = exact.state_dict()
    for key, value in fast.state_dict().items():   # BatchNorm's running statistics
        if "running" in key:
            assert _err(value, exact_state[key]) < 1e-4, key


@pytest.mark.parametrize("channels_last", [False, True])
def test_dense_convolutions_are_the_same_sums(channels_last):
    """NN2's 3×3 → 1×1 conv and 1×1 → 3×3 ConvTranspose as matrix products: the same output,
    gradients and memory layout as the plain layers (float64, to rounding)."""
    from diffsurr import nets

    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    for layer, shape in ((nets.Conv2d(6, 5, 3), (3, 6, 3, 3)),
                         (nets.ConvTranspose2d(6, 5, 3, stride=2), (3, 6, 1, 1))):
        layer = layer.double().to(memory_format=fmt)
        nn.init.normal_(layer.bias)
        x = torch.randn(shape, dtype=torch.float64).contiguous(memory_format=fmt)
        outs = []
        for fast in (True, False):
            layer.fast = fast
            xi = x.clone().requires_grad_()
            y = layer(xi)
            y.backward(torch.arange(y.numel(), dtype=y.dtype).view_as(y))
            outs.append((y.detach(), xi.grad, layer.weight.grad.clone(), layer.bias.grad.clone(),
                         y.is_contiguous(memory_format=torch.channels_last), y.is_contiguous()))
            layer.zero_grad()
        for a, b in zip(*outs):
            assert a == b if isinstance(a, bool) else torch.allclose(a, b, rtol=1e-12, atol=1e-12)


def plain_bn_strides(x):
    return nn.BatchNorm2d(x.shape[1])(x).stride()


def test_narrow_batchnorm_keeps_the_layout_and_switches_off():
    """The NCHW detour of a narrow BatchNorm returns channels_last as it came (a dropout after
    it draws its mask in memory order: nn1_head "d2-first"); switched off, it is the plain layer."""
    from diffsurr import nets

    torch.manual_seed(0)
    bn = nets.BatchNorm2d(4)
    x = torch.randn(3, 4, 10, 10).contiguous(memory_format=torch.channels_last)
    assert bn(x).is_contiguous(memory_format=torch.channels_last)
    assert (bn(x.contiguous()).is_contiguous()
            and bn(x[:, :, ::2]).stride() == plain_bn_strides(x[:, :, ::2]))
    plain = nn.BatchNorm2d(4)
    plain.load_state_dict(nets.set_fast_paths(bn, False).state_dict())
    assert torch.equal(bn(x), plain(x))
    net = nets.set_fast_paths(NN1(0.1, 0.1), False)
    assert not any(m.fast for m in net.modules() if hasattr(m, "fast"))
    assert all(m.fast for m in nets.set_fast_paths(net, True).modules() if hasattr(m, "fast"))
