import pytest
import torch
from torch import nn

from dci_cnn.models import ARCHITECTURES, DCICNN, build_model, fold_batchnorm, load_grown


def test_paper_architecture_is_exact():
    net = DCICNN(channels=1)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 8
    assert all(c.kernel_size == (3, 3) and c.stride == (1, 1) and c.padding == (1, 1) for c in convs)
    assert [c.out_channels for c in convs] == [64] * 7 + [1]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == 7
    assert sum(isinstance(m, nn.ReLU) for m in net.modules()) == 7
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.Linear)) for m in net.modules())
    # the layer order: conv, BN, ReLU repeated, then the last conv
    kinds = [type(m).__name__ for m in net.body]
    assert kinds == ["Conv2d", "BatchNorm2d", "ReLU"] * 7 + ["Conv2d"]


@pytest.mark.parametrize("size", [(1, 1), (5, 7), (33, 64)])
def test_paper_net_preserves_size(size):
    x = torch.rand(2, 3, *size)
    assert DCICNN(channels=3).eval()(x).shape == x.shape


def test_residual_option_adds_input():
    net = DCICNN(channels=1, residual=True).eval()
    for p in net.parameters():
        nn.init.zeros_(p)
    x = torch.rand(1, 1, 9, 9)
    assert torch.equal(net(x), x)


def test_fold_batchnorm_keeps_outputs():
    torch.manual_seed(0)
    net = DCICNN(channels=1)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
    net.eval()
    x = torch.rand(1, 1, 20, 20)
    expected = net(x)
    folded = fold_batchnorm(net)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    torch.testing.assert_close(folded(x), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    ("arch", "arguments"),
    [("dcicnn", {}), ("dcicnn", {"depth": 5}), ("dciunet", {}), ("dciunet", {"blocks": (1, 2, 4)}), ("dciunet", {"blocks": (2, 1, 1)})],
)
def test_declared_halo_covers_receptive_field_at_every_phase(arch, arguments):
    spec = ARCHITECTURES[arch]
    halo = spec.halo(**arguments)
    torch.manual_seed(0)
    net = build_model(arch, channels=1, **arguments)
    for p in net.parameters():
        nn.init.uniform_(p, 0.01, 0.1)
    net.eval()
    size = 4 * halo
    reach = 0
    for phase in range(spec.size_multiple):
        x = torch.rand(1, 1, size, size, requires_grad=True)
        c = size // 2 + phase
        net(x)[0, 0, c, c].backward()
        rows = (x.grad[0, 0].abs().sum(1) > 0).nonzero()
        reach = max(reach, c - int(rows.min()), int(rows.max()) - c)
    assert reach <= halo
    assert halo - reach < 2 * spec.size_multiple  # tight enough not to waste tile area


def test_grown_model_computes_what_the_smaller_one_did():
    torch.manual_seed(0)
    small = build_model("dciunet", channels=1)
    for p in small.parameters():
        nn.init.uniform_(p, -0.05, 0.05)
    big = load_grown(build_model("dciunet", channels=1, blocks=(2, 2, 3)), small.state_dict())
    x = torch.rand(1, 1, 32, 32)
    torch.testing.assert_close(big.eval()(x), small.eval()(x))
    assert any((p != 0).any() for n, p in big.named_parameters() if n.startswith("mid.2.conv1"))


def test_widened_model_computes_what_the_narrow_one_did_and_learns_its_new_channels():
    torch.manual_seed(0)
    narrow = build_model("dciunet", channels=3, widths=(16, 32, 64), blocks=(1, 1, 2))
    for p in narrow.parameters():
        nn.init.uniform_(p, -0.1, 0.1)
    wide = load_grown(build_model("dciunet", channels=3, widths=(24, 48, 96), blocks=(2, 1, 3)), narrow.state_dict())
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(wide.eval()(x), narrow.eval()(x))
    torch.testing.assert_close(wide.head.weight[:16], narrow.head.weight)
    wide.train()
    (wide(x) - x.flip(-1)).pow(2).mean().backward()
    assert (wide.head.weight.grad[16:] != 0).any()  # new feature channels: zero, but not stuck
    assert (wide.enc1[0].conv2.weight.grad[:, 32:] != 0).any()  # new hidden channels start to be read
    assert (wide.up1.weight.grad[:, 32:] != 0).any()  # ConvTranspose2d: outputs on dim 1


def test_loading_same_shapes_keeps_every_parameter_and_buffer():
    torch.manual_seed(0)
    trained = build_model("dcicnn", channels=1, width=8)
    for name, t in trained.state_dict().items():
        if t.is_floating_point():
            t.uniform_(0.5, 1.0) if "running_var" in name else t.uniform_(-0.1, 0.1)
    loaded = load_grown(build_model("dcicnn", channels=1, width=8), trained.state_dict())
    x = torch.rand(1, 1, 16, 16)
    torch.testing.assert_close(loaded.eval()(x), trained.eval()(x))


def test_growing_refuses_weights_that_do_not_fit():
    with pytest.raises(ValueError, match="shape"):
        load_grown(build_model("dciunet", channels=1, widths=(16, 32, 64)), build_model("dciunet", channels=1).state_dict())
    with pytest.raises(ValueError, match="shape"):
        load_grown(build_model("dcicnn", channels=1, width=64), build_model("dcicnn", channels=1, width=32).state_dict())
    with pytest.raises(ValueError, match="the model lacks"):
        load_grown(build_model("dciunet", channels=1), build_model("dciunet", channels=1, blocks=(1, 1, 3)).state_dict())
    with pytest.raises(ValueError, match="not whole residual blocks"):
        state = build_model("dciunet", channels=1).state_dict()
        del state["head.weight"]
        load_grown(build_model("dciunet", channels=1), state)


def test_unknown_architecture():
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model("resnet")


def test_flops_per_pixel_of_paper_net():
    # 7 hidden convs of 64x64 channels plus first (1->64) and last (64->1), 3x3, 2 FLOP per MAC
    expected = 2 * 9 * (1 * 64 + 6 * 64 * 64 + 64 * 1)
    assert ARCHITECTURES["dcicnn"].flops_per_pixel(channels=1) == expected
