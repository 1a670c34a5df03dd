"""Colour preservation: YIQ round trip, luminance matching, colour-statistics transfer."""
import torch

from nsthelpers import combine_luminance, luminance, match_color_histogram, match_luminance, rgb_to_yiq, yiq_to_rgb


def _img(seed, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(1, 3, 24, 20, generator=g) * 0.6 + shift).clamp(0, 1)


def test_yiq_round_trip_and_luminance_of_grey():
    x = _img(0)
    assert torch.allclose(yiq_to_rgb(rgb_to_yiq(x)), x, atol=1e-5)
    grey = torch.full((1, 3, 4, 4), 0.4)
    yiq = rgb_to_yiq(grey)
    assert torch.allclose(yiq[:, 0], torch.full((1, 4, 4), 0.4), atol=1e-6)
    assert yiq[:, 1:].abs().max() < 1e-6  # no chrominance in grey
    lum = luminance(x)
    assert lum.shape == x.shape and torch.equal(lum[:, 0], lum[:, 2])


def test_match_luminance_takes_content_mean_and_std():
    style, content = _img(1, 0.3), _img(2)
    matched = match_luminance(style, content)[:, :1]
    yc = rgb_to_yiq(content)[:, :1]
    assert abs(matched.mean() - yc.mean()) < 1e-3
    assert abs(matched.std() - yc.std()) < 1e-3


def test_combine_luminance_keeps_content_colour_and_stylized_brightness():
    stylized, content = _img(3), _img(4, 0.2)
    out = combine_luminance(stylized, content)
    y_out, y_sty = rgb_to_yiq(out)[:, 0], rgb_to_yiq(stylized)[:, 0]
    iq_out, iq_con = rgb_to_yiq(out)[:, 1:], rgb_to_yiq(content)[:, 1:]
    inside = (out > 0.001).all(1) & (out < 0.999).all(1)  # where nothing was clipped
    assert torch.allclose(y_out[inside], y_sty[inside], atol=1e-4)
    assert torch.allclose(iq_out[0][:, inside[0]], iq_con[0][:, inside[0]], atol=1e-4)


def test_histogram_matching_transfers_mean_and_covariance():
    g = torch.Generator().manual_seed(5)
    style = (torch.rand(1, 3, 40, 40, generator=g) * 0.3 + torch.tensor([0.6, 0.2, 0.1]).view(1, 3, 1, 1))
    content = torch.rand(1, 3, 40, 40, generator=g) * 0.4 + torch.tensor([0.1, 0.3, 0.5]).view(1, 3, 1, 1)
    out = match_color_histogram(style, content)

    def stats(x):
        f = x[0].reshape(3, -1).double()
        return f.mean(1), torch.cov(f, correction=0)

    (m_out, c_out), (m_con, c_con) = stats(out), stats(content)
    assert torch.allclose(m_out, m_con, atol=2e-3)
    assert torch.allclose(c_out, c_con, atol=2e-3)
    # it is still the style's pattern: strongly correlated with the original style luminance
    corr = torch.corrcoef(torch.stack([rgb_to_yiq(out)[0, 0].flatten(), rgb_to_yiq(style)[0, 0].flatten()]))[0, 1]
    assert corr > 0.5
